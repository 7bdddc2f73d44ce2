"""The rule engine: rule specs (``spec``), detectors, evaluation and the episode pass.

The names below are imported on first use, so that a light submodule (``stats``: numpy
helpers the gate shares) does not pull in the rule loader and every detector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        spec = importlib.import_module("trainlens.engine.spec")  # registers every detector
        registry = importlib.import_module("trainlens.engine.registry")
        return getattr(spec if hasattr(spec, name) else registry, name)
    raise AttributeError(f"module 'trainlens.engine' has no attribute {name!r}")
