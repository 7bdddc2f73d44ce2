"""verl console logs (``step:N - key:value - ...``, possibly Ray-prefixed with ANSI colours)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._frame import ReadResult, empty_frame, make_frame

_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
_STEP_LINE = re.compile(rb"(?:^|[\s)\]])step:(\d+) - (.*)$")
_FLOAT = re.compile(
    r"^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity)$", re.IGNORECASE
)
_NP_WRAPPED = re.compile(r"^np\.\w+\((.*)\)$")  # newer verl prints np.float64(0.5)
#: How much of a file to sniff when deciding whether it is a verl console log.
SNIFF_BYTES = 1 << 20


def looks_like_verl_console(head: bytes) -> bool:
    """True when the start of a text log has verl's ``step:N - key:value`` lines."""
    return any(_STEP_LINE.search(_ANSI.sub(b"", line)) for line in head.splitlines())


def read_verl_console(path: Path, offset: int = 0, *, final: bool = True) -> ReadResult:
    """Read every ``step:N - key:value`` line; other lines are skipped."""
    source = str(path)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError as exc:
        return ReadResult(empty_frame(), [ReadWarning(source, f"cannot read file: {exc.strerror}")])
    end = len(data) if final else data.rfind(b"\n") + 1
    keys: list[str] = []
    steps: list[int] = []
    values: list[float] = []
    warnings: list[ReadWarning] = []
    for line_no, raw in enumerate(data[:end].splitlines(), start=1):
        if b"step:" not in raw:
            continue
        m = _STEP_LINE.search(_ANSI.sub(b"", raw).rstrip())
        if not m:
            continue
        step = int(m.group(1))
        bad = 0
        for item in m.group(2).decode("utf-8", "replace").split(" - "):
            key, sep, text = item.strip().rpartition(":")
            text = text.strip()
            inner = _NP_WRAPPED.match(text)
            if inner:
                text = inner.group(1)
            if not sep or not key or not _FLOAT.match(text):
                bad += bool(item.strip())
                continue
            keys.append(key)
            steps.append(step)
            values.append(float(text))
        if bad:
            warnings.append(
                ReadWarning(
                    source, f"line {line_no} (step {step}): {bad} field(s) not key:number, skipped"
                )
            )
    frame = make_frame(keys, np.asarray(steps, np.int64), np.asarray(values, np.float64))
    return ReadResult(frame=frame, warnings=warnings, end_offset=offset + end)
