"""Console output as lines: streamed in bounded memory, terminal noise removed.

A console log is what a terminal showed, written to a file: tqdm redraws its bar with ``\\r``,
Ray prefixes each worker's line with ``(TaskRunner pid=N)`` in ANSI colours, W&B's ``output.log``
may cut lines at 4,096 characters, files may end in the middle of a line. :func:`iter_lines`
yields each physical line (split on ``\\n``) with its 1-based number and byte offset, and
:func:`segments` splits one line into what each ``\\r`` redraw left, with ANSI codes removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trainlens.readers._files import open_regular

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
#: ``(TaskRunner pid=1244821)`` / ``(WorkerDict pid=1245222, ip=10.0.0.1)`` at a line's start.
RAY_PREFIX = re.compile(rb"^\s*\([A-Za-z_][\w.:-]*(?: pid=\d+)?(?:, ip=[\w.:]+)?\)\s?")
#: ``[rank0]:`` (torchrun) at a line's start.
RANK_PREFIX = re.compile(rb"^\s*\[rank\d+\]:\s?")
#: Lines longer than this are cut (the rest of the line is skipped, with a note).
MAX_LINE_BYTES = 8 << 20
CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class Line:
    """One physical line of a text log: its number, the byte offset where it starts, its bytes
    (without the line break) and whether it was cut at :data:`MAX_LINE_BYTES`."""

    number: int
    offset: int
    data: bytes
    end: int  # byte offset just after the line and its line break
    cut: bool = False


def iter_lines(fh: BinaryIO, offset: int = 0, *, final: bool = True) -> Iterator[Line]:
    """Every line from byte ``offset`` on. Memory is bounded by the chunk size plus the longest
    line (capped). With ``final`` the last line is yielded even without a line break; without it
    (a file still being written) it is left for later."""
    fh.seek(offset)
    number = 0
    pending = b""
    start = offset
    skipping = False  # inside a line longer than the cap: drop bytes until its end
    while True:
        block = fh.read(CHUNK_BYTES)
        if not block:
            break
        data = pending + block
        pos = 0
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            if skipping:
                skipping = False
            else:
                number += 1
                yield Line(number, start, data[pos:nl].rstrip(b"\r"), start + nl + 1 - pos)
            start += nl + 1 - pos
            pos = nl + 1
        pending = data[pos:]
        if len(pending) > MAX_LINE_BYTES and not skipping:
            number += 1
            yield Line(number, start, pending[:MAX_LINE_BYTES], start + len(pending), cut=True)
            start += len(pending)
            pending = b""
            skipping = True
        elif skipping:
            start += len(pending)
            pending = b""
    if pending and final and not skipping:
        yield Line(number + 1, start, pending.rstrip(b"\r"), start + len(pending))


@dataclass(frozen=True)
class Block:
    """Whole lines of a text log read in one piece: their bytes (each line with its break, the
    last one without only at the end of a final read), the file offset of the first byte, the
    1-based number of the first line, and whether this is the first :data:`MAX_LINE_BYTES` of a
    longer line whose rest was skipped."""

    data: bytes
    offset: int
    first_line: int
    cut_line: bool = False

    @property
    def end(self) -> int:
        """The file offset just after this block."""
        return self.offset + len(self.data)


def iter_blocks(fh: BinaryIO, offset: int = 0, *, final: bool = True) -> Iterator[Block]:
    """The file from byte ``offset`` on in blocks of whole lines (about :data:`CHUNK_BYTES`
    each), for scanners that search a block with one regex at C speed instead of looping over
    lines in Python. ``final`` as in :func:`iter_lines`."""
    fh.seek(offset)
    number = 1
    pending = b""
    start = offset
    skipping = False  # inside a line longer than the cap: drop bytes until its end
    while True:
        chunk = fh.read(CHUNK_BYTES)
        if not chunk:
            break
        if skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                start += len(chunk)
                continue
            start += nl + 1
            chunk = chunk[nl + 1 :]
            skipping = False
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_LINE_BYTES:
                yield Block(data[:MAX_LINE_BYTES], start, number, cut_line=True)
                start += len(data)
                number += 1
                pending = b""
                skipping = True
            else:
                pending = data
            continue
        yield Block(data[:cut], start, number)
        number += data.count(b"\n", 0, cut)
        start += cut
        pending = data[cut:]
    if pending and final and not skipping:
        yield Block(pending, start, number)


def line_at(data: bytes, pos: int) -> tuple[int, int]:
    """Start and end (before the line break) of the line of ``data`` holding offset ``pos``."""
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return start, (len(data) if end < 0 else end)


def clean(data: bytes) -> bytes:
    """A line without ANSI codes, a Ray worker prefix or a ``[rankN]:`` prefix."""
    if b"\x1b" in data:
        data = ANSI.sub(b"", data)
    if data[:1] in (b"(", b" ") or data.startswith(b"\t"):
        data = RAY_PREFIX.sub(b"", data, count=1)
    if data.startswith(b"[rank") or data.startswith(b" [rank"):
        data = RANK_PREFIX.sub(b"", data, count=1)
    return data


def segments(data: bytes) -> list[bytes]:
    """What each ``\\r`` redraw of a line left (tqdm), cleaned, empty ones dropped."""
    if b"\r" not in data:
        one = clean(data)
        return [one] if one.strip() else []
    out = []
    for part in data.split(b"\r"):
        part = clean(part)
        if part.strip():
            out.append(part)
    return out


def read_head_tail(path: Path, size: int = 1 << 20) -> bytes:
    """The first and (for a larger file) last ``size`` bytes of a file, for sniffing."""
    with open_regular(path) as fh:
        head = fh.read(size)
        if len(head) < size:
            return head
        fh.seek(0, 2)
        end = fh.tell()
        fh.seek(max(size, end - size))
        return head + b"\n" + fh.read(size)
