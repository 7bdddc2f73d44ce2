"""TensorBoard event files (``events.out.tfevents.*``) → the long scalar table.

Keeps scalar summaries: ``simple_value`` (torch / tensorboardX ``add_scalar``) and one-element
numeric tensors (TF2 ``tf.summary.scalar``, torch ``new_style=True``). Everything else (histograms,
images, text, hparams, graphs, file_version) is skipped silently.

Speed comes from decoding the common layouts in bulk with numpy::

    Event{1: wall_time, 2: step, 5: Summary{1: Value{1: tag, 2: simple_value | 8: tensor, 9: meta}}}

one vectorised pass per chunk, tag bytes turned into integer codes once per distinct tag; any record
that does not fit the layout goes through protobuf (``tensorboard.compat.proto``) instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, Table, empty_frame, frame_from_codes
from trainlens.readers._tfrecord import HEADER, Block, RecordScanner, distinct, factorize
from trainlens.readers._tfrecord import unaligned as _fixed

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

__all__ = ["read_event_file"]

_MAX_LEN = 1 << 40  # varint lengths beyond this are garbage (and must not overflow int64 maths)
_HASH_MULT = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
    ],
    np.uint64,
)


def read_event_file(path: Path, offset: int = 0, *, final: bool = True) -> ReadResult:
    """Read the scalars of one event file from byte ``offset``, in file order.

    Bad input never raises: each problem becomes one :class:`ReadWarning` naming the byte offset.
    ``final=False`` (a file still being written) leaves an incomplete last record for the next
    call: ``end_offset`` points at its start. ``meta`` holds the file's ``file_version`` string.
    """
    source = str(path)
    try:
        f = open_regular(path)  # noqa: SIM115 - closed below
    except OSError as exc:
        return _failed(source, f"cannot read file: {exc.strerror or exc}", offset)
    with f:
        try:
            size = f.seek(0, 2)
            if size == 0:
                warnings = [ReadWarning(source, "empty file")] if final else []
                return ReadResult(empty_frame(), warnings, {}, 0)
            if offset > size:
                return _failed(
                    source,
                    f"start offset {offset} is past the end of the file ({size} bytes)",
                    offset,
                )
            collector = _Collector()
            scanner = RecordScanner(f, offset, final=final)
            for block in scanner.blocks():
                collector.add_block(block)
        except OSError as exc:
            return _failed(source, f"cannot read file: {exc.strerror or exc}", offset)
    problems = sorted(scanner.problems + collector.problems)
    return ReadResult(
        collector.frame(),
        [ReadWarning(source, msg) for _, msg in problems],
        collector.meta,
        scanner.end_offset,
    )


def _failed(source: str, message: str, offset: int) -> ReadResult:
    return ReadResult(empty_frame(), [ReadWarning(source, message)], {}, offset)


class _Collector:
    """Accumulates decoded columns across blocks; tag names get integer codes on first sight."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.columns: tuple[list[np.ndarray], ...] = ([], [], [], [])  # codes, step, value, wall
        self.problems: list[tuple[int, str]] = []
        self.meta: dict[str, Any] = {}

    def code(self, name: str) -> int:
        c = self.codes.get(name)
        if c is None:
            c = self.codes[name] = len(self.names)
            self.names.append(name)
        return c

    def add_block(self, block: Block) -> None:
        u8 = block.u8
        p = block.starts + HEADER
        fast = _decode_fast(u8, p, p + block.lengths)
        ok, tag_pos, tag_len = fast["ok"], fast["tag_pos"], fast["tag_len"]
        codes = np.full(len(p), -1, np.int32)
        if ok.any():
            idx = np.flatnonzero(ok)
            local, names = _factorize_tags(u8, tag_pos[idx], tag_len[idx])
            lut = np.empty(len(names), np.int32)
            for i, raw in enumerate(names):
                try:
                    lut[i] = self.code(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    lut[i] = -1  # protobuf gets the record and reports it
            codes[idx] = lut[local]
            ok = codes >= 0
        cols: tuple[np.ndarray, ...] = (codes, fast["step"], fast["value"], fast["wall"])
        if ok.all():  # the usual case: every record was a plain scalar
            for column, part in zip(self.columns, cols):
                column.append(part)
            return
        order = np.flatnonzero(ok)
        cols = tuple(col[order] for col in cols)
        extra = self._decode_slow(block, np.flatnonzero(~ok))
        if extra is not None:
            rec = np.concatenate([order, extra[0]])
            perm = np.argsort(rec, kind="stable")
            cols = tuple(np.concatenate([a, b])[perm] for a, b in zip(cols, extra[1:]))
        for column, part in zip(self.columns, cols):
            column.append(part)

    def _decode_slow(self, block: Block, which: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Protobuf path for records outside the fast layout; None when they hold no scalars."""
        from tensorboard.compat.proto.event_pb2 import Event

        rec: list[int] = []
        tags: list[int] = []
        steps: list[int] = []
        values: list[float] = []
        walls: list[float] = []
        buf = block.buf
        for i, s, n in zip(
            which.tolist(), block.starts[which].tolist(), block.lengths[which].tolist()
        ):
            try:
                event = Event.FromString(buf[s + HEADER : s + HEADER + n])
            except Exception as exc:  # noqa: BLE001 - any bad payload is a warning
                off = block.base + s
                message = f"undecodable record at byte {off}: {exc}; record skipped"
                self.problems.append((off, message))
                continue
            if event.HasField("file_version"):
                self.meta.setdefault("file_version", event.file_version)
            if not event.HasField("summary"):
                continue
            for v in event.summary.value:
                kind = v.WhichOneof("value")
                if kind == "simple_value":
                    value, tag = v.simple_value, v.tag
                elif kind == "tensor":
                    value, tag = _tensor_scalar(v.tensor), v.tag or v.node_name
                    if value is None:
                        continue
                else:
                    continue
                rec.append(i)
                tags.append(self.code(tag))
                steps.append(event.step)
                values.append(value)
                walls.append(event.wall_time)
        if not rec:
            return None
        return (
            np.array(rec, np.int64),
            np.array(tags, np.int32),
            np.array(steps, np.int64),
            np.array(values, np.float64),
            np.array(walls, np.float64),
        )

    def frame(self) -> Table:
        """The table of everything read, categories in order of first appearance."""
        if not self.columns[0]:
            return empty_frame()
        cols = []
        for column in self.columns:  # one column at a time: the parts go as the whole arrives
            cols.append(np.concatenate(column))
            column.clear()
        codes, names = cols[0], self.names
        if not len(codes):
            return empty_frame()
        running = np.maximum.accumulate(codes)
        ordered = codes[0] == 0 and running[-1] == len(names) - 1 and (np.diff(running) <= 1).all()
        if not ordered:  # renumber the codes in order of first appearance
            seen = codes[_first_index(factorize(codes))]
            lut = np.full(len(names), -1, np.int32)
            lut[seen] = np.arange(len(seen), dtype=np.int32)
            codes = lut[codes]
            names = [names[i] for i in seen.tolist()]
        return frame_from_codes(names, codes, cols[1], cols[2], cols[3])


def _first_index(codes: np.ndarray) -> np.ndarray:
    """Where each code first occurs, for codes numbered in order of first appearance."""
    running = np.maximum.accumulate(codes)
    return np.flatnonzero(np.diff(running, prepend=-1) > 0)


# ---- the vectorised fast path ------------------------------------------------------------------


def _at(u8: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return u8.take(pos, mode="clip")


_HIGH_BITS = np.uint64(0x8080808080808080)
_SEVEN_BITS = [np.uint64(0x7F << (7 * i)) for i in range(8)]


def _varint(u8: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints at ``pos``: (uint64 value, byte count; 0 when not terminated in 10 bytes).

    Up to 8 bytes are decoded from one 64-bit load per varint; longer ones (negative numbers)
    byte by byte.
    """
    word = _fixed(u8, pos, "<u8")
    last = ~word & _HIGH_BITS  # the high bit of a varint's last byte is clear
    last &= ~last + np.uint64(1)  # lowest such bit: 1 << (8 * (nbytes - 1) + 7)
    word &= (last << np.uint64(1)) - np.uint64(1)
    value = word & _SEVEN_BITS[0]
    for i in range(1, 8):
        value |= (word >> np.uint64(i)) & _SEVEN_BITS[i]
    nbytes = (np.log2(np.maximum(last, 1).astype(np.float64)).astype(np.int64) + 1) // 8
    long = np.flatnonzero(last == 0)
    for i in long.tolist():  # 9 or 10 bytes, or garbage: rare enough for a loop
        value[i], nbytes[i] = _varint_slow(u8, int(pos[i]))
    return value, nbytes


def _varint_slow(u8: np.ndarray, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(10):
        if pos + i >= len(u8):
            break
        b = int(u8[pos + i])
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, i + 1
    return 0, 0


def _length(u8: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A varint length field as a safe int64, and where its data starts (-1 when malformed)."""
    first = _at(u8, pos)
    if not (first & 0x80).any():  # the usual case: every length below 128
        return first.astype(np.int64), pos + 1
    value, nbytes = _varint(u8, pos)
    value = np.minimum(value, _MAX_LEN).astype(np.int64)
    return value, np.where(nbytes > 0, pos + nbytes, -1)


def _decode_fast(u8: np.ndarray, p: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
    """Decode the single-scalar events in bulk; ``ok`` marks the records that fit the layout."""
    n = len(p)
    ok = _at(u8, p) == 0x09  # Event.wall_time (double)
    wall = _fixed(u8, p + 1, "<f8")
    q = p + 9
    has_step = _at(u8, q) == 0x10  # Event.step (varint; absent when 0)
    step = np.zeros(n, np.int64)
    if has_step.any():
        raw, nbytes = _varint(u8, q + 1)
        step = np.where(has_step, raw.view(np.int64), 0)
        ok &= ~has_step | (nbytes > 0)
        q = q + np.where(has_step, 1 + nbytes, 0)
    for tag_byte in (0x2A, 0x0A):  # Event.summary, then Summary.value: the rest of the record
        ok &= _at(u8, q) == tag_byte
        size, q = _length(u8, q + 1)
        ok &= (q > 0) & (q + size == end)
    ok &= _at(u8, q) == 0x0A  # Value.tag
    tag_len, tag_pos = _length(u8, q + 1)
    q = tag_pos + tag_len
    ok &= (tag_pos > 0) & (q < end)
    kind = _at(u8, q)
    simple = kind == 0x15  # Value.simple_value (float)
    if simple.all():  # the usual case
        value, after = _fixed(u8, q + 1, "<f4").astype(np.float64), q + 5
    else:
        value = np.full(n, np.nan)
        after = np.full(n, -1, np.int64)  # end of the value field
        simple &= ok
        value[simple] = _fixed(u8, q[simple] + 1, "<f4")
        after[simple] = q[simple] + 5
        tensor = np.flatnonzero(ok & (kind == 0x42))  # Value.tensor
        if len(tensor):
            value[tensor], after[tensor] = _tensor_fast(u8, q[tensor] + 1)
        ok &= after > 0
    at_end = after == end
    if not at_end.all():  # optional Value.metadata, last
        meta_len, meta_pos = _length(u8, after + 1)
        ok &= at_end | ((_at(u8, after) == 0x4A) & (meta_pos > 0) & (meta_pos + meta_len == end))
    return {
        "ok": ok,
        "wall": wall,
        "step": step,
        "value": value,
        "tag_pos": tag_pos,
        "tag_len": tag_len,
    }


def _tensor_fast(u8: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scalar float/double TensorProtos (dtype, optional empty shape, one value); -1 stop if not."""
    size, t = _length(u8, pos)
    stop = t + size
    dtype = _at(u8, t + 1)
    ok = (t > 0) & (_at(u8, t) == 0x08) & ((dtype == 1) | (dtype == 2))  # DT_FLOAT, DT_DOUBLE
    r = t + 2
    r = r + 2 * ((_at(u8, r) == 0x12) & (_at(u8, r + 1) == 0))  # tensor_shape {} (scalar)
    field, width = _at(u8, r), _at(u8, r + 1)
    f32 = (dtype == 1) & ((field == 0x2A) | (field == 0x22)) & (width == 4)  # float_val, content
    f64 = (dtype == 2) & ((field == 0x32) | (field == 0x22)) & (width == 8)  # double_val, content
    ok &= (f32 & (r + 6 == stop)) | (f64 & (r + 10 == stop))
    value = np.where(f64, _fixed(u8, r + 2, "<f8"), _fixed(u8, r + 2, "<f4").astype(np.float64))
    return value, np.where(ok, stop, -1)


def _factorize_tags(
    u8: np.ndarray, pos: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, list[bytes]]:
    """Integer codes for the tag byte strings at ``pos`` (exact: hashes are checked word by word).

    Tags of one length are read as 64-bit words, hashed, and factorised; a collision (checked by
    comparing every word with its code's first row) falls back to sorting the byte strings.
    """
    codes = np.empty(len(pos), np.int64)
    names: list[bytes] = []
    for size in distinct(length).tolist():
        idx = np.flatnonzero(length == size)
        start = pos[idx]
        words = []
        for w in range(0, size, 8):
            word = _fixed(u8, start + w, "<u8")
            if size - w < 8:
                word = word & np.uint64((1 << (8 * (size - w))) - 1)
            words.append(word)
        key = np.zeros(len(idx), np.uint64)
        for w, word in enumerate(words):
            key = key * np.uint64(0x100000001B3) + word * _HASH_MULT[w % len(_HASH_MULT)]
        local = factorize(key)
        first = _first_index(local)
        exact = all(np.array_equal(word, word[first][local]) for word in words)
        if not exact:  # a hash collision: fall back to sorting the byte strings
            rows = np.ascontiguousarray(u8.take(start[:, None] + np.arange(size), mode="clip"))
            _, first, local = np.unique(
                rows.view(f"V{max(size, 1)}").ravel(), return_index=True, return_inverse=True
            )
        codes[idx] = local + len(names)
        names.extend(bytes(u8[s : s + size]) for s in start[first].tolist())
    return codes, names


def _tensor_scalar(t: Any) -> float | None:
    """The value of a one-element numeric TensorProto (as TensorBoard reads it), else None."""
    dims = [d.size for d in t.tensor_shape.dim]
    if any(d != 1 for d in dims):
        return None
    dtype = _DTYPES.get(t.dtype)
    if dtype is None:
        return None
    np_dtype, field = dtype
    content = t.tensor_content
    if content:
        bits = np_dtype == "bfloat16"
        if len(content) != (2 if bits else np.dtype(np_dtype).itemsize):
            return None
        if bits:
            return _half(int.from_bytes(content, "little"), np_dtype)
        return float(np.frombuffer(content, np_dtype)[0])
    values = getattr(t, field)
    if len(values) != 1:
        return None
    raw = values[0]
    if np_dtype in ("<f2", "bfloat16"):
        return _half(int(raw), np_dtype)
    return float(raw)


def _half(bits: int, kind: str) -> float:
    if kind == "<f2":
        return float(np.array([bits & 0xFFFF], np.uint16).view(np.float16)[0])
    return float(np.array([(bits & 0xFFFF) << 16], np.uint32).view(np.float32)[0])


_DTYPES: dict[int, tuple[str, str]] = {  # types.proto DataType → (numpy dtype, TensorProto field)
    1: ("<f4", "float_val"),
    2: ("<f8", "double_val"),
    3: ("<i4", "int_val"),
    4: ("u1", "int_val"),
    5: ("<i2", "int_val"),
    6: ("i1", "int_val"),
    9: ("<i8", "int64_val"),
    10: ("?", "bool_val"),
    14: ("bfloat16", "half_val"),
    17: ("<u2", "int_val"),
    19: ("<f2", "half_val"),
    22: ("<u4", "uint32_val"),
    23: ("<u8", "uint64_val"),
}
