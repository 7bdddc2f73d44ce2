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
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import MAX_STEP, step_mask
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, empty_frame, frame_from_codes
from trainlens.readers._text import ANSI, iter_blocks
from trainlens.readers.console import DICT_START, TQDM, BarStats

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

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
    #: bar total -> (last counter, redrawn since the last training dict)
    fresh: dict[int, tuple[int, bool]] = field(default_factory=dict)
    previous: dict[str, float] | None = None  # the last training dict (duplicates)


def looks_like_hf_console(head: bytes) -> bool:
    """True when a text sample holds at least one HF training dict."""
    for m in DICT_START.finditer(head):
        end = head.find(b"}", m.start())
        if end > 0 and _values(head[m.start() : end + 1]) is not None:
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
    if not _is_training_dict(obj):
        return None
    out = {}
    for k in obj:
        if not isinstance(k, str):
            continue
        x = _number(obj[k])
        if x is not None:
            out[k] = x
    return out or None


def _looks_like_metrics(text: bytes) -> bool:
    return any(f"'{k}':".encode() in text[:400] for k in ("loss", "grad_norm", "learning_rate"))


#: Where a tqdm counter may be (``/200 [``): a literal first byte, so the block search is fast.
_BAR_HINT = re.compile(rb"/\d+ \[")
#: A flat dict of simple values, as the Trainer prints it: parsed without ``literal_eval``.
_VALUE = (
    r"(?:'[^'\\\n]*'|[-+]?(?:\d[\w.+-]*|\.\d[\w.+-]*|inf|nan)|True|False|None"
    r"|np\.(?:float|int)\d*\([-+]?[\w.+-]+\)|tensor\([-+]?[\w.+-]+\))"
)
_KEY = r"'[^'\\\n]*': "
_PAIR = re.compile(r"'([^'\\\n]*)': (" + _VALUE + ")")
_FLAT_DICT = re.compile(r"\{(?:" + _KEY + _VALUE + r"(?:, " + _KEY + _VALUE + r")*)?\}")


def _fast_values(text: bytes) -> dict[str, float] | None:
    """The numeric fields of a flat dict of numbers and strings (``nan``/``inf`` included,
    which ``literal_eval`` refuses), or None when the text is anything else (then
    ``literal_eval`` decides). Non-numeric strings and ``True``/``None`` are left out."""
    decoded = text.decode("utf-8", "replace")
    if _FLAT_DICT.fullmatch(decoded) is None:
        return None
    pairs = _PAIR.findall(decoded)
    try:
        return {key: float(raw) for key, raw in pairs}  # the common case: numbers only
    except ValueError:
        pass
    out: dict[str, float] = {}
    for key, raw in pairs:
        first = raw[0]
        if first == "'":
            raw = raw[1:-1].strip()
        elif first in "TFN":
            continue
        elif raw[-1] == ")":
            raw = raw[raw.index("(") + 1 : -1]
        try:
            out[key] = float(raw)
        except ValueError:
            if first != "'":
                return None  # not a number after all (1.2.3): let literal_eval judge
    return out


def _values(text: bytes) -> dict[str, float] | None:
    """The numeric fields of a training/eval dict printed as ``text``, or None."""
    fast = _fast_values(text)
    if fast is None:
        return _metric_values(_literal(text))
    return fast if fast and _is_training_dict(fast) else None


def _is_training_dict(keys: Any) -> bool:
    return any(
        isinstance(k, str) and (k in TRAIN_KEYS or k.startswith(("eval_", "train/", "eval/")))
        for k in keys
    )


def _scan(path: Path, offset: int, final: bool) -> _Scan:
    """One pass over the log in blocks: the lines that may hold a counter or a dict are found by
    regex over the whole block; every other line costs no Python work."""
    scan = _Scan(end_offset=offset)
    with open_regular(path) as fh:
        for block in iter_blocks(fh, offset, final=final):
            scan.end_offset = block.end
            data = block.data
            if block.cut_line:
                scan.warnings.append(
                    ReadWarning(
                        str(path), f"line {block.first_line}: longer than 8 MiB, the rest skipped"
                    )
                )
            starts = _line_starts(data, _BAR_HINT) | _line_starts(data, DICT_START)
            line_no, pos = block.first_line, 0
            for start in sorted(starts):
                line_no += data.count(b"\n", pos, start)
                pos = start
                end = data.find(b"\n", start)
                line = data[start : len(data) if end < 0 else end].rstrip(b"\r")
                if b"{'" in line:
                    _dict_line(scan, path, line, line_no)
                else:
                    _counters(scan, line, 0, len(line))
    return scan


def _line_starts(data: bytes, pattern: re.Pattern[bytes]) -> set[int]:
    out: set[int] = set()
    pos = 0
    while (m := pattern.search(data, pos)) is not None:
        out.add(data.rfind(b"\n", 0, m.start()) + 1)
        end = data.find(b"\n", m.end())
        if end < 0:
            break
        pos = end + 1
    return out


def _counters(scan: _Scan, line: bytes, start: int, end: int) -> None:
    """Count the tqdm redraws in ``line[start:end]``."""
    redraws = TQDM.findall(line, start, end)
    if not redraws:
        return
    fresh = scan.fresh
    add = scan.stats.add
    for d, t in redraws:
        if len(t) > 15:  # digits only (the regex): a longer number is no step (see as_step)
            continue
        done, total = int(d), int(t)
        if add(done, total):
            seen = fresh.get(total)
            if seen is None or seen[0] != done:  # a bar moved, not a refresh
                fresh[total] = (done, True)


def _dict_line(scan: _Scan, path: Path, line: bytes, line_no: int) -> None:
    """A line holding dicts and maybe tqdm redraws around them (``\\r``-separated), in order."""
    pos = 0
    for m in DICT_START.finditer(line):
        if m.start() < pos:
            continue  # inside the dict just read
        _counters(scan, line, pos, m.start())
        seg_end = line.find(b"\r", m.start())
        pos = len(line) if seg_end < 0 else seg_end
        text = line[m.start() : pos]
        if b"\x1b" in text:
            text = ANSI.sub(b"", text)
        _dict(scan, path, text, line_no)
    _counters(scan, line, pos, len(line))


def _dict(scan: _Scan, path: Path, text: bytes, line_no: int) -> None:
    end = text.rfind(b"}")
    values = _values(text[: end + 1]) if end > 0 else None
    if values is None:
        if _looks_like_metrics(text):
            scan.warnings.append(
                ReadWarning(str(path), f"line {line_no}: metric dict cut off or malformed; skipped")
            )
        return
    if "train_runtime" in values:
        scan.summary = values
        return
    is_eval = (b"'eval_" in text or b"'eval/" in text) and any(
        k.startswith(("eval_", "eval/")) for k in values
    )
    if not is_eval and len(values) >= 3 and values == scan.previous:
        scan.duplicates += 1  # the same dict twice: two processes writing one file
        return
    _add(scan, values, _EVAL if is_eval else _TRAIN, dict(scan.fresh))
    if not is_eval:
        scan.previous = values
        scan.fresh = {t: (done, False) for t, (done, _) in scan.fresh.items()}


def _add(
    scan: _Scan, values: dict[str, float], kind: int, bars: dict[int, tuple[int, bool]]
) -> None:
    index = len(scan.kinds)
    scan.kinds.append(kind)
    scan.bars.append(bars)
    names = scan.names
    scan.codes.extend([names.setdefault(key, len(names)) for key in values])
    scan.values.extend(values.values())
    scan.owner.extend(array("i", [index]) * len(values))


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
        if 1 <= k and k * n < MAX_STEP:
            return np.arange(1, n + 1, dtype=np.int64) * k, {"method": "interval", "interval": k}
    if steps_per_epoch and n and all(e is not None and math.isfinite(e) for e in epochs):
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.rint(np.asarray(epochs, dtype=np.float64) * steps_per_epoch)
        if step_mask(scaled).all():
            steps = scaled.astype(np.int64)
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
        np.frombuffer(scan.codes, dtype=np.int32),  # views: the arrays are not touched again
        dict_steps[owner],
        np.frombuffer(scan.values, dtype=np.float64),
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
