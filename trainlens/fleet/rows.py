"""The two tables a fleet scan writes: one row per run, one row per finding (plain dataclasses,
cheap to send between processes; their columns and types are declared once, here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class RunStatus(str, Enum):
    """What became of one run: analysed, read but holding no metric, or failed to read."""

    OK = "ok"
    NO_METRICS = "no_metrics"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RunRow:
    """One run of the ``runs`` table. ``warnings`` is JSON text (``[{source, message}]``)."""

    name: str
    path: str
    format: str
    framework: str | None
    first_step: int | None
    last_step: int | None
    steps: int  # distinct steps logged
    metrics: int  # distinct metric keys
    points: int  # scalars in the run's table
    last_write: datetime | None  # newest modification time of the run's files (UTC)
    status: str
    error: str | None
    errors: int  # findings by severity
    warnings_found: int
    infos: int
    read_warnings: int
    warnings: str


@dataclass(frozen=True)
class FindingRow:
    """One finding of the ``findings`` table; ``evidence``, ``params`` and ``members`` are JSON
    text, the title and message are rendered in English and Chinese."""

    run: str
    path: str
    rule: str
    severity: str
    metric: str
    key: str
    start_step: int
    end_step: int
    peak_step: int | None
    peak_value: float | None
    baseline: float | None
    best_step: int | None
    recommended_checkpoint: str | None
    source_line: str | None
    title_en: str
    title_zh: str
    message_en: str
    message_zh: str
    evidence: str
    params: str
    members: str


#: Column types by table, in the logical types of Arrow/Parquet/DuckDB.
COLUMN_TYPES: dict[str, dict[str, str]] = {
    "runs": {
        "name": "string",
        "path": "string",
        "format": "string",
        "framework": "string",
        "first_step": "int64",
        "last_step": "int64",
        "steps": "int64",
        "metrics": "int64",
        "points": "int64",
        "last_write": "timestamp",
        "status": "string",
        "error": "string",
        "errors": "int64",
        "warnings_found": "int64",
        "infos": "int64",
        "read_warnings": "int64",
        "warnings": "string",
    },
    "findings": {
        "run": "string",
        "path": "string",
        "rule": "string",
        "severity": "string",
        "metric": "string",
        "key": "string",
        "start_step": "int64",
        "end_step": "int64",
        "peak_step": "int64",
        "peak_value": "float64",
        "baseline": "float64",
        "best_step": "int64",
        "recommended_checkpoint": "string",
        "source_line": "string",
        "title_en": "string",
        "title_zh": "string",
        "message_en": "string",
        "message_zh": "string",
        "evidence": "string",
        "params": "string",
        "members": "string",
    },
}

ROW_TYPES: dict[str, type[Any]] = {"runs": RunRow, "findings": FindingRow}


def columns(table: str, rows: list[Any]) -> dict[str, list[Any]]:
    """The rows of ``table`` as columns (name → values), in the declared column order."""
    names = list(COLUMN_TYPES[table])
    return {name: [getattr(r, name) for r in rows] for name in names}
