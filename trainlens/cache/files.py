"""Cached reads of one log file, and reads of a grown file from where the last one stopped.

An entry is valid while the file's (size, mtime_ns, inode) and its reader's ``VERSION`` are
what they were. A file of a :data:`RESUMABLE` format that only grew (same inode, larger, the
bytes just before the last offset unchanged) is read from that offset: its reader runs once
with ``final=False`` up to the last complete record (the *prefix*, which a later resume keeps)
and once more with ``final=True`` over what is left (a record still being written: the *tail*,
read again next time), so the result equals one read of the whole file (when the tail warns,
that is checked against a whole read, which wins if they differ).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.cache import ResultCache, is_racy
from trainlens.cache.codec import Uncacheable, decode, encode
from trainlens.cache.store import digest
from trainlens.discover import SourceFormat
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, Table, concat_tables, empty_frame
from trainlens.readers.registry import read_source_file, reader_version

KIND = "read"
#: Bytes before the last offset compared to tell growth from a rewrite (as ``watch`` does).
FINGERPRINT_BYTES = 4096


def _first_wins(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {**new, **old}


#: Formats whose reader gives the same table for a file read whole or in two parts at a record
#: boundary, with how the two parts' metadata combine. (JSON-lines and console readers derive
#: metadata from the whole file, e.g. swift's generation, console rounding: read whole.)
RESUMABLE: dict[SourceFormat, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    SourceFormat.TENSORBOARD: _first_wins,  # file_version: the first record's
}


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _fingerprint(path: Path, offset: int) -> str | None:
    """A digest of the first and last :data:`FINGERPRINT_BYTES` before ``offset``."""
    try:
        with open_regular(path) as fh:
            head = fh.read(min(offset, FINGERPRINT_BYTES))
            start = max(len(head), offset - FINGERPRINT_BYTES)
            fh.seek(start)
            data = head + fh.read(offset - start)
    except OSError:
        return None
    return digest(data.hex()) if len(data) == min(offset, 2 * FINGERPRINT_BYTES) else None


def frame_columns(table: Table, prefix: str = "") -> dict[str, np.ndarray]:
    return {
        f"{prefix}codes": table.codes,
        f"{prefix}step": table.step,
        f"{prefix}value": table.value,
        f"{prefix}wall_time": table.wall_time,
    }


def frame_from(columns: dict[str, np.ndarray], names: list[str], prefix: str = "") -> Table:
    if not len(columns[f"{prefix}step"]):
        return empty_frame()
    table = Table(
        names,
        columns[f"{prefix}codes"],
        columns[f"{prefix}step"],
        columns[f"{prefix}value"],
        columns[f"{prefix}wall_time"],
    )
    return table.check()


def cached_read(
    cache: ResultCache,
    fmt: SourceFormat,
    path: Path,
    *,
    member: str | None = None,
    steps_per_epoch: float | None = None,
) -> ReadResult:
    """What ``read_source_file(fmt, path, member=..., steps_per_epoch=...)`` returns, from the
    cache when the file is unchanged (or only grew, for :data:`RESUMABLE` formats)."""

    def fresh() -> ReadResult:
        return read_source_file(fmt, path, member=member, steps_per_epoch=steps_per_epoch)

    try:
        st = os.stat(path)
    except OSError:
        return fresh()  # the reader says why
    if not stat.S_ISREG(st.st_mode):
        return fresh()
    version = reader_version(fmt)
    key = digest(KIND, fmt.value, str(Path(path).absolute()), member, steps_per_epoch)
    entry = cache.load(KIND, key)
    data = entry.data if entry is not None else {}
    if entry is not None and data.get("version") == version and data.get("format") == fmt.value:
        try:
            if data["stamp"] == _stamp(st) and not is_racy(st.st_mtime_ns, data["written"]):
                return _whole(entry.columns, data)
            prefix = _resumable_prefix(path, st, fmt, data, entry.columns)
        except (KeyError, TypeError, ValueError, IndexError):
            prefix = None  # an entry of unexpected shape: read again
        if prefix is not None:
            return _store(cache, key, fmt, path, st, version, *_read_on(fmt, path, prefix))
    if fmt not in RESUMABLE:
        result = fresh()
        _store(cache, key, fmt, path, st, version, result, None)
        return result
    start = ReadResult(empty_frame(), [], {}, 0)
    return _store(cache, key, fmt, path, st, version, *_read_on(fmt, path, start))


def _whole(columns: dict[str, np.ndarray], data: dict[str, Any]) -> ReadResult:
    names = data["names"]
    frame = frame_from(columns, names)
    return ReadResult(
        frame, decode(data["warnings"]), decode(data["meta"]), int(data["end_offset"])
    )


def _resumable_prefix(
    path: Path, st: os.stat_result, fmt: SourceFormat, data: dict[str, Any], cols: dict[str, Any]
) -> ReadResult | None:
    """The cached prefix of a file that only grew since, else None."""
    resume = data.get("resume")
    if fmt not in RESUMABLE or not resume:
        return None
    size, _mtime, inode = data["stamp"]
    offset = int(resume["offset"])
    if st.st_ino != inode or st.st_size <= size or _fingerprint(path, offset) != resume["print"]:
        return None
    rows = int(resume["rows"])
    prefix_cols = {k: v[:rows] for k, v in cols.items()}
    frame = frame_from(prefix_cols, data["names"]).without_unused()  # the tail's keys dropped
    warnings = decode(data["warnings"])[: int(resume["warnings"])]
    return ReadResult(frame, warnings, decode(resume["meta"]), offset)


def _read_on(
    fmt: SourceFormat, path: Path, prefix: ReadResult
) -> tuple[ReadResult, ReadResult | None]:
    """Extend ``prefix`` to the file's last complete record, then read the rest as final.
    Returns (the whole result, the new prefix). When the rest raised a warning (a torn or
    damaged last record), the whole file is read once more and wins if it differs: a reader
    may resynchronise differently over damage; then no resume point is kept."""
    merge = RESUMABLE[fmt]
    more = read_source_file(fmt, path, prefix.end_offset, final=False)
    grown = ReadResult(
        concat_tables([prefix.table, more.table]),
        prefix.warnings + more.warnings,
        merge(prefix.meta, more.meta),
        max(prefix.end_offset, more.end_offset),
    )
    tail = read_source_file(fmt, path, grown.end_offset, final=True)
    whole = ReadResult(
        concat_tables([grown.table, tail.table]),
        grown.warnings + tail.warnings,
        merge(grown.meta, tail.meta),
        max(grown.end_offset, tail.end_offset),
    )
    if not more.warnings and not tail.warnings:
        return whole, grown
    check = read_source_file(fmt, path)
    if _same(whole, check):
        return whole, grown
    return check, None


def _same(a: ReadResult, b: ReadResult) -> bool:
    fa, fb = a.table, b.table
    if len(fa) != len(fb) or a.warnings != b.warnings or a.meta != b.meta:
        return False
    if fa.names != fb.names:
        return False
    return (
        np.array_equal(fa.step, fb.step)
        and np.array_equal(fa.value, fb.value, equal_nan=True)
        and np.array_equal(fa.wall_time, fb.wall_time, equal_nan=True)
        and np.array_equal(fa.codes, fb.codes)
    )


def _store(
    cache: ResultCache,
    key: str,
    fmt: SourceFormat,
    path: Path,
    st: os.stat_result,
    version: int,
    result: ReadResult,
    prefix: ReadResult | None,
) -> ReadResult:
    """Write ``result`` (and where a resume starts: ``prefix``) under ``key``; return it."""
    frame = result.table
    names = list(frame.names)
    if not all(type(n) is str for n in names):
        return result  # the entry keeps names as JSON strings
    try:
        data: dict[str, Any] = {
            "format": fmt.value,
            "version": version,
            "stamp": _stamp(st),
            "written": time.time_ns(),
            "names": names,
            "warnings": encode(result.warnings),
            "meta": encode(result.meta),
            "end_offset": int(result.end_offset),
        }
        if prefix is not None and prefix.end_offset:
            fingerprint = _fingerprint(path, prefix.end_offset)
            if fingerprint is not None:
                data["resume"] = {
                    "offset": int(prefix.end_offset),
                    "rows": len(prefix.table),
                    "warnings": len(prefix.warnings),
                    "meta": encode(prefix.meta),
                    "print": fingerprint,
                }
    except Uncacheable:
        return result
    if len(names) != len(set(names)):
        return result  # two categories with one name: not this table's shape
    cache.store(KIND, key, data, frame_columns(frame))
    return result
