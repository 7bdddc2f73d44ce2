"""Plain-text progress lines of hand-written training loops: ``iter 10: loss 3.21, time 25.3ms,
mfu 12.30%`` and ``step 200: train loss 1.23, val loss 1.45`` (nanoGPT and its many copies).

A line is ``<iter|step|epoch> N: name value[unit], name value[unit], ...``; a field's name keeps
its words joined by ``_`` (``train loss`` → ``train_loss``) and its unit in brackets
(``time(ms)``, ``mfu(%)``). A negative MFU is a sentinel some loops print before they can
measure (nanoGPT prints -100% for its first iterations), never a measurement: it is not read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, empty_frame, make_frame
from trainlens.readers._text import clean, iter_lines

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

_LINE = re.compile(rb"^\s*(?:iter|step|epoch|Iter|Step|Epoch)\s+(\d{1,15})\s*[:|]\s*(.+)$")
_FIELD = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_/\- ]{0,60}?)\s*[=:]?\s+([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*(ms|s|%)?\s*$"
)


def _fields(body: str) -> list[tuple[str, float]]:
    out = []
    for part in body.split(","):
        m = _FIELD.match(part)
        if not m:
            continue
        name = "_".join(m.group(1).split())
        unit = m.group(3)
        if unit:
            name = f"{name}({unit})"
        out.append((name, float(m.group(2))))
    return out


def looks_like_kv_console(head: bytes) -> bool:
    """True when a text sample has at least three ``iter N: name value, ...`` lines."""
    hits = 0
    for line in head.splitlines():
        m = _LINE.match(clean(line))
        if m and _fields(m.group(2).decode("utf-8", "replace")):
            hits += 1
            if hits >= 3:
                return True
    return False


def read_kv_console(path: Path, offset: int = 0, *, final: bool = True) -> ReadResult:
    """Read every ``iter N: name value, ...`` line; other lines are skipped."""
    keys: list[str] = []
    steps: list[int] = []
    values: list[float] = []
    end = offset
    sentinels = 0
    try:
        with open_regular(path) as fh:
            for line in iter_lines(fh, offset, final=final):
                end = line.end
                m = _LINE.match(clean(line.data))
                if not m:
                    continue
                step = int(m.group(1))
                for name, value in _fields(m.group(2).decode("utf-8", "replace")):
                    if name.lower().startswith("mfu") and value < 0:
                        sentinels += 1
                        continue
                    keys.append(name)
                    steps.append(step)
                    values.append(value)
    except OSError as exc:
        return ReadResult(
            empty_frame(), [ReadWarning(str(path), f"cannot read file: {exc.strerror}")]
        )
    meta = {"sentinels_skipped": sentinels} if sentinels else {}
    frame = make_frame(keys, np.asarray(steps, np.int64), np.asarray(values, np.float64))
    return ReadResult(frame=frame, meta=meta, end_offset=end)
