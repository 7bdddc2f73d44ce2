"""HF ``trainer_state.json`` (Trainer, TRL, ms-swift checkpoints): its ``log_history``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step, brief
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, empty_frame
from trainlens.readers._json import JsonError, decoder, depth_exceeded, loads
from trainlens.readers._rows import rows_to_frame

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

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
_LOG_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
#: Between two entries of ``log_history`` (where reading resumes after a damaged entry).
_NEXT_ENTRY = re.compile(r"\}\s*,\s*(?=\{)")
_SCALAR = r'\s*:\s*(-?\d[\d.eE+-]*|"(?:[^"\\\n]|\\.)*"|null|true|false|NaN|-?Infinity)'


def read_trainer_state(path: Path) -> ReadResult:
    """Read every numeric key of every ``log_history`` entry at its ``step``.

    A file cut while saving (or broken in the middle) keeps every complete ``log_history`` entry
    before the damage, with one warning; bytes that are not UTF-8 are replaced.
    """
    source = str(path)
    try:
        with open_regular(path) as fh:
            raw = fh.read()
    except OSError as exc:
        return _failed(source, f"cannot read file: {exc.strerror or exc}")
    if not raw.strip():
        return _failed(source, "empty file")
    warnings: list[ReadWarning] = []
    try:
        decoded = loads(raw)  # NaN / Infinity accepted, as HF writes them
        state = decoded.value
        warnings += [ReadWarning(source, note) for note in decoded.notes]
    except JsonError as exc:
        state = recover_log_history(raw, exc.pos)
        if state is None:
            return _failed(source, f"not valid JSON at byte {exc.pos} ({exc}); no log_history")
        kept = len(state["log_history"])
        warnings.append(
            ReadWarning(
                source,
                f"not valid JSON at byte {exc.pos} ({exc}; truncated while saving?): "
                f"{kept} complete log_history entries kept",
            )
        )
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        return _failed(source, "no log_history list: not a trainer_state.json")

    meta: dict[str, Any] = {k: state[k] for k in _META_KEYS if state.get(k) is not None}
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


def recover_log_history(raw: bytes, bad: int) -> dict[str, Any] | None:
    """The complete ``log_history`` entries of a damaged ``trainer_state.json`` (cut while saving,
    a broken byte in the middle): each entry is decoded on its own, a damaged one is skipped to
    the next, and the metadata fields outside ``log_history`` are taken where readable. None when
    the file has no ``log_history`` before the damage."""
    deep = depth_exceeded(raw)
    text = raw[: deep if deep is not None else len(raw)].decode("utf-8", "replace")
    head = _LOG_HISTORY.search(text)
    if head is None or len(text[: head.start()].encode("utf-8", "replace")) > bad:
        return None
    dec = decoder([])
    entries: list[Any] = []
    pos, end = head.end(), len(text)
    while pos < end:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end or text[pos] == "]":
            break
        try:
            entry, pos = dec.raw_decode(text, pos)
        except (ValueError, RecursionError):
            nxt = _NEXT_ENTRY.search(text, pos + 1)
            if nxt is None:
                break
            pos = nxt.end()
            continue
        entries.append(entry)
    outside = text[: head.start()] + text[pos:]
    state: dict[str, Any] = {"log_history": entries}
    for key in _META_KEYS:
        m = re.search(f'"{key}"' + _SCALAR, outside)
        if m:
            try:
                state[key] = loads(m.group(1).encode()).value
            except JsonError:
                continue
    return state
