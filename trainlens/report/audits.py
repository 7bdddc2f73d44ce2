"""The audit tables of a run's postmortem: one per audited file (completions, predictions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlens.report.fmt import display_path

#: Rows of the table: (strings.yaml ``audit.<key>`` label, summary key).
ROWS = (
    ("n", "n"),
    ("unclosed_rate", "unclosed_rate"),
    ("unparseable_rate", "unparseable_rate"),
    ("empty_rate", "empty_rate"),
    ("degenerate_rate", "degenerate_rate"),
    ("repetition_rate", "repetition_rate"),
    ("strict_accuracy", "strict_accuracy"),
    ("diagnostic_accuracy", "diagnostic_accuracy"),
    ("limit_hit_rate", "limit_hit_rate"),
)


@dataclass(frozen=True)
class AuditView:
    """One audited file: where, how it was read, its rates and its length distributions."""

    file: str
    how: str
    rows: list[tuple[str, str]]  # (label key, formatted value)
    lengths: list[tuple[str, dict[str, Any]]]
    steps: int  # logged steps its rates cover (0: one evaluation)


def audit_views(analysis: Any, run: str, base: Path | None) -> list[AuditView]:
    """The views of ``run``'s audits (``analysis.audits``)."""
    out = []
    for item in getattr(analysis, "audits", []):
        if item.run != run:
            continue
        audit = item.audit
        summary = audit.summary()
        rows = []
        for label, key in ROWS:
            value = summary.get(key)
            if value is None:
                continue
            rows.append((label, str(value) if key == "n" else f"{100 * value:.2f}%"))
        for tag, share in summary["tag_compliance"].items():
            rows.append((f"tag:{tag}", "—" if share is None else f"{100 * share:.2f}%"))
        lengths = [(k, v) for k, v in summary["lengths"].items() if v]
        info = audit.files[0]
        out.append(
            AuditView(
                display_path(item.file, base),
                f"{info.keys}; {info.format}",
                rows,
                lengths,
                len(audit.steps),
            )
        )
    return out
