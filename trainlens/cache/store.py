"""The on-disk cache entry: one file holding a JSON header and raw numpy columns.

Layout of an entry (``<dir>/<kind>/<2 hex>/<sha256 hex>.tlc``)::

    MAGIC (8 bytes) | header length (u64 LE) | header checksum (u64 LE) | header (JSON, UTF-8)
    | padding to 64 | column 0 | padding to 64 | column 1 | ...

The header names each column (dtype, length, offset) with its checksum, and carries the entry's
JSON data (reader metadata, warnings, the stamps it was built from). Why this and not Parquet:
the run tables are four fixed-width numeric columns plus a category list, so the raw bytes *are*
the columnar format; a column comes back as a copy-on-write memory map (no parse, no copy until
written), and it needs nothing beyond numpy: the cache works on a core install. One file per
entry makes a write one ``os.replace`` (atomic: two processes writing one key leave one whole
entry, never a mix) and a read one ``open``.

Never trusted: a short file, a bad magic, a header or column whose checksum does not match, or
anything unparsable is :class:`CorruptEntry`, and the caller reads the logs again. The
checksum mixes a 64-bit word sum and xor (cheap enough to run on every read
at memory speed; it guards against damage, not against an attacker who can write the cache).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"TLCACHE1"
_PREFIX = struct.Struct("<8sQQ")
_ALIGN = 64
_MAP_FROM = 16 << 20  # entries from this size on are memory-mapped


class CorruptEntry(Exception):
    """A cache entry that cannot be trusted (truncated, damaged, another format)."""


def digest(*parts: Any) -> str:
    """A stable hex key for JSON-able ``parts`` (never a path used as a file name)."""
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def checksum(buf: bytes | bytearray | memoryview | np.ndarray) -> int:
    """A 64-bit checksum of a byte buffer: the sum and the xor of its 64-bit words, its tail
    bytes and its length, mixed (one pass at memory speed)."""
    raw = np.frombuffer(buf, np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8)
    n = len(raw) - len(raw) % 8
    words = raw[:n].view(np.uint64)
    total = int(words.sum(dtype=np.uint64))
    mixed = int(np.bitwise_xor.reduce(words)) if n else 0
    tail = int.from_bytes(bytes(raw[n:]), "little")
    return (total ^ (mixed * 0x9E3779B97F4A7C15) ^ (tail << 3) ^ len(raw)) & (2**64 - 1)


@dataclass
class Entry:
    """A cache entry read back: its JSON ``data`` and its named columns."""

    data: dict[str, Any]
    columns: dict[str, np.ndarray]


def write_entry(path: Path, data: dict[str, Any], columns: dict[str, np.ndarray]) -> None:
    """Write an entry atomically (a temp file beside it, then ``os.replace``)."""
    layout = []
    offset = 0
    arrays = {}
    for name, col in columns.items():
        arr = np.ascontiguousarray(col)
        arrays[name] = arr
        layout.append(
            {
                "name": name,
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "offset": offset,
                "nbytes": arr.nbytes,
                "sum": checksum(arr),
            }
        )
        offset += -(-arr.nbytes // _ALIGN) * _ALIGN
    header = json.dumps({"data": data, "columns": layout}, allow_nan=True).encode("utf-8")
    start = _PREFIX.size + len(header)
    base = -(-start // _ALIGN) * _ALIGN
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".tlc")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, len(header), checksum(header)))
            fh.write(header)
            fh.write(b"\0" * (base - start))
            for arr in arrays.values():
                fh.write(
                    arr.reshape(-1).view(np.uint8).tobytes() if arr.nbytes < 1 << 20 else arr.data
                )
                fh.write(b"\0" * (-arr.nbytes % _ALIGN))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_entry(path: Path) -> Entry:
    """Read an entry; its columns are copy-on-write memory maps. Raises :class:`CorruptEntry`
    for anything that does not check out, ``FileNotFoundError`` when there is none."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < _PREFIX.size:
            raise CorruptEntry("truncated prefix")
        buf: mmap.mmap | bytearray
        if size >= _MAP_FROM:  # big: mapped (copy-on-write), paged in as it is used
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        else:  # small: read (a map would keep a file descriptor open per entry)
            buf = bytearray(size)
            if fh.readinto(buf) != size:
                raise CorruptEntry("short read")
    try:
        magic, hlen, hsum = _PREFIX.unpack_from(buf, 0)
        if magic != MAGIC:
            raise CorruptEntry("not a trainlens cache entry")
        start = _PREFIX.size
        if start + hlen > size:
            raise CorruptEntry("truncated header")
        header_bytes = buf[start : start + hlen]
        if checksum(header_bytes) != hsum:
            raise CorruptEntry("header checksum mismatch")
        header = json.loads(header_bytes.decode("utf-8"))
        base = -(-(start + hlen) // _ALIGN) * _ALIGN
        columns: dict[str, np.ndarray] = {}
        for item in header["columns"]:
            at, nbytes = base + int(item["offset"]), int(item["nbytes"])
            if at + nbytes > size:
                raise CorruptEntry(f"column {item['name']} truncated")
            dtype = np.dtype(item["dtype"])
            count = nbytes // dtype.itemsize if dtype.itemsize else 0
            arr = np.frombuffer(buf, dtype=dtype, count=count, offset=at)
            if checksum(arr) != int(item["sum"]):
                raise CorruptEntry(f"column {item['name']} checksum mismatch")
            columns[str(item["name"])] = arr.reshape(item["shape"])
        return Entry(dict(header["data"]), columns)
    except CorruptEntry:
        raise
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as exc:
        raise CorruptEntry(f"unreadable entry: {exc}") from None
