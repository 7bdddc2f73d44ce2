"""The rule engine: rule specs (``spec``), detectors, evaluation and the episode pass."""

from trainlens.engine.registry import DETECTORS, NotApplicable, Trace, Window
from trainlens.engine.spec import RuleSet, RuleSpec, load_rules, render_message

__all__ = [
    "DETECTORS",
    "NotApplicable",
    "RuleSet",
    "RuleSpec",
    "Trace",
    "Window",
    "load_rules",
    "render_message",
]
