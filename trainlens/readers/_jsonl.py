"""JSON-lines reading shared by the ms-swift and verl readers: offsets, partial lines, bad lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainlens.diagnostics import ReadWarning
from trainlens.readers._files import open_regular
from trainlens.readers._json import JsonError, loads


@dataclass
class JsonLines:
    """Decoded objects of a JSON-lines file with their 1-based line numbers.

    ``nan_rows`` lists indices (into ``objects``) of lines that needed the NaN/Infinity-tolerant
    decoder, so callers can tell a literal ``NaN`` from a missing key.
    """

    objects: list[dict[str, Any]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    nan_rows: list[int] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)
    partial: ReadWarning | None = None  # the file's last line was cut off (always the last issue)
    end_offset: int = 0

    def all_warnings(self, *middle: ReadWarning) -> list[ReadWarning]:
        """Line warnings, then ``middle`` (a caller's own, in line order), then the partial line."""
        tail = [self.partial] if self.partial else []
        return sorted([*self.warnings, *middle], key=_line_number) + tail


#: Byte-order marks and the encodings they announce (UTF-32 before UTF-16: same first bytes).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
#: Longer lines are not log records (they are skipped unparsed).
MAX_LINE_BYTES = 16 << 20
_NULS = re.compile(rb"\x00+")


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """The encoding of a text file from its first bytes, and the length of its byte-order mark.
    Without a BOM, a first character followed (or preceded) by NUL bytes is UTF-16/32."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    if len(head) >= 4 and head[0] and not any(head[1:4]):
        return "utf-32-le", 0
    if len(head) >= 4 and not any(head[:3]) and head[3]:
        return "utf-32-be", 0
    if len(head) >= 4 and head[0] and head[2] and not head[1] and not head[3]:
        return "utf-16-le", 0
    if len(head) >= 4 and head[1] and head[3] and not head[0] and not head[2]:
        return "utf-16-be", 0
    return "utf-8", 0


def _physical_lines(data: bytes, codec: str) -> Iterator[tuple[int, int, bytes, bool]]:
    """``(start, end, content, complete)`` per line of ``data``, split at any line ending;
    byte offsets are into ``data``, content is UTF-8 (transcoded from UTF-16/32)."""
    if codec == "utf-8" and b"\r" not in data:  # the usual file: one copy per line, no strip
        pos = 0
        pieces = data.split(b"\n")
        last = pieces.pop()
        for piece in pieces:
            stop = pos + len(piece) + 1
            yield pos, stop, piece, True
            pos = stop
        if last:
            yield pos, len(data), last, False
        return
    if codec == "utf-8":
        pos = 0
        for piece in data.splitlines(keepends=True):  # bytes split at \n, \r\n and \r only
            stop = pos + len(piece)
            content = piece.rstrip(b"\r\n")
            yield pos, stop, content, len(content) < len(piece)
            pos = stop
        return
    width = 4 if codec.startswith("utf-32") else 2
    usable = len(data) - len(data) % width
    text = data[:usable].decode(codec, "replace")
    pos = char = 0
    for mt in re.finditer(r"\r\n|\r|\n", text):
        segment = text[char : mt.start()]
        size = len(text[char : mt.end()].encode(codec, "replace"))
        yield pos, pos + size, segment.encode("utf-8", "replace"), True
        pos, char = pos + size, mt.end()
    if char < len(text) or usable < len(data):
        yield pos, len(data), text[char:].encode("utf-8", "replace"), False


@dataclass
class RawText:
    """A JSON-lines file's bytes from a read offset: ``data`` starts at byte ``offset``."""

    data: bytes
    offset: int
    codec: str


def read_raw(path: Path, offset: int = 0) -> tuple[RawText | None, JsonLines]:
    """The bytes of ``path`` from ``offset`` (after any byte-order mark), and a :class:`JsonLines`
    holding the file-level warnings; None instead of the bytes when there is nothing to decode."""
    out = JsonLines(end_offset=offset)
    source = str(path)
    try:
        with open_regular(path) as fh:
            codec, bom = sniff_encoding(fh.read(4))
            offset = max(offset, bom)
            fh.seek(offset)
            data = fh.read()
    except OSError as exc:
        out.warnings.append(ReadWarning(source, f"cannot read file: {exc.strerror or exc}"))
        return None, out
    if offset <= bom and not data:
        out.warnings.append(ReadWarning(source, "empty file"))
        return None, out
    if codec != "utf-8" and offset <= bom:
        out.warnings.append(ReadWarning(source, f"{codec.upper()} text (not UTF-8); transcoded"))
    return RawText(data, offset, codec), out


def read_json_lines(
    path: Path, offset: int = 0, *, final: bool = True, first_line: int = 1
) -> JsonLines:
    """Read JSON objects from ``path`` starting at byte ``offset``; never raises for bad input.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r``; UTF-16/32 files (with or without a BOM)
    are transcoded; a run of NUL bytes (a crashed writer's preallocated tail) is skipped and the
    records after it are read. A last line without a line ending that does not parse is a write
    in progress: with ``final`` it is reported once; without it (live following) it is left for
    the next call (``end_offset`` stops before it). ``first_line`` is the line number at
    ``offset`` (for messages when following).
    """
    raw, out = read_raw(path, offset)
    if raw is not None:
        decode_lines(out, raw, str(path), final=final, first_line=first_line)
    return out


def decode_lines(
    out: JsonLines, raw: RawText, source: str, *, final: bool = True, first_line: int = 1
) -> None:
    """Decode the lines of ``raw`` into ``out`` (see :func:`read_json_lines`); ``first_line`` is
    the line number at ``raw.offset``. Sets ``out.end_offset``."""
    data, offset, codec = raw.data, raw.offset, raw.codec
    line_no = first_line - 1
    end = 0
    has_nul = b"\x00" in data
    for start, stop, line, complete in _physical_lines(data, codec):
        line_no += 1
        line_start = offset + start
        if not complete and not final:
            out.end_offset = line_start  # a follower waits for the line ending: writer mid-line
            return
        where = f"line {line_no} (byte {line_start})"
        parts = [line]
        if has_nul and b"\x00" in line:
            parts = _NULS.split(line)
            nuls = len(line) - sum(map(len, parts))
            out.warnings.append(
                ReadWarning(source, f"{where}: {nuls} NUL byte(s) (a crashed write?) skipped")
            )
        for part in parts:
            stripped = part.strip()
            if not stripped:
                continue
            if len(stripped) > MAX_LINE_BYTES:
                out.warnings.append(
                    ReadWarning(source, f"{where}: {len(stripped):,} bytes, too long for a record")
                )
                continue
            try:
                obj = orjson.loads(stripped)  # the usual record, fast
                slow = False
            except orjson.JSONDecodeError:
                obj = None
            if obj is None:
                try:
                    decoded = loads(stripped)
                except JsonError as exc:
                    if not complete and part is parts[-1]:
                        out.partial = ReadWarning(
                            source,
                            f"{where}: partial last line "
                            f"({len(line)} bytes, job still writing?) skipped",
                        )
                        out.end_offset = offset + len(data)
                        return
                    out.warnings.append(ReadWarning(source, f"{where}: not valid JSON ({exc})"))
                    continue
                obj, slow = decoded.value, decoded.slow
                out.warnings += [ReadWarning(source, f"{where}: {n}") for n in decoded.notes]
            if not isinstance(obj, dict):
                out.warnings.append(
                    ReadWarning(
                        source, f"{where}: expected a JSON object, got {type(obj).__name__}"
                    )
                )
                continue
            if slow:
                out.nan_rows.append(len(out.objects))
            out.objects.append(obj)
            out.line_numbers.append(line_no)
        end = stop
    out.end_offset = offset + end


def _line_number(w: ReadWarning) -> int:
    head = w.message.split(":", 1)[0].split()
    return int(head[1]) if len(head) >= 2 and head[0] == "line" and head[1].isdigit() else 0
