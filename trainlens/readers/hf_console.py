"""HF Trainer / TRL console output: the metric dicts ``ProgressCallback.on_log`` prints.

transformers' ``ProgressCallback.on_log`` (``trainer_callback.py``) calls
``self.training_bar.write(str(shallow_logs))``: a Python dict literal per logging step. In
transformers ≤ 4.57 the values are numbers; from 5.0 every float is ``f"{v:.4g}"``, i.e. a string
(``{'loss': '-0.04041', ...}``). There is no step key and ``total_flos`` is dropped; the last dict
is the train summary (``train_runtime`` ...), eval dicts carry ``eval_*`` keys. ``tqdm.write``
goes to stdout, which is block-buffered when redirected, so dicts often arrive in bursts long
after the progress bar (stderr) passed their step.

Parsed with :func:`ast.literal_eval` (never ``eval``), dict length bounded, streamed: values go
into flat arrays as they are read, so memory grows with the metrics, not with the log. The step
of each dict, in order of preference:

1. ``tqdm``: every dict printed right after its own training-bar redraw (unbuffered output);
2. ``interval``: evenly spaced logging inferred from the bar: dict *i* (1-based) of a run logging
   every *k* steps is step *i·k*, and was printed after the bar reached it, so *k* is the largest
   step size every dict's preceding counter allows (total/dicts for a finished run);
3. ``epoch``: ``epoch`` × steps per epoch, when a config gives steps per epoch;
4. ``position``: 1, 2, 3, ...

Which one was used is in the result's ``meta["step_basis"]``.
"""

from __future__ import annotations

import ast
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._frame import ReadResult, empty_frame, frame_from_codes
from trainlens.readers._text import iter_lines, segments
from trainlens.readers.console import DICT_START, BarStats, tqdm_counter

#: A dict is a training log when it holds one of these keys (others: tokenizer ids, samples).
TRAIN_KEYS = frozenset(
    {
        "loss",
        "grad_norm",
        "learning_rate",
        "lr",
        "reward",
        "kl",
        "entropy",
        "rewards/chosen",
        "rewards/margins",
        "objective/kl",
        "policy/approxkl_avg",
        "train_runtime",
        "train_loss",
    }
)
#: Dict literals longer than this are not parsed (a guard for literal_eval's cost).
MAX_DICT_CHARS = 1 << 20
_TRAIN, _EVAL = 0, 1


@dataclass
class _Scan:
    """What a pass over the log collected: per point its key code, value and dict; per dict its
    kind, line and the training-bar counters drawn before it."""

    names: dict[str, int] = field(default_factory=dict)
    codes: array = field(default_factory=lambda: array("i"))
    values: array = field(default_factory=lambda: array("d"))
    owner: array = field(default_factory=lambda: array("i"))  # point -> dict index
    kinds: array = field(default_factory=lambda: array("b"))
    #: per dict: {bar total: (last counter, redrawn since the previous training dict)}
    bars: list[dict[int, tuple[int, bool]]] = field(default_factory=list)
    stats: BarStats = field(default_factory=BarStats)
    summary: dict[str, float] = field(default_factory=dict)
    warnings: list[ReadWarning] = field(default_factory=list)
    duplicates: int = 0
    end_offset: int = 0


def looks_like_hf_console(head: bytes) -> bool:
    """True when a text sample holds at least one HF training dict."""
    for m in DICT_START.finditer(head):
        end = head.find(b"}", m.start())
        if end > 0 and _metric_values(_literal(head[m.start() : end + 1])) is not None:
            return True
    return False


def _literal(text: bytes) -> Any:
    if len(text) > MAX_DICT_CHARS:
        return None
    try:
        return ast.literal_eval(text.decode("utf-8", "replace"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _metric_values(obj: Any) -> dict[str, float] | None:
    """The numeric fields of a training/eval dict, or None for any other dict."""
    if not isinstance(obj, dict) or not obj:
        return None
    keys = [k for k in obj if isinstance(k, str)]
    if not any(k in TRAIN_KEYS or k.startswith(("eval_", "train/", "eval/")) for k in keys):
        return None
    out = {}
    for k in keys:
        x = _number(obj[k])
        if x is not None:
            out[k] = x
    return out or None


def _looks_like_metrics(text: bytes) -> bool:
    return any(f"'{k}':".encode() in text[:400] for k in ("loss", "grad_norm", "learning_rate"))


def _scan(path: Path, offset: int, final: bool) -> _Scan:
    scan = _Scan(end_offset=offset)
    source = str(path)
    fresh: dict[int, tuple[int, bool]] = {}  # bar total -> (last counter, redrawn since dict)
    previous: dict[str, float] | None = None
    with open(path, "rb") as fh:
        for line in iter_lines(fh, offset, final=final):
            scan.end_offset = line.end
            if line.cut:
                scan.warnings.append(
                    ReadWarning(source, f"line {line.number}: longer than 8 MiB, the rest skipped")
                )
            if b"{'" not in line.data and b"/" not in line.data:
                continue
            for seg in segments(line.data):
                m = DICT_START.search(seg)
                progress = tqdm_counter(seg if m is None else seg[: m.start()])
                if progress is not None:
                    scan.stats.add(progress)
                    seen = fresh.get(progress.total)
                    if seen is None or seen[0] != progress.done:  # a bar moved, not a refresh
                        fresh[progress.total] = (progress.done, True)
                if m is None:
                    continue
                end = seg.rfind(b"}")
                obj = _literal(seg[m.start() : end + 1]) if end > m.start() else None
                values = _metric_values(obj)
                if values is None:
                    if obj is None and _looks_like_metrics(seg[m.start() :]):
                        scan.warnings.append(
                            ReadWarning(
                                source,
                                f"line {line.number}: metric dict cut off or malformed; skipped",
                            )
                        )
                    continue
                if "train_runtime" in values:
                    scan.summary = values
                    continue
                is_eval = any(k.startswith(("eval_", "eval/")) for k in values)
                if not is_eval and len(values) >= 3 and values == previous:
                    scan.duplicates += 1  # the same dict twice: two processes writing one file
                    continue
                _add(scan, values, _EVAL if is_eval else _TRAIN, dict(fresh))
                if not is_eval:
                    previous = values
                    fresh = {t: (done, False) for t, (done, _) in fresh.items()}
    return scan


def _add(
    scan: _Scan, values: dict[str, float], kind: int, bars: dict[int, tuple[int, bool]]
) -> None:
    index = len(scan.kinds)
    scan.kinds.append(kind)
    scan.bars.append(bars)
    for key, value in values.items():
        scan.codes.append(scan.names.setdefault(key, len(scan.names)))
        scan.values.append(value)
        scan.owner.append(index)


def _train_steps(
    counters: list[int | None],
    adjacent: list[bool],
    epochs: list[float | None],
    total: int | None,
    finished: bool,
    steps_per_epoch: float | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    n = len(counters)
    if n and all(a and c is not None for a, c in zip(adjacent, counters)):
        steps = np.asarray(counters, dtype=np.int64)
        if np.all(np.diff(steps) > 0) and steps[0] > 0:
            return steps, {"method": "tqdm"}
    bounds = [c // (i + 1) for i, c in enumerate(counters) if c is not None]
    if bounds:
        k = min(bounds)
        if finished and total and total % n == 0 and (total // n) <= k:
            k = total // n
        if k >= 1:
            return np.arange(1, n + 1, dtype=np.int64) * k, {"method": "interval", "interval": k}
    if steps_per_epoch and n and all(e is not None and math.isfinite(e) for e in epochs):
        steps = np.rint(np.asarray(epochs, dtype=np.float64) * steps_per_epoch).astype(np.int64)
        if steps[0] > 0 and np.all(np.diff(steps) > 0):
            return steps, {"method": "epoch", "steps_per_epoch": steps_per_epoch}
    return np.arange(1, n + 1, dtype=np.int64), {"method": "position"}


def read_hf_console(
    path: Path,
    offset: int = 0,
    *,
    final: bool = True,
    steps_per_epoch: float | None = None,
) -> ReadResult:
    """Read the metric dicts of a console log; other lines are skipped."""
    source = str(path)
    try:
        scan = _scan(path, offset, final)
    except OSError as exc:
        return ReadResult(empty_frame(), [ReadWarning(source, f"cannot read file: {exc.strerror}")])
    meta: dict[str, Any] = {}
    if scan.summary:
        meta["train_summary"] = scan.summary
    total = scan.stats.training_total()
    done = scan.stats.highest.get(total) if total else None
    if total:
        meta["max_steps"] = total
        meta["progress"] = {"done": done}
    kinds = np.frombuffer(scan.kinds, dtype=np.int8) if scan.kinds else np.empty(0, np.int8)
    train_idx = np.flatnonzero(kinds == _TRAIN)
    bar = [
        scan.bars[i].get(total, (None, False)) if total else (None, False)
        for i in range(len(kinds))
    ]
    epoch_code = scan.names.get("epoch")
    epochs = _per_dict(scan, epoch_code, len(kinds))
    steps_of_train, basis = _train_steps(
        [bar[i][0] for i in train_idx],
        [bar[i][1] for i in train_idx],
        [epochs[i] for i in train_idx],
        total,
        bool(scan.summary) or (total is not None and done == total),
        steps_per_epoch,
    )
    meta["step_basis"] = basis
    dict_steps = np.zeros(len(kinds), dtype=np.int64)
    dict_steps[train_idx] = steps_of_train
    last = 0
    for i in range(len(kinds)):  # evaluation logs at the step just logged (or its own redraw)
        if kinds[i] == _TRAIN:
            last = int(dict_steps[i])
        elif basis["method"] == "tqdm" and bar[i][1] and (counter := bar[i][0]) is not None:
            dict_steps[i] = counter
        else:
            dict_steps[i] = last
    warnings = scan.warnings
    if scan.duplicates:
        meta["duplicate_records"] = scan.duplicates
        warnings.append(
            ReadWarning(
                source,
                f"{scan.duplicates} metric dict(s) printed twice in a row (several processes "
                "writing one file); counted once",
            )
        )
    if not len(scan.values):
        return ReadResult(
            frame=empty_frame(), warnings=warnings, meta=meta, end_offset=scan.end_offset
        )
    owner = np.frombuffer(scan.owner, dtype=np.int32)
    frame = frame_from_codes(
        list(scan.names),
        np.frombuffer(scan.codes, dtype=np.int32).copy(),
        dict_steps[owner],
        np.frombuffer(scan.values, dtype=np.float64).copy(),
    )
    return ReadResult(frame=frame, warnings=warnings, meta=meta, end_offset=scan.end_offset)


def _per_dict(scan: _Scan, code: int | None, n: int) -> list[float | None]:
    """The value of one key in each dict (None where a dict lacks it)."""
    out: list[float | None] = [None] * n
    if code is None:
        return out
    codes = np.frombuffer(scan.codes, dtype=np.int32)
    rows = np.flatnonzero(codes == code)
    owner = np.frombuffer(scan.owner, dtype=np.int32)
    values = np.frombuffer(scan.values, dtype=np.float64)
    for r in rows:
        out[int(owner[r])] = float(values[r])
    return out
