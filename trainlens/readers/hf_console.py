"""HF Trainer / TRL console output: the metric dicts ``ProgressCallback.on_log`` prints.

transformers' ``ProgressCallback.on_log`` (``trainer_callback.py``) calls
``self.training_bar.write(str(shallow_logs))``: a Python dict literal per logging step. In
transformers ≤ 4.57 the values are numbers; from 5.0 every float is ``f"{v:.4g}"``, i.e. a string
(``{'loss': '-0.04041', ...}``). There is no step key and ``total_flos`` is dropped; the last dict
is the train summary (``train_runtime`` ...), eval dicts carry ``eval_*`` keys. ``tqdm.write``
goes to stdout, which is block-buffered when redirected, so dicts often arrive in bursts long
after the progress bar (stderr) passed their step.

Parsed with :func:`ast.literal_eval` (never ``eval``), line length bounded. The step of each dict:
1. ``tqdm``: every dict printed right after its own training-bar redraw (unbuffered output);
2. ``interval``: evenly spaced logging inferred from the bar: dict *i* (1-based) of a run logging
   every *k* steps is step *i·k*, and was printed after the bar reached it, so *k* is the largest
   step size every dict's preceding counter allows (or total/dicts for a finished run);
3. ``epoch``: ``epoch`` × steps per epoch, when a config gives steps per epoch;
4. ``position``: 1, 2, 3, ...
Which one was used is in the result's ``meta["step_basis"]``.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._frame import ReadResult, empty_frame, make_frame
from trainlens.readers._text import iter_lines, segments
from trainlens.readers.console import DICT_START, Progress, tqdm_counter, training_total

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


@dataclass
class _Dict:
    kind: str  # "train" | "eval"
    values: dict[str, float]
    line: int
    counter: int | None  # training-bar counter drawn last before it
    adjacent: bool  # no other training dict between that counter and this dict


@dataclass
class _Scan:
    dicts: list[_Dict] = field(default_factory=list)
    counters: list[Progress] = field(default_factory=list)
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


def _scan(path: Path, offset: int, final: bool) -> _Scan:
    scan = _Scan(end_offset=offset)
    source = str(path)
    events: list[tuple[str, Any]] = []
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
                head = seg if m is None else seg[: m.start()]
                progress = tqdm_counter(head)
                if progress is not None:
                    scan.counters.append(progress)
                    events.append(("c", progress))
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
                events.append(("d", (values, line.number, is_eval)))
    _assign_counters(scan, events)
    return scan


def _looks_like_metrics(text: bytes) -> bool:
    return any(f"'{k}':".encode() in text[:400] for k in ("loss", "grad_norm", "learning_rate"))


def _assign_counters(scan: _Scan, events: list[tuple[str, Any]]) -> None:
    total = training_total(scan.counters)
    counter: int | None = None
    adjacent = False
    previous: dict[str, float] | None = None
    for kind, item in events:
        if kind == "c":
            if item.total == total and (counter is None or item.done != counter):
                counter, adjacent = item.done, True
            continue
        values, line_no, is_eval = item
        if not is_eval and len(values) >= 3 and values == previous:
            scan.duplicates += 1  # the same dict twice: two processes writing one file
            continue
        scan.dicts.append(_Dict("eval" if is_eval else "train", values, line_no, counter, adjacent))
        if not is_eval:
            previous = values
            adjacent = False


def _train_steps(
    train: list[_Dict], total: int | None, finished: bool, steps_per_epoch: float | None
) -> tuple[np.ndarray, dict[str, Any]]:
    n = len(train)
    counters = [d.counter for d in train]
    if n and all(d.adjacent and d.counter is not None for d in train):
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
    epochs = [d.values.get("epoch") for d in train]
    if steps_per_epoch and all(e is not None and math.isfinite(e) for e in epochs):
        steps = np.rint(np.asarray(epochs, dtype=np.float64) * steps_per_epoch).astype(np.int64)
        if n and steps[0] > 0 and np.all(np.diff(steps) > 0):
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
    total = training_total(scan.counters)
    if total:
        meta["max_steps"] = total
        meta["progress"] = {"done": max(c.done for c in scan.counters if c.total == total)}
    train = [d for d in scan.dicts if d.kind == "train"]
    finished = bool(scan.summary) or (
        total is not None and meta.get("progress", {}).get("done") == total
    )
    steps, basis = _train_steps(train, total, finished, steps_per_epoch)
    meta["step_basis"] = basis
    step_of: dict[int, int] = {id(d): int(s) for d, s in zip(train, steps)}
    keys: list[str] = []
    step_col: list[int] = []
    vals: list[float] = []
    last_train_step = 0
    for d in scan.dicts:
        if d.kind == "train":
            last_train_step = step_of[id(d)]
            step = last_train_step
        elif basis["method"] == "tqdm" and d.adjacent and d.counter is not None:
            step = d.counter
        else:
            step = last_train_step  # evaluation runs at the step that was just logged
        for k, v in d.values.items():
            keys.append(k)
            step_col.append(step)
            vals.append(v)
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
    frame = make_frame(keys, np.asarray(step_col, np.int64), np.asarray(vals, np.float64))
    return ReadResult(frame=frame, warnings=warnings, meta=meta, end_offset=scan.end_offset)
