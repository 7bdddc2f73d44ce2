"""HF ``trainer_state.json`` (Trainer, TRL, ms-swift checkpoints): its ``log_history``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step, brief
from trainlens.readers._frame import ReadResult, empty_frame
from trainlens.readers._rows import rows_to_frame

_META_KEYS = (
    "global_step",
    "max_steps",
    "best_metric",
    "best_global_step",
    "best_model_checkpoint",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "num_train_epochs",
    "train_batch_size",
)
_END_OF_TRAINING = "train_runtime"


def read_trainer_state(path: Path) -> ReadResult:
    """Read every numeric key of every ``log_history`` entry at its ``step``."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return _failed(source, f"cannot read file: {exc.strerror or exc}")
    if not raw.strip():
        return _failed(source, "empty file")
    try:
        state = json.loads(raw)  # the stdlib decoder accepts NaN / Infinity as HF writes them
    except (ValueError, UnicodeDecodeError) as exc:
        where = (
            f"line {exc.lineno}, byte {exc.pos}"
            if isinstance(exc, json.JSONDecodeError)
            else "start"
        )
        return _failed(source, f"not valid JSON at {where} (truncated while saving?)")
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        return _failed(source, "no log_history list: not a trainer_state.json")

    meta: dict[str, Any] = {k: state[k] for k in _META_KEYS if state.get(k) is not None}
    warnings: list[ReadWarning] = []
    rows: list[dict[str, Any]] = []
    steps: list[int] = []
    nan_rows: list[int] = []
    for i, entry in enumerate(state["log_history"]):
        raw_step = entry.get("step") if isinstance(entry, dict) else None
        step = as_step(raw_step)
        if step is None:
            what = "no step" if raw_step is None else f"unreadable step {brief(raw_step)}"
            warnings.append(ReadWarning(source, f"log_history[{i}]: {what}; skipped"))
            continue
        if _END_OF_TRAINING in entry:
            meta["train_summary"] = {
                k: float(v)
                for k, v in entry.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"
            }
            continue
        record = {k: v for k, v in entry.items() if k != "step"}
        if any(
            isinstance(v, float) and v != v or v in (float("inf"), float("-inf"))
            for v in record.values()
            if isinstance(v, float)
        ):
            nan_rows.append(len(rows))
        rows.append(record)
        steps.append(step)
    frame = rows_to_frame(rows, np.asarray(steps, np.int64), literal_nan_rows=nan_rows)
    return ReadResult(frame=frame, warnings=warnings, meta=meta, end_offset=len(raw))


def _failed(source: str, message: str) -> ReadResult:
    return ReadResult(frame=empty_frame(), warnings=[ReadWarning(source, message)])
