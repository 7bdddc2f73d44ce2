"""TFRecord framing for TensorBoard event files: find the records fast, report what is broken.

A record is ``uint64 length, uint32 masked crc32c(length), payload, uint32 masked crc32c(payload)``
(little endian). :class:`RecordScanner` reads a file in chunks and yields :class:`Block` s of
records whose header and payload checksums are both good; each problem becomes one
``(offset, message)``. Everything is vectorised per chunk: no Python loop runs once per record.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import crc32c
import numpy as np

HEADER = 12  #: length (8 bytes) + masked crc of the length (4 bytes)
FOOTER = 4  #: masked crc of the payload
CHUNK = 8 << 20  #: bytes read per step; bounds the size of every temporary array
_SCAN = 1 << 20  #: header positions tested per step while resynchronising
_SEQUENTIAL = 256  #: records walked one by one before predicting the next ones
_MAX_PERIOD = 64  #: longest repeating pattern of record sizes looked for
_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_ZEROS = memoryview(bytes(1 << 16))
#: A header claiming a longer payload is corrupt, whatever its checksum (protobuf's own limit
#: is 2 GiB; an event is far smaller).
MAX_RECORD = 1 << 30


def masked_crc(data: bytes | memoryview) -> int:
    """TFRecord's masked crc32c of ``data``."""
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _mask(c: np.ndarray) -> np.ndarray:
    return ((c >> np.uint32(15)) | (c << np.uint32(17))) + np.uint32(_MASK_DELTA)


@functools.cache
def _length_tables() -> tuple[np.uint32, np.ndarray]:
    """crc32c is affine in its input: crc(8 bytes) = crc(zeros) ^ XOR_k table[k][byte_k]."""
    zero = crc32c.crc32c(bytes(8))
    tables = np.empty((8, 256), np.uint32)
    for k in range(8):
        for v in range(256):
            probe = bytearray(8)
            probe[k] = v
            tables[k, v] = crc32c.crc32c(bytes(probe)) ^ zero
    return np.uint32(zero), tables


def unaligned(u8: np.ndarray, pos: np.ndarray, dtype: str) -> np.ndarray:
    """Little-endian numbers of ``dtype`` at arbitrary byte positions (clipped into the buffer)."""
    dt = np.dtype(dtype)
    count = len(u8) - dt.itemsize + 1
    if count <= 0:
        return np.zeros(len(pos), dt)
    view = np.ndarray((count,), dt, buffer=u8, strides=(1,))  # overlapping, unaligned items
    return view[np.clip(pos, 0, count - 1)]


def headers_ok(u8: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Vectorised check of the length checksum of the record headers at ``pos``."""
    zero, tables = _length_tables()
    c = np.full(len(pos), zero, np.uint32)
    for k in range(8):
        c ^= tables[k][u8.take(pos + k, mode="clip")]
    return _mask(c) == unaligned(u8, pos + 8, "<u4")


@dataclass
class Block:
    """Good records of one chunk: record ``i`` holds ``lengths[i]`` payload bytes after its
    12-byte header at ``buf[starts[i]]``."""

    buf: bytes
    u8: np.ndarray
    base: int  #: file offset of ``buf[0]``
    starts: np.ndarray  #: buffer index of each record's header
    lengths: np.ndarray  #: payload length of each record


def _walk(buf: bytes, u8: np.ndarray, pos: int, end: int) -> tuple[np.ndarray, int]:
    """Record starts from ``pos`` while whole records fit before ``end`` (checksums unchecked).

    Scalar logs repeat the same record sizes step after step, so after a short sequential walk
    the sizes of the following periods are predicted and checked in bulk. A prediction is kept
    only while each predicted length field holds the predicted length, so the result is always
    exactly the sequential walk.
    """
    parts: list[np.ndarray] = []
    budget = _SEQUENTIAL
    while True:
        starts: list[int] = []
        pos, stopped = _walk_sequential(buf, pos, end, budget, starts)
        if starts:
            parts.append(np.asarray(starts, np.int64))
        if stopped:
            break
        sizes = np.diff(np.append(parts[-1][-2 * _MAX_PERIOD :], pos))
        pattern = _period(sizes)
        if pattern is None:
            budget = min(budget * 2, 1 << 16)  # aperiodic: try again later, not on every record
            continue
        predicted, pos = _predict(u8, pos, end, pattern)
        parts.extend(predicted)
        budget = _SEQUENTIAL if predicted else min(budget * 2, 1 << 16)
    return (np.concatenate(parts) if parts else np.empty(0, np.int64)), pos


def _walk_sequential(
    buf: bytes, pos: int, end: int, limit: int, starts: list[int]
) -> tuple[int, bool]:
    """Up to ``limit`` records one by one; True when the next record does not fit."""
    append = starts.append
    unpack = _U64.unpack_from
    last = end - HEADER
    while limit:
        if pos > last:
            return pos, True
        nxt = pos + unpack(buf, pos)[0] + HEADER + FOOTER
        if nxt > end:
            return pos, True
        append(pos)
        pos = nxt
        limit -= 1
    return pos, False


def _period(sizes: np.ndarray) -> np.ndarray | None:
    """The sizes of one period if the recent record sizes repeat (at least twice), else None."""
    window = sizes.tolist()
    for p in range(1, min(_MAX_PERIOD, len(window) // 2) + 1):
        if window[p:] == window[:-p]:
            return sizes[-p:]
    return None


def _predict(
    u8: np.ndarray, pos: int, end: int, pattern: np.ndarray
) -> tuple[list[np.ndarray], int]:
    """Starts of the records that continue ``pattern`` from ``pos``, checked in growing batches."""
    span = int(pattern.sum())
    offsets = np.cumsum(pattern) - pattern
    lengths = (pattern - (HEADER + FOOTER)).astype(np.uint64)
    found: list[np.ndarray] = []
    batch = 8
    while (periods := min(batch, (end - pos) // span)) > 0:
        starts = (pos + span * np.arange(periods, dtype=np.int64)[:, None] + offsets).ravel()
        match = unaligned(u8, starts, "<u8") == np.tile(lengths, periods)
        good = len(match) if match.all() else int(np.argmin(match))
        if good:
            found.append(starts[:good])
        if good < len(match):
            return found, int(starts[good])
        pos += span * periods
        batch *= 4
    return found, pos


class RecordScanner:
    """Reads a TFRecord file from ``offset`` in chunks, yielding blocks of intact records.

    After :meth:`blocks` is exhausted, ``problems`` lists ``(file offset, message)`` pairs and
    ``end_offset`` is where a later call should resume. With ``final=False`` a record that is still
    being written is not a problem: ``end_offset`` stays at its start.
    """

    def __init__(self, f: BinaryIO, offset: int = 0, *, final: bool = True) -> None:
        self._f = f
        self._final = final
        self.offset = offset
        self.end_offset = offset
        self.problems: list[tuple[int, str]] = []

    def _problem(self, offset: int, message: str) -> None:
        self.problems.append((offset, message))

    def _file_size(self) -> int:
        return os.fstat(self._f.fileno()).st_size

    def blocks(self) -> Iterator[Block]:
        """Yield blocks of records with good checksums, in file order."""
        buf, base, pos, eof = b"", self.offset, 0, False
        want = HEADER  # bytes needed after ``pos`` before anything more can be decided
        resync_from: int | None = None  # file offset of a bad record while looking for the next
        why = ""  # what was wrong with it
        self._f.seek(self.offset)
        while True:
            if len(buf) - pos < want and not eof:
                chunk = self._f.read(max(CHUNK, want - (len(buf) - pos)))
                eof = not chunk
                buf, base, pos = buf[pos:] + chunk, base + pos, 0
                continue
            end = len(buf)
            if resync_from is not None:
                found = _find_header(buf, pos, end)
                if found is None:
                    pos = max(pos, end - HEADER + 1)
                    if eof:
                        self._give_up_resync(resync_from, why, base + pos, base + end)
                        return
                    want = HEADER
                    continue
                skipped = base + found - resync_from
                self._problem(
                    resync_from,
                    f"{why.format(at=resync_from)}; skipped {skipped} bytes to the next record",
                )
                resync_from, pos = None, found
                self.end_offset = base + pos
            u8 = np.frombuffer(buf, np.uint8)
            arr, stop = _walk(buf, u8, pos, end)
            bad_at: int | None = None
            if len(arr):
                lengths = np.diff(np.append(arr, stop)) - (HEADER + FOOTER)
                good = unaligned(u8, arr + 8, "<u4") == _per_length(lengths, _length_crc)
                if not good.all():
                    first_bad = int(np.argmin(good))
                    stop = bad_at = int(arr[first_bad])
                    arr, lengths = arr[:first_bad], lengths[:first_bad]
                    why = _BAD_HEADER
                if len(arr):
                    # A record whose payload checksum fails may have a wrong length too (a cut
                    # record with data appended after it): never trust its length, resynchronise.
                    intact = payloads_ok(buf, u8, arr, lengths)
                    if not intact.all():
                        first_bad = int(np.argmin(intact))
                        stop = bad_at = int(arr[first_bad])
                        arr, lengths = arr[:first_bad], lengths[:first_bad]
                        why = _BAD_PAYLOAD
                    if len(arr):
                        yield Block(buf, u8, base, arr, lengths)
            pos = stop
            self.end_offset = base + pos
            if bad_at is None and end - pos >= HEADER:
                n = _U64.unpack_from(buf, pos)[0]
                if masked_crc(buf[pos : pos + 8]) != _U32.unpack_from(buf, pos + 8)[0]:
                    bad_at, why = pos, _BAD_HEADER
                else:
                    want = n + HEADER + FOOTER
                    file_end = base + end if eof else self._file_size()
                    fits = base + pos + want <= file_end
                    if fits and n <= MAX_RECORD:
                        continue
                    if not self._final and n <= MAX_RECORD:
                        self.end_offset = base + pos  # still being written: wait for the rest
                        return
                    # cut short, or a length only a corrupt header holds: look further
                    bad_at, why = (
                        pos,
                        (
                            f"record at byte {{at}} claims {n:,} bytes, more than any event"
                            if fits
                            else _TRUNCATED
                            + f": needs {want} bytes, file ends after {file_end - base - pos}"
                        ),
                    )
            if bad_at is not None:
                resync_from, pos, want = base + bad_at, bad_at + 1, HEADER
                continue
            if eof:
                if pos < end:
                    self._incomplete(base + pos, HEADER, base + end)
                return
            want = HEADER

    def _incomplete(self, start: int, need: int, file_end: int) -> None:
        """A record cut short by the end of the file: truncated, or still being written."""
        self.end_offset = start
        if self._final:
            self._problem(
                start,
                f"truncated record at byte {start}: needs {need} bytes, "
                f"file ends after {file_end - start}",
            )

    def _give_up_resync(self, bad: int, why: str, scanned_to: int, file_end: int) -> None:
        """Garbage from ``bad`` to the end of the file (or to a record not yet written)."""
        if why.startswith(_TRUNCATED):  # a last record cut short, nothing after it
            self._problem(bad, why.format(at=bad))
        else:
            self._problem(
                bad,
                f"{why.format(at=bad)}; no valid record after it ({file_end - bad} bytes skipped)",
            )
        # A live writer may still complete a header in the last few bytes: resume there.
        self.end_offset = bad if self._final else scanned_to


_BAD_HEADER = "corrupt record header at byte {at}"
_BAD_PAYLOAD = "corrupt record at byte {at}: payload checksum mismatch"
_TRUNCATED = "truncated record at byte {at}"


def _find_header(buf: bytes, pos: int, end: int) -> int | None:
    """First index in ``[pos, end - 12]`` holding a record header with a valid checksum."""
    u8 = np.frombuffer(buf, np.uint8)
    last = end - HEADER
    while pos <= last:
        cand = np.arange(pos, min(pos + _SCAN, last + 1), dtype=np.int64)
        hit = np.flatnonzero(headers_ok(u8, cand))
        if len(hit):
            return int(cand[hit[0]])
        pos += _SCAN
    return None


def payloads_ok(buf: bytes, u8: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Payload checksum verdicts for consecutive records, all verified by one crc32c pass.

    crc32c without its initial and final inversion ("raw") is linear, and the raw crc of
    ``data + raw_crc(data)`` is 0. So in a copy of the records with every header zeroed and every
    footer replaced by the raw crc it claims, the raw crc of the whole copy is 0 exactly when every
    record is intact (up to crc32c's own 2**-32 odds when several are damaged). Otherwise each
    record is checked on its own.
    """
    ends = starts + HEADER + lengths
    claimed = _unmask(unaligned(u8, ends, "<u4"))  # crc32c of each payload, per its footer
    first, stop = int(starts[0]), int(ends[-1]) + FOOTER
    region = bytearray(memoryview(buf)[first:stop])
    _put(region, starts - first, np.uint64(0), "<u8")
    _put(region, starts - first + 8, np.uint32(0), "<u4")
    _put(region, ends - first, claimed ^ _per_length(lengths, _zeros_crc), "<u4")
    if ~crc32c.crc32c(region, 0xFFFFFFFF) & 0xFFFFFFFF == 0:
        return np.ones(len(starts), bool)
    mv = memoryview(buf)
    begin = (starts + HEADER).tolist()
    crcs = np.fromiter(
        map(crc32c.crc32c, map(mv.__getitem__, map(slice, begin, ends.tolist()))),
        np.uint32,
        count=len(starts),
    )
    return crcs == claimed


def _unmask(m: np.ndarray) -> np.ndarray:
    rot = m - np.uint32(_MASK_DELTA)
    return (rot >> np.uint32(17)) | (rot << np.uint32(15))


def _put(region: bytearray, pos: np.ndarray, values: np.ndarray | np.generic, dtype: str) -> None:
    """Write little-endian numbers at arbitrary byte positions of ``region``."""
    dt = np.dtype(dtype)
    view = np.ndarray((len(region) - dt.itemsize + 1,), dt, buffer=region, strides=(1,))
    view[pos] = values


def _zeros_crc(n: int) -> int:
    """crc32c of ``n`` zero bytes (the affine part of crc32c for that length)."""
    c = 0
    while n > 0:
        c = crc32c.crc32c(_ZEROS[: min(n, len(_ZEROS))], c)
        n -= len(_ZEROS)
    return c


def _length_crc(n: int) -> int:
    """The masked crc a record header holds for payload length ``n``."""
    return masked_crc(_U64.pack(n))


def _per_length(lengths: np.ndarray, fn: Callable[[int], int]) -> np.ndarray:
    """``fn(n)`` for every ``n`` in ``lengths``, computed once per distinct length."""
    values = distinct(lengths)
    if values[-1] < 1 << 16:
        table = np.zeros(int(values[-1]) + 1, np.uint32)
        table[values] = [fn(n) for n in values.tolist()]
        return table[lengths]
    return np.array([fn(n) for n in values.tolist()], np.uint32)[np.searchsorted(values, lengths)]


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a non-empty array of small non-negative integers, fast."""
    top = int(values.max())
    if top < 1 << 16:
        return np.flatnonzero(np.bincount(values, minlength=top + 1))
    return np.unique(values)


def factorize(values: np.ndarray) -> np.ndarray:
    """Codes numbering the distinct ``values`` (non-negative integers) in order of first
    appearance (what ``pandas.factorize`` gives, without pandas), in O(n) when they are few (a
    file's tags): the distinct values of the first 1,024, completed by those they missed, are looked
    up by their low bits (or by binary search when those collide)."""
    n = len(values)
    if not n:
        return np.empty(0, np.int64)
    uniq = np.unique(values[:1024])
    idx = _lookup(uniq, values)
    for attempt in range(8):  # values first seen later (an eval tag): add them, look up again
        missed = values[uniq[idx] != values]
        if not len(missed):
            break
        uniq = np.union1d(uniq, missed if attempt == 7 else missed[:1024])
        idx = _lookup(uniq, values)
    first = np.full(len(uniq), n, np.int64)
    np.minimum.at(first, idx, np.arange(n))
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    return rank[idx]


def _lookup(uniq: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each value, an index into the sorted ``uniq`` (right where the value is in it)."""
    low = uniq.astype(np.uint64)
    for bits in range(max(len(uniq) - 1, 1).bit_length() + 1, 17):
        mask = np.uint64((1 << bits) - 1)
        slots = low & mask
        if len(np.unique(slots)) == len(uniq):  # the low bits tell the values apart
            table = np.zeros(1 << bits, np.int64)
            table[slots] = np.arange(len(uniq))
            return table[values.astype(np.uint64, copy=False) & mask]
    idx = np.searchsorted(uniq, values)
    return np.minimum(idx, len(uniq) - 1, out=idx)
