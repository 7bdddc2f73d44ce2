"""Compare several runs on one score metric and pick the checkpoint to keep in each.

``compare_runs(runs)`` → :class:`Comparison`: per run the best value and step of the score metric,
the degradation onset (first sustained drop beyond ``drop`` below the best), the final value, the
recommended checkpoint, the trends that explain the difference (entropy, response length, grad
norm, KL, throughput, MFU) and the run-config keys that differ. Nothing here formats text: every
explanation is a :class:`Note` (a code plus parameters) that the renderers
(:mod:`trainlens.render.compare`) phrase in English or Chinese.

Modules: ``model`` (the result types), ``selection`` (which metric, which direction), ``scoring``
(one run's row), ``recommend`` (the checkpoint to keep), ``trends``, ``configdiff``, ``names``
(unique run names) and ``core`` (``compare_runs``, which ties them together).
"""

from __future__ import annotations

from trainlens.compare.configdiff import CONFIG_CONCEPTS, config_differences, flatten_config
from trainlens.compare.core import STEP_SCALE_RATIO, compare_runs
from trainlens.compare.model import (
    Comparison,
    ConfigDiff,
    Note,
    RecommendedCheckpoint,
    RunComparison,
    Trend,
)
from trainlens.compare.names import unique_names
from trainlens.compare.scoring import CHANGE_THRESHOLD
from trainlens.compare.selection import SCORE_CANDIDATES, SCORE_ORDER, Candidate, is_accuracy
from trainlens.compare.trends import TREND_METRICS

__all__ = [
    "CHANGE_THRESHOLD",
    "CONFIG_CONCEPTS",
    "SCORE_CANDIDATES",
    "SCORE_ORDER",
    "STEP_SCALE_RATIO",
    "TREND_METRICS",
    "Candidate",
    "Comparison",
    "ConfigDiff",
    "Note",
    "RecommendedCheckpoint",
    "RunComparison",
    "Trend",
    "compare_runs",
    "config_differences",
    "flatten_config",
    "is_accuracy",
    "unique_names",
]
