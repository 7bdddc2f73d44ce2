"""Completions a GRPO job logged: ms-swift ``completions.jsonl`` (``--log_completions true``),
streamed one sample at a time.

Layout (ms-swift ``swift/utils/io_utils.py`` ``JsonlWriter`` + the GRPO trainer's ``log()``; read
at ms-swift HEAD 3602360a, v3.5+/4.x): one JSON line per logging step, **column-oriented**::

    {"step": ["5", "5", ...], "prompt": [...], "completion": [...],
     "<RewardFunc>": [0.0, 1.0, ...], "advantages": [...], "entropy": [...]}

``step`` is a list of strings. v3.3–3.4 lack ``advantages``; v3.2 wrote ``messages`` instead of
``prompt`` and one ``reward`` column. A line that is one sample (every value a scalar) is read
too, so row-oriented exports of the same columns work. Bad lines are skipped with a warning naming
the line; a file of any size is read in bounded memory (one line at a time).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainlens.diagnostics import ReadWarning
from trainlens.readers._files import open_regular

#: Columns with a fixed meaning; every other numeric column is a reward function's score.
_TEXT_COLUMNS = ("prompt", "messages", "completion")
_KNOWN = {"step", "advantages", "entropy", *_TEXT_COLUMNS}
#: Lines longer than this are skipped with a warning (a guard, not a format limit).
MAX_LINE_BYTES = 256 << 20


@dataclass(frozen=True)
class CompletionSample:
    """One generated sample: where it is in the file, its step, texts and scores."""

    index: int  # 0-based position among the samples read
    line: int  # 1-based line of the file that held it
    step: int | None
    prompt: str | None
    completion: str
    rewards: dict[str, float] = field(default_factory=dict)
    advantage: float | None = None
    entropy: float | None = None

    @property
    def reward(self) -> float | None:
        """The total reward: a ``reward`` column when logged, else the sum of the components."""
        if "reward" in self.rewards:
            return self.rewards["reward"]
        values = [v for v in self.rewards.values() if math.isfinite(v)]
        return sum(values) if values else None


@dataclass
class CompletionsReader:
    """Iterate :meth:`samples`; ``warnings`` fills as bad lines are met."""

    path: Path
    warnings: list[ReadWarning] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0

    def samples(self) -> Iterator[CompletionSample]:
        source = str(self.path)
        index = 0
        try:
            fh = open_regular(self.path)  # noqa: SIM115  (closed below; a generator holds it)
        except OSError as exc:
            self.warnings.append(ReadWarning(source, f"cannot read file: {exc.strerror}"))
            return
        with fh:
            for line_no, raw in enumerate(_lines(fh), start=1):
                if not raw.strip():
                    continue
                self.lines_read += 1
                if len(raw) > MAX_LINE_BYTES:
                    self._skip(line_no, f"longer than {MAX_LINE_BYTES >> 20} MiB, skipped")
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    self._skip(line_no, f"not valid JSON ({exc.args[0].split(':')[0]}), skipped")
                    continue
                except RecursionError:
                    self._skip(line_no, "nested too deeply, skipped")
                    continue
                rows = _rows(obj)
                if rows is None:
                    self._skip(line_no, "not a completions record (no completion column), skipped")
                    continue
                for row in rows:
                    yield _sample(row, index, line_no)
                    index += 1

    def _skip(self, line_no: int, why: str) -> None:
        self.lines_skipped += 1
        self.warnings.append(ReadWarning(str(self.path), f"line {line_no}: {why}"))


def iter_completions(path: Path | str, warnings: list[ReadWarning]) -> Iterator[CompletionSample]:
    """Every sample of a completions file, in file order; bad lines become ``warnings``."""
    reader = CompletionsReader(Path(path))
    try:
        yield from reader.samples()
    finally:
        warnings.extend(reader.warnings)


def looks_like_completions(obj: Any) -> bool:
    """True for a decoded line of a completions log (column- or row-oriented)."""
    return _rows(obj) is not None


def rows_of(obj: Any) -> list[dict[str, Any]] | None:
    """The samples of one decoded line as plain dicts (every column, text ones included), or
    None when it is not a completions record. For audits that need columns such as
    ``solution`` that :class:`CompletionSample` does not keep."""
    return _rows(obj)


def iter_lines(fh: Any) -> Iterator[bytes]:
    """The lines of a binary file object (see :func:`_lines`): bounded by the longest line."""
    return _lines(fh)


def _lines(fh: Any, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Lines split on ``\\n`` (a ``\\r`` before it is stripped), the last one even without a
    newline; memory bounded by the longest line."""
    rest = b""
    while True:
        block = fh.read(chunk)
        if not block:
            break
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part.rstrip(b"\r")
    if rest:
        yield rest.rstrip(b"\r")


def _rows(obj: Any) -> list[dict[str, Any]] | None:
    """The samples of one decoded line, or None when it is not a completions record."""
    if not isinstance(obj, dict) or "completion" not in obj:
        return None
    column = obj["completion"]
    if not isinstance(column, list):
        return [obj] if isinstance(column, str) else None
    n = len(column)
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in obj.items():
        if isinstance(values, list) and len(values) == n:
            for row, value in zip(rows, values):
                row[key] = value
    return rows


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # v3.2 ``messages``: [{"role": ..., "content": ...}, ...]
        parts = [str(m.get("content", "")) for m in value if isinstance(m, dict)]
        return "\n".join(parts) if parts else None
    return str(value)


def _sample(row: dict[str, Any], index: int, line_no: int) -> CompletionSample:
    step = _number(row.get("step"))
    prompt = _text(row.get("prompt", row.get("messages")))
    completion = _text(row.get("completion")) or ""
    rewards: dict[str, float] = {}
    for key, value in row.items():
        if key in _KNOWN:
            continue
        number = _number(value)
        if number is not None and not isinstance(value, str):
            rewards[key] = number
    advantage = _number(row.get("advantages"))
    entropy = _number(row.get("entropy"))
    return CompletionSample(
        index=index,
        line=line_no,
        step=int(step) if step is not None and math.isfinite(step) else None,
        prompt=prompt,
        completion=completion,
        rewards=rewards,
        advantage=advantage,
        entropy=entropy,
    )
