"""Output of ``trainlens metrics``: the JSON document and the terminal tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from trainlens.findings import json_safe
from trainlens.load import LoadResult
from trainlens.run import Run


def metric_rows(run: Run) -> list[dict[str, Any]]:
    """Per raw key: canonical name, number of points, step range, last value, the file it was
    read from, and whether the console rounded it (printed with few decimals)."""
    rows = []
    sources = _key_sources(run)
    zeros = run.meta.rounded.get("zeros", {})
    for key in run.keys:
        arrays = run.arrays(key)
        assert arrays is not None
        steps, values = arrays
        row: dict[str, Any] = {
            "key": key,
            "canonical": run.canonical(key),
            "count": int(len(steps)),
            "first_step": int(steps[0]),
            "last_step": int(steps[-1]),
            "last_value": json_safe(float(values[-1])),
            "source": sources.get(key),
        }
        if run.meta.rounded:
            row["rounded"] = {
                "decimals": run.meta.rounded.get("decimals"),
                "zeros": int(zeros.get(key, 0)),
            }
        rows.append(row)
    return rows


def _key_sources(run: Run) -> dict[str, str]:
    """The file each key's points came from (the last one when several fed it)."""
    table = run.columns
    if not len(table) or table.sources is None or table.source_codes is None:
        return {}
    given = table.source_codes
    # a key's last row with a source: the last one at or before the end of its rows
    last_given = np.maximum.accumulate(np.where(given >= 0, np.arange(len(given)), -1))
    out = {}
    for key in run.keys:
        start, end = run.rows(key) or (0, 0)
        if end > start and (at := int(last_given[end - 1])) >= start:
            out[key] = Path(str(table.sources[int(given[at])])).name
    return out


def notes(run: Run) -> list[str]:
    """What a user must know to trust the numbers: how steps were found, rounded values."""
    out = []
    basis = run.meta.step_basis or {}
    method = basis.get("method")
    if method == "interval":
        out.append(
            f"steps inferred: the log prints no step; logging every {basis['interval']} steps "
            "(from the progress bar and the number of metric lines)"
        )
    elif method == "tqdm":
        out.append("steps from the progress bar printed with each metric line")
    elif method == "epoch":
        out.append("steps inferred from epoch × steps per epoch (the log prints no step)")
    elif method == "position":
        out.append("steps are positions (1, 2, 3, ...): the log prints no step or progress bar")
    elif method == "wandb_step":
        out.append("steps are W&B's _step (the export's Step column), not the trainer's step")
    rounded = run.meta.rounded
    if rounded:
        unknown = rounded.get("unknown") or []
        text = f"values printed with {rounded.get('decimals')} decimals: 0.000 means below 0.0005"
        if unknown:
            text += f"; not read (0.000 on every step): {', '.join(unknown)}"
        out.append(text)
    if run.meta.logs and not len(run.columns):
        out.append("no metrics: the log is read for the failures it printed")
    return out


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
                "notes": notes(run),
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
        steps = (
            f"steps {run.first_step}–{run.last_step}" if run.first_step is not None else "no steps"
        )
        header = (
            f"{run.name}  ({run.format}, framework {run.meta.framework or 'unknown'}, "
            f"{steps}, {len(run.columns):,} points)"
        )
        for note in notes(run):
            header += f"\n  note: {note}"
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
            ("source", "left"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for row in metric_rows(run):
            table.add_row(
                row["key"],
                row["canonical"] or "-",
                str(row["count"]),
                str(row["first_step"]),
                str(row["last_step"]),
                _fmt(row["last_value"]) + ("*" if row.get("rounded", {}).get("zeros") else ""),
                row["source"] or "-",
            )
        console.print(table)
        console.print()


def _fmt(x: float | str) -> str:
    return x if isinstance(x, str) else f"{x:.6g}"
