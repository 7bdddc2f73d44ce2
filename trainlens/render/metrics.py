"""Output of ``trainlens metrics``: the JSON document and the terminal tables."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlens.findings import json_safe
from trainlens.load import LoadResult
from trainlens.run import Run


def metric_rows(run: Run) -> list[dict[str, Any]]:
    """Per raw key: canonical name, number of points, step range and last value."""
    rows = []
    for key in run.keys:
        arrays = run.arrays(key)
        assert arrays is not None
        steps, values = arrays
        rows.append(
            {
                "key": key,
                "canonical": run.canonical(key),
                "count": int(len(steps)),
                "first_step": int(steps[0]),
                "last_step": int(steps[-1]),
                "last_value": json_safe(float(values[-1])),
            }
        )
    return rows


def metrics_document(result: LoadResult) -> dict[str, Any]:
    """The ``--format json`` document of ``trainlens metrics``."""
    return {
        "runs": [
            {
                "name": run.name,
                "path": str(run.path),
                "format": run.format,
                "framework": run.meta.framework,
                "first_step": run.first_step,
                "last_step": run.last_step,
                "metrics": metric_rows(run),
                "meta": run.meta.to_dict(),
            }
            for run in result.runs
        ],
        "warnings": [w.to_dict() for w in result.warnings],
    }


def render_json(result: LoadResult) -> str:
    return json.dumps(metrics_document(result), indent=2, ensure_ascii=False)


def render_terminal(result: LoadResult, console: Console) -> None:
    """One table per run; plain columns when stdout is not a terminal."""
    for run in result.runs:
        header = (
            f"{run.name}  ({run.format}, framework {run.meta.framework or 'unknown'}, "
            f"steps {run.first_step}–{run.last_step}, {len(run.table):,} points)"
        )
        for r in run.meta.restarts:
            header += (
                f"\n  restarted at step {r.step} (had reached {r.previous_step}; "
                f"{r.overwritten} logged steps re-logged) in {r.source}"
            )
        console.print(header, style="bold" if console.is_terminal else None, soft_wrap=True)
        table = Table(box=None, show_edge=False, pad_edge=False)
        for col, justify in (
            ("key", "left"),
            ("canonical", "left"),
            ("points", "right"),
            ("first", "right"),
            ("last", "right"),
            ("last value", "right"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for row in metric_rows(run):
            table.add_row(
                row["key"],
                row["canonical"] or "-",
                str(row["count"]),
                str(row["first_step"]),
                str(row["last_step"]),
                _fmt(row["last_value"]),
            )
        console.print(table)
        console.print()


def _fmt(x: float | str) -> str:
    return x if isinstance(x, str) else f"{x:.6g}"
