"""verl console logs: ``step:N - key:value - ...`` lines (possibly Ray-prefixed with ANSI
colours) and the config dump printed at start-up.

Source: verl ``utils/logger/aggregate_logger.py`` ``concat_dict_to_str`` joins ``step:{step}``
and ``{k}:{v}`` with ``" - "``; older verl formats every value ``f"{v:.3f}"`` (so ``actor/lr``
prints ``0.000`` for 1e-6), newer verl ``pprint.pformat(v)`` (``np.float64(0.77)``).
``trainer/main_ppo.py`` prints ``pprint(OmegaConf.to_container(config, resolve=True))`` at
start: a Python dict literal wrapped over many lines, each behind the Ray prefix of the
``TaskRunner``. Streamed line by line: memory does not grow with the file.
"""

from __future__ import annotations

import ast
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._frame import ReadResult, empty_frame, frame_from_codes
from trainlens.readers._text import ANSI, RAY_PREFIX, clean, iter_lines

_STEP_LINE = re.compile(rb"(?:^|[\s)\]])step:(\d+) - (.*)$")
_FLOAT = re.compile(
    r"^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity)$", re.IGNORECASE
)
_NP_WRAPPED = re.compile(r"^np\.\w+\((.*)\)$")  # newer verl prints np.float64(0.5)
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

    def add(self, key: str, step: int, value: float, text: str) -> None:
        code = self.names.setdefault(key, len(self.names))
        self.texts_total += 1
        if _THREE_DECIMALS.match(text):
            self.texts_three += 1
            if value == 0.0:
                self.zero_at.setdefault(code, []).append(len(self.values))
        self.codes.append(code)
        self.steps.append(step)
        self.values.append(value)


def read_verl_console(path: Path, offset: int = 0, *, final: bool = True) -> ReadResult:
    """Read every ``step:N - key:value`` line and the config dump; other lines are skipped."""
    source = str(path)
    out = _Collector()
    warnings: list[ReadWarning] = []
    meta: dict[str, Any] = {}
    dump: _Dump | None = None
    end_offset = offset
    cut_lines: list[int] = []
    try:
        with open(path, "rb") as fh:
            for line in iter_lines(fh, offset, final=final):
                end_offset = line.end
                raw = line.data
                if dump is not None or (b"{'" in raw and "config" not in meta):
                    dump = _config_line(raw, dump, meta)
                if b"step:" not in raw:
                    continue
                m = _STEP_LINE.search(ANSI.sub(b"", raw).rstrip())
                if not m:
                    continue
                bad = _step_fields(out, int(m.group(1)), m.group(2))
                if bad and _wandb_cut(raw):
                    cut_lines.append(line.number)
                elif bad:
                    where = "cut off (the rest of the line is missing)" if line.cut else "skipped"
                    warnings.append(
                        ReadWarning(
                            source,
                            f"line {line.number} (step {m.group(1).decode()}): {bad} field(s) "
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
    bad = 0
    for item in clean(body).decode("utf-8", "replace").split(" - "):
        key, sep, text = item.strip().rpartition(":")
        text = text.strip()
        inner = _NP_WRAPPED.match(text)
        if inner:
            text = inner.group(1)
        if not sep or not key or not _FLOAT.match(text):
            bad += bool(item.strip())
            continue
        out.add(key, step, float(text), text)
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
    return frame_from_codes(names, codes, steps.copy(), values.copy())
