"""JSON-lines reading shared by the ms-swift and verl readers: offsets, partial lines, bad lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainlens.diagnostics import ReadWarning


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


def _loads(line: bytes) -> tuple[Any, bool]:
    """Decode one line; the second item is True when the slow NaN-aware decoder was needed."""
    try:
        return orjson.loads(line), False
    except orjson.JSONDecodeError:
        # Python's json accepts the NaN / Infinity / -Infinity literals that orjson rejects.
        return json.loads(line), True


def read_json_lines(
    path: Path, offset: int = 0, *, final: bool = True, first_line: int = 1
) -> JsonLines:
    """Read JSON objects from ``path`` starting at byte ``offset``; never raises for bad input.

    A last line without a newline that does not parse is a write in progress: with ``final`` it is
    reported once; without it (live following) it is left for the next call (``end_offset`` stops
    before it). ``first_line`` is the line number at ``offset`` (for messages when following).
    """
    out = JsonLines(end_offset=offset)
    source = str(path)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError as exc:
        out.warnings.append(ReadWarning(source, f"cannot read file: {exc.strerror or exc}"))
        return out
    if offset == 0 and not data:
        out.warnings.append(ReadWarning(source, "empty file"))
        return out
    pos = 0
    line_no = first_line - 1
    size = len(data)
    while pos < size:
        nl = data.find(b"\n", pos)
        complete = nl != -1
        end = nl if complete else size
        line = data[pos:end]
        line_no += 1
        line_start = offset + pos
        stripped = line.strip()
        if not complete and not final:
            out.end_offset = line_start  # a follower waits for the newline: writer mid-line
            return out
        if stripped:
            try:
                obj, slow = _loads(stripped)
            except (ValueError, UnicodeDecodeError) as exc:
                if not complete:
                    out.partial = ReadWarning(
                        source,
                        f"line {line_no} (byte {line_start}): partial last line "
                        f"({len(line)} bytes, job still writing?) skipped",
                    )
                    out.end_offset = offset + size
                    return out
                out.warnings.append(
                    ReadWarning(
                        source,
                        f"line {line_no} (byte {line_start}): not valid JSON ({_brief(exc)})",
                    )
                )
            else:
                if isinstance(obj, dict):
                    if slow:
                        out.nan_rows.append(len(out.objects))
                    out.objects.append(obj)
                    out.line_numbers.append(line_no)
                else:
                    out.warnings.append(
                        ReadWarning(
                            source,
                            f"line {line_no} (byte {line_start}): expected a JSON object, "
                            f"got {type(obj).__name__}",
                        )
                    )
        if not complete:
            pos = size  # a complete last object without its newline (only when ``final``)
            break
        pos = nl + 1
    out.end_offset = offset + pos
    return out


def _line_number(w: ReadWarning) -> int:
    head = w.message.split(":", 1)[0].split()
    return int(head[1]) if len(head) >= 2 and head[0] == "line" and head[1].isdigit() else 0


def _brief(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
