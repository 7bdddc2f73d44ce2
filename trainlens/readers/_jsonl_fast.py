"""Big JSON-lines files of flat records, parsed in native code by pyarrow when it is installed.

An optional accelerator of :mod:`trainlens.readers._jsonl` (the ``fast`` extra): the same columns,
row for row, as decoding every line with orjson and building the wide table from the dicts. The
complete lines are cut into chunks parsed on every core; a chunk pyarrow cannot represent exactly
(a line that is no single object, a literal ``NaN`` / ``Infinity``, a key of mixed types, nested
values, a record holding one of the caller's special keys, bytes that are not UTF-8, a huge line)
is decoded line by line by the careful decoder instead, with its warnings. Only chunks are parsed
in parallel: each chunk lists its keys in order of first appearance, so the chunks together give
the file's order (pyarrow's own threads do not keep it). One known difference: a column of
integers where one is in [2**63, 2**64) (pandas makes it uint64) names an unreadable step there
as a float in its warning; the data is the same.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from trainlens.readers._jsonl import MAX_LINE_BYTES, JsonLines, RawText, decode_lines

#: Smaller reads (a live follower's increments, small logs) take the careful decoder only.
MIN_BYTES = 4 << 20
#: Target size of one chunk (a chunk always ends at a line ending).
CHUNK_BYTES = 8 << 20
_OPEN, _CLOSE, _NL = ord("{"), ord("}"), ord("\n")
#: Canonical spellings of ms-swift's text fields, read in native code: percentages, durations
#: and "N/M" steps, with few enough digits (and short enough) that every parser of the careful
#: path reads them exactly alike; any other text is left to those parsers.
_PERCENT = r"^\d{1,6}(?:\.\d{1,6})?%$"
_DURATION = r"^(?:\d{1,5}d )?(?:\d{1,5}h )?(?:\d{1,5}m )?\d{1,5}s$"
_FRACTION = r"^\d{1,15}/\d{1,15}$"
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_MISSING = object()


@cache
def available() -> bool:
    """Whether pyarrow can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError):  # a broken install, or pyarrow blocked in sys.modules
        return False


@dataclass
class Text:
    """A text column with its canonical cells already read. ``given``: the cell is text;
    ``done``: a percentage or duration, its number in ``value``; ``fraction``: ``"N/M"``, read
    into ``num`` and ``den``. Other cells are NaN there."""

    given: np.ndarray
    value: np.ndarray
    done: np.ndarray
    num: np.ndarray
    den: np.ndarray
    fraction: np.ndarray

    @classmethod
    def missing(cls, n: int) -> Text:
        """``n`` cells that are not text."""
        no, nan = (lambda: np.zeros(n, bool)), (lambda: np.full(n, np.nan))
        return cls(no(), nan(), no(), nan(), nan(), no())


@dataclass
class Columns:
    """The rows of a JSON-lines read as a wide table, and what the careful decoder reported.

    ``columns`` maps each key, in order of first appearance, to what ``DataFrame.from_records``
    makes of the decoded records: int64 (an integer in every row), float64 (numbers, NaN where a
    record lacks the key or has null) or an object array of the values (NaN where missing).
    ``row_lines``: each row's line number. ``nan_rows``: rows with a literal NaN / Infinity (only
    from the careful decoder), their dicts in ``objects``. ``special``: in file order, the records
    that had one of the special keys (not rows). ``text``: the canonical cells of the text
    columns that pyarrow read whole. ``lines``: warnings, partial last line, ``end_offset``.
    """

    n: int
    columns: dict[str, np.ndarray]
    row_lines: np.ndarray
    text: dict[str, Text] = field(default_factory=dict)
    nan_rows: list[int] = field(default_factory=list)
    objects: dict[int, dict[str, Any]] = field(default_factory=dict)
    special: list[dict[str, Any]] = field(default_factory=list)
    lines: JsonLines = field(default_factory=JsonLines)


@dataclass
class _Part:
    """One chunk's rows: per key a kind and its values. Kinds: ``num`` (numbers and nulls),
    ``obj`` (anything else), ``none`` (null in every row), ``null`` (null or missing)."""

    n: int
    row_lines: np.ndarray
    keys: list[str]
    num: dict[str, np.ndarray] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # key -> arrow column or list of values
    kinds: dict[str, str] = field(default_factory=dict)
    text: dict[str, Text] = field(default_factory=dict)
    nan_rows: list[int] = field(default_factory=list)
    objects: dict[int, dict[str, Any]] = field(default_factory=dict)


def read_columns(
    raw: RawText,
    source: str,
    *,
    final: bool = True,
    first_line: int = 1,
    special_keys: frozenset[str] = frozenset(),
) -> Columns | None:
    """The wide table of ``raw``'s records, or None when the fast path does not apply (pyarrow
    absent, a small read, not plain UTF-8 with ``\\n`` line endings, NUL bytes): the caller then
    decodes every line itself. Output, warnings and ``end_offset`` are those of
    :func:`~trainlens.readers._jsonl.decode_lines` over the same bytes."""
    data = raw.data
    if len(data) < MIN_BYTES or raw.codec != "utf-8" or not available():
        return None
    if b"\r" in data or b"\x00" in data:
        return None
    cut = data.rfind(b"\n") + 1
    if cut == 0:
        return None
    import pyarrow as pa  # noqa: PLC0415 - optional, and only for big reads

    bounds = _chunk_bounds(data, cut)
    buf = pa.py_buffer(data)
    ascii_only = data.isascii()
    workers = max(1, min(len(bounds) - 1, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        tables = list(
            pool.map(
                lambda i: _guarded_chunk(buf, data, bounds[i], bounds[i + 1], ascii_only),
                range(len(bounds) - 1),
            )
        )
    lines = JsonLines(end_offset=raw.offset)
    special: list[dict[str, Any]] = []
    parts: list[_Part] = []
    line_no = first_line
    for i, parsed in enumerate(tables):
        start, stop = bounds[i], bounds[i + 1]
        if parsed is not None and not special_keys.intersection(parsed[0].column_names):
            parts.append(_arrow_part(*parsed, line_no))
            line_no += parsed[0].num_rows
            continue
        chunk = JsonLines()
        text = RawText(data[start:stop], raw.offset + start, "utf-8")
        decode_lines(chunk, text, source, first_line=line_no)
        parts.append(_careful_part(chunk, special_keys, special))
        lines.warnings += chunk.warnings
        line_no += data.count(b"\n", start, stop)
    lines.end_offset = raw.offset + cut
    if cut < len(data):  # a last line without its line ending: the careful decoder's case
        tail = JsonLines(end_offset=raw.offset + cut)
        text = RawText(data[cut:], raw.offset + cut, "utf-8")
        decode_lines(tail, text, source, final=final, first_line=line_no)
        parts.append(_careful_part(tail, special_keys, special))
        lines.warnings += tail.warnings
        lines.partial, lines.end_offset = tail.partial, tail.end_offset
    return _merge(parts, lines, special)


def _chunk_bounds(data: bytes, cut: int) -> list[int]:
    """Chunk starts and the end ``cut``: chunks of about :data:`CHUNK_BYTES`, at least one per
    core, each ending at a line ending."""
    size = min(CHUNK_BYTES, max(cut // (os.cpu_count() or 1), 1 << 20))
    bounds = [0]
    while bounds[-1] < cut:
        end = data.find(b"\n", bounds[-1] + size, cut)
        bounds.append(cut if end < 0 else end + 1)
    return bounds


def _guarded_chunk(
    buf: Any, data: bytes, start: int, stop: int, ascii_only: bool
) -> tuple[Any, dict[str, Text]] | None:
    """:func:`_arrow_chunk`, with any failure of the optional library a chunk for the careful
    decoder (never an exception out of a reader)."""
    try:
        return _arrow_chunk(buf, data, start, stop, ascii_only)
    except Exception:  # noqa: BLE001 - the careful decoder reads it instead
        return None


def _arrow_chunk(
    buf: Any, data: bytes, start: int, stop: int, ascii_only: bool
) -> tuple[Any, dict[str, Text]] | None:
    """pyarrow's table of the lines in ``data[start:stop]`` and its text columns read, or None
    unless every line is one JSON object (``{`` to ``}``, no blank line, no huge line) of exactly
    representable values."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.json as pj  # noqa: PLC0415

    u8 = np.frombuffer(data, np.uint8, count=stop - start, offset=start)
    ends = np.flatnonzero(u8 == _NL)
    if u8[0] != _OPEN or (u8[ends[:-1] + 1] != _OPEN).any() or (u8[ends - 1] != _CLOSE).any():
        return None
    if np.diff(ends, prepend=-1).max() - 1 > MAX_LINE_BYTES:
        return None
    if not ascii_only:
        try:
            data[start:stop].decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        table = pj.read_json(
            pa.BufferReader(buf.slice(start, stop - start)),
            read_options=pj.ReadOptions(use_threads=False, block_size=stop - start + 1),
        )
    except (pa.ArrowException, ValueError, UnicodeDecodeError):
        return None
    if table.num_rows != len(ends):  # two objects on one line
        return None
    for col in table.columns:
        kind = col.type
        if pa.types.is_floating(kind):
            values = col.to_numpy()
            finite = np.isfinite(values)
            if (
                not finite.all()
                and not (finite | col.is_null().to_numpy(zero_copy_only=False)).all()
            ):
                return None  # a literal NaN / Infinity: data, unlike a missing key
        elif not (pa.types.is_int64(kind) or pa.types.is_string(kind) or pa.types.is_boolean(kind)):
            # nested values, timestamps: kept as given by the careful decoder; a key only ever
            # null here: whether some record lacks it decides its column's type
            return None
    texts = {
        name: _canonical(col)
        for name, col in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_string(col.type)
    }
    return table, texts


def _canonical(col: Any) -> Text:
    """Read the canonical cells of a text column in native code (see :data:`_PERCENT`): the
    patterns only run on cells that end in ``%`` or ``s`` or hold a ``/``, and a matching cell is
    split at its separators, its digits cast to integers."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    arr = col.combine_chunks()
    n = len(arr)
    out = Text.missing(n)
    out.given = arr.is_valid().to_numpy(zero_copy_only=False)

    def matches(test: Any, pattern: str) -> tuple[np.ndarray, Any]:
        """Indices of the cells passing ``test`` that match ``pattern``, and those cells."""
        candidates = pc.fill_null(test, False)
        idx = np.flatnonzero(candidates.to_numpy(zero_copy_only=False))
        if not len(idx):
            return idx, None
        cells = arr.filter(candidates)
        ok = pc.match_substring_regex(cells, pattern)
        return idx[ok.to_numpy(zero_copy_only=False)], cells.filter(ok)

    idx, cells = matches(pc.ends_with(arr, "%"), _PERCENT)
    if len(idx):
        digits = pc.utf8_slice_codeunits(cells, 0, -1)
        out.value[idx] = pc.cast(digits, pa.float64()).to_numpy()
        out.done[idx] = True
    idx, cells = matches(pc.ends_with(arr, "s"), _DURATION)
    if len(idx):  # "1d 2h 3m 4s": each part a number and its unit
        parts = pc.split_pattern(cells, " ")
        flat = parts.flatten()
        unit = pc.utf8_slice_codeunits(flat, -1)
        number = pc.cast(pc.utf8_slice_codeunits(flat, 0, -1), pa.int64()).to_numpy()
        size = np.zeros(len(flat), np.int64)
        for letter, seconds in _UNITS:
            size[pc.equal(unit, letter).to_numpy(zero_copy_only=False)] = seconds
        owner = pc.list_parent_indices(parts).to_numpy()
        # sums of integers below 2**53: exact, as the careful parsers get them
        out.value[idx] = np.bincount(owner, weights=number * size, minlength=len(idx))
        out.done[idx] = True
    idx, cells = matches(pc.match_substring(arr, "/"), _FRACTION)
    if len(idx):
        pair = pc.cast(pc.split_pattern(cells, "/").flatten(), pa.int64()).to_numpy()
        out.num[idx], out.den[idx] = pair[0::2], pair[1::2]
        out.fraction[idx] = True
    return out


def _arrow_part(table: Any, texts: dict[str, Text], first_line: int) -> _Part:
    import pyarrow as pa  # noqa: PLC0415

    n = table.num_rows
    part = _Part(n, np.arange(first_line, first_line + n), list(table.column_names))
    part.text = texts
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_floating(col.type) or pa.types.is_int64(col.type):
            part.kinds[name] = "num"
            part.num[name] = col.to_numpy()  # int64 when every row has an integer
        else:
            part.kinds[name] = "obj"
        part.raw[name] = col
    return part


def _careful_part(
    chunk: JsonLines, special_keys: frozenset[str], special: list[dict[str, Any]]
) -> _Part:
    """A chunk decoded line by line: records with a special key go to ``special``."""
    rows: list[dict[str, Any]] = []
    row_lines: list[int] = []
    nan_set = set(chunk.nan_rows)
    part = _Part(0, np.empty(0, np.int64), [])
    for i, (obj, line) in enumerate(zip(chunk.objects, chunk.line_numbers, strict=True)):
        if special_keys and not special_keys.isdisjoint(obj):
            special.append(obj)
            continue
        if i in nan_set:
            part.nan_rows.append(len(rows))
            part.objects[len(rows)] = obj
        rows.append(obj)
        row_lines.append(line)
    part.n, part.row_lines = len(rows), np.asarray(row_lines, np.int64)
    part.keys = list(dict.fromkeys(k for obj in rows for k in obj))
    for key in part.keys:
        values = [obj.get(key, _MISSING) for obj in rows]
        given = [v for v in values if v is not _MISSING and v is not None]
        if not given:
            part.kinds[key] = "null" if _MISSING in values else "none"
        elif all(_is_number(v) for v in given):
            part.kinds[key] = "num"
            part.num[key] = _numbers(values)
        else:
            part.kinds[key] = "obj"
        part.raw[key] = [None if v is _MISSING else v for v in values]
    return part


def _numbers(values: list[Any]) -> np.ndarray:
    """int64 if every value is an int64 integer, else float64 with NaN for null / missing."""
    if all(type(v) is int for v in values):
        try:
            return np.array(values, np.int64)
        except OverflowError:
            pass
    return np.array(
        [np.nan if v is _MISSING or v is None else float(v) for v in values], np.float64
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _merge(parts: Sequence[_Part], lines: JsonLines, special: list[dict[str, Any]]) -> Columns:
    """One table from the chunks' parts, keys in order of first appearance."""
    n = sum(p.n for p in parts)
    keys = list(dict.fromkeys(k for p in parts for k in p.keys))
    columns: dict[str, np.ndarray] = {}
    texts: dict[str, Text] = {}
    for key in keys:
        kinds = {p.kinds.get(key, "null") for p in parts}
        if "obj" in kinds:
            out = np.empty(n, dtype=object)
            out[:] = np.nan
            at = 0
            for p in parts:
                if key in p.raw:
                    out[at : at + p.n] = _objects(p.raw[key])
                at += p.n
        elif kinds == {"none"}:  # null in every record: no number, no text
            out = np.full(n, None, dtype=object)
        else:  # numbers, or nulls where some record lacks the key (NaN, as pandas has it)
            nums = [p.num[key] if key in p.num else np.full(p.n, np.nan) for p in parts]
            if all(v.dtype.kind == "i" for v in nums):  # integers in every row: int64
                out = np.concatenate(nums)
            else:
                out = np.concatenate([v.astype(np.float64, copy=False) for v in nums])
        columns[key] = out
        if all(key in p.text or key not in p.kinds for p in parts):
            texts[key] = _concat_text([p.text.get(key) or Text.missing(p.n) for p in parts])
    result = Columns(
        n=n,
        columns=columns,
        row_lines=np.concatenate([p.row_lines for p in parts]),
        text=texts,
        special=special,
        lines=lines,
    )
    at = 0
    for p in parts:
        result.nan_rows += [at + r for r in p.nan_rows]
        result.objects.update({at + r: obj for r, obj in p.objects.items()})
        at += p.n
    return result


def _objects(values: Any) -> Any:
    """A part's values as Python objects (ints stay ints), NaN for null."""
    import pyarrow as pa  # noqa: PLC0415

    if isinstance(values, list) or pa.types.is_integer(values.type):
        values = values if isinstance(values, list) else values.to_pylist()
        return [np.nan if v is None else v for v in values]
    out = values.to_numpy(zero_copy_only=False).astype(object, copy=False)
    if values.null_count:
        out[values.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return out


def _concat_text(parts: list[Text]) -> Text:
    return Text(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Text.__dataclass_fields__)
    )
