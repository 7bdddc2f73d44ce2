"""ms-swift ``logging.jsonl`` (v2, v3, v4 and Megatron-SWIFT) → the long reader table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._frame import ReadResult
from trainlens.readers._jsonl import read_json_lines
from trainlens.readers._rows import parse_step_fraction, rows_to_frame

#: Keys that carry the step rather than a metric.
_STEP_KEYS = ("global_step/max_steps", "iteration", "global_step", "step")
#: v4 logs seconds per iteration; every reader reports steps per second under one key.
_TRANSFORMS = {"train_speed(s/it)": ("train_speed(iter/s)", lambda v: 1.0 / v)}
#: Keys of the final summary record (it repeats the whole log_history: not data points).
_SUMMARY_KEYS = ("best_metric", "best_model_checkpoint", "last_model_checkpoint", "global_step")


def _step_of(obj: dict[str, Any]) -> tuple[int | None, int | None, str | None]:
    for key in _STEP_KEYS:
        if key in obj:
            step, max_steps = parse_step_fraction(obj[key])
            if step is not None:
                return step, max_steps, key
    return None, None, None


def read_swift_jsonl(path: Path, offset: int = 0, *, final: bool = True,
                     first_line: int = 1) -> ReadResult:
    """Read an ms-swift ``logging.jsonl``; bad lines become warnings, never exceptions."""
    lines = read_json_lines(path, offset, final=final, first_line=first_line)
    warnings: list[ReadWarning] = []
    meta: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    steps: list[int] = []
    nan_rows: list[int] = []
    literal_nan = set(lines.nan_rows)
    step_keys_seen: set[str] = set()
    for i, (obj, line_no) in enumerate(zip(lines.objects, lines.line_numbers)):
        if "log_history" in obj or "last_model_checkpoint" in obj:
            meta.update({k: obj[k] for k in _SUMMARY_KEYS if k in obj and obj[k] is not None})
            continue
        step, max_steps, step_key = _step_of(obj)
        if max_steps is not None:
            meta["max_steps"] = max_steps
        if "train_runtime" in obj:  # HF's end-of-training line: run metadata, not a data point
            meta["train_summary"] = {
                k: float(v) for k, v in obj.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            continue
        if step is None:
            warnings.append(ReadWarning(
                str(path), f"line {line_no}: no step field ({' / '.join(_STEP_KEYS[:3])}); skipped"
            ))
            continue
        assert step_key is not None
        step_keys_seen.add(step_key)
        record = {k: v for k, v in obj.items() if k not in _STEP_KEYS}
        if i in literal_nan:
            nan_rows.append(len(rows))
        rows.append(record)
        steps.append(step)
    if step_keys_seen:
        meta["step_field"] = sorted(step_keys_seen)[0]
    if "global_step" in step_keys_seen:
        meta["swift_generation"] = "v2"
    elif "iteration" in step_keys_seen:
        meta["swift_generation"] = "megatron"
    frame = rows_to_frame(rows, np.asarray(steps, np.int64), literal_nan_rows=nan_rows,
                          transforms=_TRANSFORMS)
    return ReadResult(frame=frame, warnings=lines.all_warnings(*warnings), meta=meta, end_offset=lines.end_offset)
