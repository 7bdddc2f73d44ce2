"""verl console logs: ``step:N - key:value - ...`` lines (possibly Ray-prefixed with ANSI
colours) and the config dump printed at start-up.

Source: verl ``utils/logger/aggregate_logger.py`` ``concat_dict_to_str`` joins ``step:{step}``
and ``{k}:{v}`` with ``" - "``; older verl formats every value ``f"{v:.3f}"`` (so ``actor/lr``
prints ``0.000`` for 1e-6), newer verl ``pprint.pformat(v)`` (``np.float64(0.77)``).
``trainer/main_ppo.py`` prints ``pprint(OmegaConf.to_container(config, resolve=True))`` at
start: a Python dict literal wrapped over many lines, each behind the Ray prefix of the
``TaskRunner``. Streamed in blocks: memory does not grow with the file.
"""

from __future__ import annotations

import ast
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step, brief
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, empty_frame, frame_from_codes
from trainlens.readers._text import ANSI, RAY_PREFIX, Block, clean, iter_blocks

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

_STEP_LINE = re.compile(rb"(?:^|[\s)\]])step:(\d+) - (.*)$")
_STEP_HINT = re.compile(rb"step:\d+ - ")
_FLOAT = re.compile(
    r"^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity)$", re.IGNORECASE
)
_NP_WRAPPER = re.compile(r"np\.\w+\(")  # newer verl prints np.float64(0.5)
_THREE_FIELD = re.compile(r":\s*-?\d+\.\d{3}\)?\s*(?= - |$)")
_THREE_DECIMALS = re.compile(r"^-?\d+\.\d{3}$")
#: How much of a file to sniff when deciding whether it is a verl console log.
SNIFF_BYTES = 1 << 20
#: Top-level keys of a verl (Hydra) config; a printed dict with one of them is the run config.
CONFIG_KEYS = frozenset(
    {"actor_rollout_ref", "algorithm", "trainer", "critic", "reward_model", "data", "optim"}
)
_MAX_DUMP_BYTES = 8 << 20
#: W&B's output.log cuts every line at this many characters (seen with wandb 0.23).
WANDB_LINE_CHARS = 4096


def _wandb_cut(raw: bytes) -> bool:
    return len(raw.decode("utf-8", "replace")) == WANDB_LINE_CHARS


def looks_like_verl_console(head: bytes) -> bool:
    """True when the start of a text log has verl's ``step:N - key:value`` lines."""
    return any(
        _STEP_LINE.search(ANSI.sub(b"", line)) for line in head.splitlines() if b"step:" in line
    )


@dataclass
class _Dump:
    """A dict literal being collected over several lines of one Ray worker."""

    prefix: bytes
    parts: list[bytes] = field(default_factory=list)
    depth: int = 0
    size: int = 0
    quote: int = 0  # the quote byte of a string left open at a line's end (0: none)


def _depth_change(text: bytes, quote: int) -> tuple[int, int]:
    """Bracket depth change over ``text`` outside string literals, and the open quote at its end."""
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == 92:  # backslash escapes the next byte
                i += 2
                continue
            if c == quote:
                quote = 0
        elif c in (39, 34):
            quote = c
        elif c in (123, 91, 40):
            depth += 1
        elif c in (125, 93, 41):
            depth -= 1
        i += 1
    return depth, quote


def _config_from(text: bytes) -> dict[str, Any] | None:
    try:
        obj = ast.literal_eval(text.decode("utf-8", "replace"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(obj, dict) and CONFIG_KEYS & {k for k in obj if isinstance(k, str)}:
        return obj
    return None


@dataclass
class _Collector:
    names: dict[str, int] = field(default_factory=dict)
    codes: array = field(default_factory=lambda: array("i"))
    steps: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("d"))
    texts_total: int = 0
    texts_three: int = 0
    zero_at: dict[int, list[int]] = field(default_factory=dict)  # code -> row indices

    def add_line(self, step: int, pairs: list[tuple[str, str]], three: int) -> None:
        """The fields of one step line (``three``: how many were printed with 3 decimals)."""
        names = self.names
        codes = [names.setdefault(k, len(names)) for k, _ in pairs]
        values = [float(v) for _, v in pairs]
        self.texts_total += len(pairs)
        self.texts_three += three
        if three and 0.0 in values:
            base = len(self.values)
            for i, (value, (_, text)) in enumerate(zip(values, pairs)):
                if value == 0.0 and _THREE_DECIMALS.match(text):
                    self.zero_at.setdefault(codes[i], []).append(base + i)
        self.codes.extend(codes)
        self.values.extend(values)
        self.steps.extend(array("q", [step]) * len(pairs))


def read_verl_console(path: Path, offset: int = 0, *, final: bool = True) -> ReadResult:
    """Read every ``step:N - key:value`` line and the config dump; other lines are skipped.
    Blocks of lines are searched for ``step:`` (and, until the config is found, ``{'``) at C
    speed; only those lines, and the lines of an open config dump, are handled in Python."""
    source = str(path)
    out = _Collector()
    warnings: list[ReadWarning] = []
    meta: dict[str, Any] = {}
    state = _State()
    end_offset = offset
    cut_lines: list[int] = []
    try:
        with open_regular(path) as fh:
            for block in iter_blocks(fh, offset, final=final):
                end_offset = block.end
                for number, raw in _candidate_lines(block, state, meta):
                    if b"step:" not in raw:
                        continue
                    m = _STEP_LINE.search(ANSI.sub(b"", raw).rstrip())
                    if not m:
                        continue
                    step = as_step(m.group(1))
                    if step is None:
                        what = f"step {brief(m.group(1).decode())} out of range; skipped"
                        warnings.append(ReadWarning(source, f"line {number}: {what}"))
                        continue
                    bad = _step_fields(out, step, m.group(2))
                    if bad and _wandb_cut(raw):
                        cut_lines.append(number)
                    elif bad:
                        cut = block.cut_line
                        where = "cut off (the rest of the line is missing)" if cut else "skipped"
                        warnings.append(
                            ReadWarning(
                                source,
                                f"line {number} (step {m.group(1).decode()}): {bad} field(s) "
                                f"not key:number, {where}",
                            )
                        )
    except OSError as exc:
        return ReadResult(empty_frame(), [ReadWarning(source, f"cannot read file: {exc.strerror}")])
    if cut_lines:
        meta["cut_lines"] = len(cut_lines)
        warnings.append(
            ReadWarning(
                source,
                f"{len(cut_lines)} step line(s) cut at {WANDB_LINE_CHARS:,} characters (W&B's "
                f"output.log limit; first at line {cut_lines[0]}): the keys after each cut are "
                "missing on those steps",
            )
        )
    frame = _frame(out, meta)
    return ReadResult(frame=frame, warnings=warnings, meta=meta, end_offset=end_offset)


@dataclass
class _State:
    dump: _Dump | None = None  # a config dump being collected


def _candidate_lines(
    block: Block, state: _State, meta: dict[str, Any]
) -> Iterator[tuple[int, bytes]]:
    """The lines of a block that may be step lines, with their numbers; lines that open or
    continue the config dump are fed to it on the way."""
    data = block.data
    number, counted = block.first_line, 0
    cursor = 0
    while cursor < len(data):
        if state.dump is None:
            hit = _STEP_HINT.search(data, cursor)
            first = hit.start() if hit else -1
            if "config" not in meta:
                brace = data.find(b"{'", cursor, first if first >= 0 else len(data))
                if brace >= 0:
                    first = brace
            if first < 0:
                return
            start = data.rfind(b"\n", 0, first) + 1
        else:
            start = cursor  # inside the dump: every line
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        number += data.count(b"\n", counted, start)
        counted = start
        raw = data[start:end].rstrip(b"\r")
        if state.dump is not None or (b"{'" in raw and "config" not in meta):
            state.dump = _config_line(raw, state.dump, meta)
        yield number, raw
        cursor = end + 1


def _config_line(raw: bytes, dump: _Dump | None, meta: dict[str, Any]) -> _Dump | None:
    """Feed one line to the config-dump collector; returns the collector still open."""
    text = ANSI.sub(b"", raw) if b"\x1b" in raw else raw
    m = RAY_PREFIX.match(text)
    prefix = m.group(0).strip() if m else b""
    body = text[m.end() :] if m else text
    if dump is None:
        start = body.find(b"{'")
        if start < 0 or body[:start].strip():
            return None
        dump = _Dump(prefix)
        body = body[start:]
    elif prefix != dump.prefix:
        return dump  # another worker's line interleaved into the dump
    change, dump.quote = _depth_change(body, dump.quote)
    dump.depth += change
    dump.parts.append(body)
    dump.size += len(body)
    if dump.depth > 0 and dump.size < _MAX_DUMP_BYTES:
        return dump
    config = _config_from(b"\n".join(dump.parts)) if dump.depth == 0 else None
    if config is not None:
        meta["config"] = config
    return None


def _step_fields(out: _Collector, step: int, body: bytes) -> int:
    """Read the ``key:value`` fields of one step line; returns how many were not numbers."""
    text = clean(body).decode("utf-8", "replace").rstrip()
    wrapped = "np." in text
    if wrapped:
        text = _NP_WRAPPER.sub("", text)  # np.float64(0.5) -> 0.5) (the ")" goes below)
    items = text.split(" - ")
    parts = [item.rpartition(":") for item in items]
    if wrapped:
        pairs = [(k.strip(), v.strip().removesuffix(")")) for k, _, v in parts]
    else:
        pairs = [(k.strip(), v.strip()) for k, _, v in parts]
    bad = 0
    try:  # the common case: every field is key:number
        for k, v in pairs:
            if not k:
                raise ValueError
            float(v)
    except ValueError:
        good = [
            (k, v) for (k, v), (_, sep, _) in zip(pairs, parts) if sep and k and _FLOAT.match(v)
        ]
        bad = sum(1 for item in items if item.strip()) - len(good)
        pairs = good
    out.add_line(step, pairs, len(_THREE_FIELD.findall(text)))
    return bad


def _frame(out: _Collector, meta: dict[str, Any]) -> Any:
    names = list(out.names)
    codes = np.frombuffer(out.codes, dtype=np.int32) if out.codes else np.empty(0, np.int32)
    steps = np.frombuffer(out.steps, dtype=np.int64) if out.steps else np.empty(0, np.int64)
    values = np.frombuffer(out.values, dtype=np.float64) if out.values else np.empty(0)
    if out.texts_total and out.texts_three >= 0.95 * out.texts_total:
        # Every value printed with 3 decimals: 0.000 only says "below 0.0005". A key printed as
        # 0.000 on every step (actor/lr for 1e-6) is unknown, never a real 0: it is not read.
        # Keys with other values keep their zeros (below the print resolution), flagged.
        counts = np.bincount(codes, minlength=len(names))
        unknown = [c for c, rows in out.zero_at.items() if len(rows) == counts[c]]
        meta["rounded"] = {
            "decimals": 3,
            "unknown": sorted(names[c] for c in unknown),
            "zeros": {names[c]: len(r) for c, r in out.zero_at.items() if c not in unknown},
        }
        if unknown:
            keep = ~np.isin(codes, unknown)
            codes, steps, values = codes[keep], steps[keep], values[keep]
    if not len(values):
        return empty_frame()
    used = np.unique(codes)
    if len(used) < len(names):  # a key whose every value was a rounded zero: drop it
        remap = np.full(len(names), -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        names = [names[i] for i in used]
        codes = remap[codes]
    return frame_from_codes(names, codes, steps, values)  # views of buffers not used again
