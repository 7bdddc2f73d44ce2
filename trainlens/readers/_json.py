"""JSON from untrusted logs, bounded: nesting depth, number size and bad UTF-8 never raise.

orjson decodes the usual record; what it refuses goes to Python's decoder, which accepts the
``NaN`` / ``Infinity`` literals that Python's ``json.dumps`` writes, after three checks: nesting
deeper than :data:`MAX_DEPTH` is refused before parsing (the stdlib decoder recurses), integers
too long for a float become null (their field is dropped, the rest of the record kept), and
bytes that are not UTF-8 are replaced (a text field may be changed; numbers and keys stay).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

#: Deeper nesting is not a log record (orjson itself stops at 1,024).
MAX_DEPTH = 512
#: Integers with more digits than this do not fit a float64 (they are dropped, with a note).
MAX_INT_DIGITS = 308
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.frombuffer(b"[{", np.uint8)
_CLOSE = np.frombuffer(b"]}", np.uint8)


class JsonError(ValueError):
    """Input that is not a JSON document trainlens reads; ``pos`` is its byte offset."""

    def __init__(self, message: str, pos: int = 0) -> None:
        super().__init__(message)
        self.pos = pos


@dataclass
class Decoded:
    """A decoded document: ``slow`` when Python's decoder was needed (literal NaN/Infinity);
    ``notes`` says what was repaired (dropped huge integers, replaced bytes)."""

    value: Any
    slow: bool = False
    notes: tuple[str, ...] = ()


def depth_exceeded(data: bytes, limit: int = MAX_DEPTH) -> int | None:
    """Byte offset where the nesting of ``data`` first goes deeper than ``limit`` (brackets
    inside strings do not count), or None. Vectorised; only scans texts with enough brackets."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return None
    u8 = np.frombuffer(data, np.uint8)
    quote = u8 == _QUOTE
    if quote.any():
        # a quote preceded by an odd run of backslashes is escaped
        backslash = u8 == _BACKSLASH
        run = np.zeros(len(u8), np.int64)
        idx = np.flatnonzero(backslash)
        if len(idx):
            starts = idx[np.diff(idx, prepend=-2) != 1]
            pos = np.searchsorted(starts, idx, side="right") - 1
            run[idx] = idx - starts[pos] + 1
        escaped = np.zeros(len(u8), bool)
        escaped[1:] = run[:-1] % 2 == 1
        quote &= ~escaped
        inside = (np.cumsum(quote) % 2 == 1) & ~quote
    else:
        inside = np.zeros(len(u8), bool)
    step = np.isin(u8, _OPEN).astype(np.int64) - np.isin(u8, _CLOSE).astype(np.int64)
    step[inside] = 0
    over = np.flatnonzero(np.cumsum(step) > limit)
    return int(over[0]) if len(over) else None


def loads(data: bytes) -> Decoded:
    """Decode one JSON document; raises :class:`JsonError` (never RecursionError, never an
    integer-size ValueError, never UnicodeDecodeError)."""
    try:
        return Decoded(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        first_error = exc
    deep = depth_exceeded(data)
    if deep is not None:
        raise JsonError(f"nested deeper than {MAX_DEPTH} levels", deep)
    notes: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        notes.append(f"bytes that are not UTF-8 (first at byte {exc.start}) replaced")
        text = data.decode("utf-8", "replace")
    dropped: list[int] = []
    try:
        value = decoder(dropped).decode(text)
    except json.JSONDecodeError as exc:
        raise JsonError(_brief(exc), len(text[: exc.pos].encode("utf-8", "replace"))) from None
    except (ValueError, RecursionError) as exc:  # pragma: no cover - guarded above
        raise JsonError(_brief(exc or first_error)) from None
    if dropped:
        notes.append(f"integer of {max(dropped):,} digits out of range; that field dropped")
    return Decoded(value, True, tuple(notes))


def decoder(dropped: list[int]) -> json.JSONDecoder:
    """Python's decoder (NaN / Infinity accepted) with integers bounded: up to 18 digits an int,
    up to :data:`MAX_INT_DIGITS` a float, longer ones null (their digit count goes in
    ``dropped``)."""

    def parse_int(digits: str) -> int | float | None:
        n = len(digits) - (digits[0] == "-")
        if n <= 18:
            return int(digits)
        if n <= MAX_INT_DIGITS:
            return float(digits)
        dropped.append(n)
        return None

    return json.JSONDecoder(parse_int=parse_int)


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


#: Any line ending: ``\n``, ``\r\n`` or a lone ``\r`` (a raw CR is never inside a JSON record).
EOL = re.compile(rb"\r\n|\r|\n")
