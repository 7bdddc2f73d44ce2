"""The result types of ``compare_runs``: frozen dataclasses that the renderers read.

Nothing here formats text: every explanation is a :class:`Note` (a code plus parameters) that the
renderers phrase in English or Chinese.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlens.checkpoints import Degradation, smooth


@dataclass(frozen=True)
class Note:
    """One explanation, phrased at render time: ``code`` names the message, ``params`` fill it."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True)
class RecommendedCheckpoint:
    """The checkpoint to keep: a saved folder (``source="checkpoint"``) or, when none qualifies,
    the best step itself (``source="best_step"``, ``path`` None)."""

    step: int
    path: str | None  # relative to the run directory
    source: str  # "checkpoint" | "best_step"
    value: float | None  # the score logged at (or last before) that step
    value_step: int | None
    reason: Note


@dataclass(frozen=True)
class Trend:
    """How one explanatory metric moved: medians of the first / last few points (2.5% of them,
    1 to 5) and of as many points at the best step of the score (``at_best``)."""

    metric: str
    key: str
    points: int
    first: float | None
    last: float | None
    minimum: float | None
    maximum: float | None
    at_best: float | None

    @property
    def change(self) -> float | None:
        """Relative change first → last (None when undefined)."""
        return _rel(self.first, self.last)

    @property
    def change_after_best(self) -> float | None:
        """Relative change from the best step of the score to the end."""
        return _rel(self.at_best, self.last)


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or abs(a) < 1e-12:
        return None
    return (b - a) / abs(a)


@dataclass(frozen=True)
class RunComparison:
    """One run's row of the comparison."""

    name: str
    status: str  # "ok" | "missing" (no such metric) | "empty" (no finite value)
    metric: str | None  # the name compared on (canonical when it has one)
    key: str | None  # the raw key read for it in this run
    higher_is_better: bool
    window: int  # rolling-median window used before finding best and onset (1 = none)
    points: int
    first_step: int | None
    last_step: int | None
    degradation: Degradation | None
    recommended: RecommendedCheckpoint | None
    checkpoints: tuple[int, ...]
    trends: tuple[Trend, ...]
    notes: tuple[Note, ...]
    other_keys: tuple[str, ...] = ()
    steps: np.ndarray = field(default_factory=lambda: np.empty(0), compare=False, repr=False)
    values: np.ndarray = field(default_factory=lambda: np.empty(0), compare=False, repr=False)

    @property
    def drop_from_best(self) -> float | None:
        """Worsening from the best to the final value (positive = worse), as a share of
        ``|best|`` or of the series' range (``drop_basis``)."""
        d = self.degradation
        return None if d is None else d.drop_from_best

    @property
    def drop_basis(self) -> str | None:
        """What ``drop_from_best`` is a share of: "best" (``|best|``) or "range"."""
        d = self.degradation
        return None if d is None else d.scale_basis

    @property
    def best_fraction(self) -> float | None:
        """Where the best lies within the score's step range (0 = first point, 1 = last)."""
        d = self.degradation
        if d is None or self.first_step is None or self.last_step is None:
            return None
        span = self.last_step - self.first_step
        return (d.best_step - self.first_step) / span if span > 0 else 1.0

    @property
    def smoothed_values(self) -> np.ndarray:
        """The series the best and onset were found on (the raw values when ``window`` is 1)."""
        return smooth(self.values, self.window)


@dataclass(frozen=True)
class ConfigDiff:
    """Run-config keys that differ among the runs that have a config: the known concepts (the
    model always) and the keys every config sets to different values (``keys``); then the keys
    only some configs set (``partial``, most relevant first)."""

    keys: tuple[str, ...]
    values: dict[str, dict[str, Any]]  # run name -> key -> value (None when absent)
    with_config: tuple[str, ...]
    without_config: tuple[str, ...]
    partial: tuple[str, ...] = ()  # set in some configs only; their values are in ``values``

    def for_run(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))


@dataclass(frozen=True)
class Comparison:
    """Everything ``trainlens compare`` reports."""

    metric: str | None
    higher_is_better: bool
    drop: float
    rows: tuple[RunComparison, ...]
    config: ConfigDiff
    notes: tuple[Note, ...]
    steps_comparable: bool

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]
