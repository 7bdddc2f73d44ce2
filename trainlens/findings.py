"""Findings: what rules report. Frozen dataclasses with a stable JSON form (``schema_version``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SCHEMA_VERSION = 1


class Severity(str, Enum):
    """How bad a finding is; ordered info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class EvidenceRow:
    """One row of a finding's key-data table: the value at a step and its change vs the
    metric's previous logged point. ``metric`` is set when rows of one table come from several
    metrics (instability episodes)."""

    step: int
    value: float
    change: float | None = None
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "value": _num(self.value),
            "change": _num(self.change),
        }
        if self.metric is not None:
            out["metric"] = self.metric
        return out


@dataclass(frozen=True)
class Finding:
    """One anomaly in one run. ``params`` holds the numbers its message template refers to, so the
    message is formatted at render time in either language (see ``trainlens.engine``)."""

    rule: str
    severity: Severity
    run: str
    metric: str
    key: str
    start_step: int
    end_step: int
    peak_step: int | None = None
    peak_value: float | None = None
    baseline: float | None = None
    evidence: tuple[EvidenceRow, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()  # for episodes: "rule@metric" of the grouped findings
    best_step: int | None = None
    best_value: float | None = None
    recommended_checkpoint: str | None = None

    @property
    def source_line(self) -> str | None:
        """``file:line`` of a finding about what a log printed (log patterns), else None."""
        name, line = self.params.get("file_name"), self.params.get("first_line")
        if not name:
            return None
        return f"{name}:{line}" if line is not None else str(name)

    def to_dict(self, message: str) -> dict[str, Any]:
        """The JSON form (schema_version 1) with ``message`` already rendered."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "run": self.run,
            "metric": self.metric,
            "key": self.key,
            "start_step": self.start_step,
            "end_step": self.end_step,
            "peak_step": self.peak_step,
            "peak_value": _num(self.peak_value),
            "baseline": _num(self.baseline),
            "message": message,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.members:
            out["members"] = list(self.members)
        if self.best_step is not None:
            out["best_step"] = self.best_step
            out["best_value"] = _num(self.best_value)
        if self.recommended_checkpoint is not None:
            out["recommended_checkpoint"] = self.recommended_checkpoint
        if self.source_line is not None:  # what a log printed: where, how often, an excerpt
            for name in LOG_FIELDS:
                out[name] = json_safe(self.params.get(name))
        return out


#: Keys a finding about a log's text carries at the top level of its JSON form.
LOG_FIELDS = ("file", "count", "first_line", "lines", "excerpt")


@dataclass(frozen=True)
class Skipped:
    """A rule that did not run on a run, and why (usually: the metric is absent). ``reason`` is
    English; ``code`` and ``params`` let renderers say it in another language."""

    rule: str
    run: str
    reason: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "run": self.run, "reason": self.reason}
        if self.code:
            out["code"] = self.code
        return out


def _num(x: float | None) -> float | str | None:
    """JSON has no NaN/Infinity: encode them as strings, keep finite floats as floats."""
    return None if x is None else json_safe(float(x))


def json_safe(value: Any) -> Any:
    """A JSON-ready copy: NaN/±Inf become ``"NaN"``/``"Infinity"``/``"-Infinity"``, tuples lists,
    mapping keys strings, numpy scalars Python numbers, other objects their ``str``."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float) or hasattr(value, "dtype"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return int(x) if hasattr(value, "dtype") and value.dtype.kind in "iu" else x
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)
