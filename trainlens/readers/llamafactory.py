"""LLaMA-Factory ``trainer_log.jsonl``.

Source: ``src/llamafactory/train/callbacks.py`` ``LogCallback.on_log`` writes
``json.dumps(logs)`` per line (main process, append mode) with ``current_steps``,
``total_steps``, ``loss``, ``eval_loss``, ``predict_loss``, ``reward``, ``accuracy`` (from
``rewards/accuracies``), ``lr``, ``epoch``, ``percentage``, ``elapsed_time``, ``remaining_time``
(``str(timedelta)``: ``"0:00:32"``, ``"3 days, 17:51:32"``) and optionally ``throughput``,
``total_tokens``, ``vram_*``. Current versions drop ``None`` values; the 2023 format keeps them
and names the rate ``learning_rate``. Prediction writes progress-only rows every 5 steps.
``elapsed_time`` becomes the wall time (seconds since the start); progress fields are not
metrics.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step
from trainlens.readers._frame import ReadResult, Table
from trainlens.readers._jsonl import read_json_lines
from trainlens.readers._rows import rows_to_frame

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

#: LogCallback's own names for HF keys: ``accuracy`` is ``rewards/accuracies`` (callbacks.py
#: ``accuracy=logs.get("rewards/accuracies")``), ``lr`` the learning rate (mapped by alias).
RENAMES = {"accuracy": "rewards/accuracies"}
#: Fields that describe progress, not the model.
PROGRESS_FIELDS = ("current_steps", "total_steps", "percentage", "elapsed_time", "remaining_time")
_TIMEDELTA = re.compile(r"^\s*(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$")


def parse_timedelta(text: Any) -> float | None:
    """``str(timedelta)`` → seconds: ``"0:00:32"`` → 32, ``"3 days, 17:51:32"`` → 323492."""
    if not isinstance(text, str):
        return None
    m = _TIMEDELTA.match(text)
    if not m:
        return None
    days, hours, minutes, seconds = m.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def looks_like_llamafactory_line(obj: Any) -> bool:
    """True for a ``trainer_log.jsonl`` record."""
    return isinstance(obj, dict) and "current_steps" in obj and "total_steps" in obj


def read_llamafactory(
    path: Path, offset: int = 0, *, final: bool = True, first_line: int = 1
) -> ReadResult:
    """Read every metric of each line at its ``current_steps``."""
    lines = read_json_lines(path, offset, final=final, first_line=first_line)
    warnings: list[ReadWarning] = []
    literal_nan = set(lines.nan_rows)
    rows: list[dict[str, Any]] = []
    steps: list[int] = []
    walls: list[float] = []
    nan_rows: list[int] = []
    meta: dict[str, Any] = {}
    total: int | None = None
    for i, (obj, line_no) in enumerate(zip(lines.objects, lines.line_numbers)):
        step = as_step(obj.get("current_steps"))
        if step is None:
            warnings.append(
                ReadWarning(str(path), f"line {line_no}: no readable current_steps; skipped")
            )
            continue
        t = obj.get("total_steps")
        if as_step(t):
            total = as_step(t)
        if i in literal_nan:
            nan_rows.append(len(rows))
        if any(k in obj for k in RENAMES):
            obj = {RENAMES.get(k, k): v for k, v in obj.items()}
        rows.append(obj)
        steps.append(step)
        elapsed = parse_timedelta(obj.get("elapsed_time"))
        walls.append(math.nan if elapsed is None else elapsed)
    if total is not None:
        meta["max_steps"] = total
    if steps:
        meta["progress"] = {"done": max(steps)}
    frame = rows_to_frame(
        rows, np.asarray(steps, np.int64), literal_nan_rows=nan_rows, skip=PROGRESS_FIELDS
    )
    if len(frame) and not all(math.isnan(w) for w in walls):
        frame = _with_wall_times(frame, steps, walls)
    return ReadResult(
        frame=frame,
        warnings=lines.all_warnings(*warnings),
        meta=meta,
        end_offset=lines.end_offset,
    )


def _with_wall_times(table: Table, steps: list[int], walls: list[float]) -> Table:
    """Each point's wall time: the elapsed seconds of the last row logged at its step."""
    by_step = dict(zip(steps, walls))
    wall = np.array([by_step.get(s, math.nan) for s in table.step.tolist()], dtype=np.float64)
    return Table(table.names, table.codes, table.step, table.value, wall)
