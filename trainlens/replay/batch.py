"""Read a replay batch (JSONL) into samples. No torch here: this module only parses.

A line is one sample ``{"id", "prompt", "response"}`` or a pair ``{"id", "prompt", "teacher",
"student"}`` (``chosen``/``rejected`` are synonyms). Each text may be given as token ids instead
(``prompt_ids``, ``response_ids``, ``teacher_ids``, ``student_ids``, ``chosen_ids``,
``rejected_ids``). A single sample may carry ``sampler_logprobs`` (one per response token, as
vLLM-based trainers record them). An ms-swift ``completions.jsonl`` is read too (``--steps``
picks the window). Bad lines are skipped and counted, each with a warning naming the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainlens.diagnostics import ReadWarning
from trainlens.errors import TrainlensError
from trainlens.readers._json import loads as loads_json
from trainlens.readers._text import MAX_LINE_BYTES, Line, iter_lines
from trainlens.readers.completions import CompletionsReader, looks_like_completions

#: (teacher key, student key) spellings of a pair.
PAIR_KEYS = (("teacher", "student"), ("chosen", "rejected"))
_STEPS = re.compile(r"^\s*(\d+)\s*(?:(?:-|–|\.\.|:)\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class Text:
    """One piece of a sample: text (needs a tokenizer) or token ids (does not)."""

    text: str | None = None
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ReplaySample:
    """One sequence to score: ``prompt`` then ``response``. Both members of a pair share the
    ``id`` and ``line``; ``role`` tells them apart."""

    id: str
    line: int
    prompt: Text
    response: Text
    role: str | None = None  # "teacher" | "student" for pairs, else None
    sampler_logprobs: tuple[float, ...] | None = None
    step: int | None = None

    @property
    def needs_tokenizer(self) -> bool:
        return self.prompt.ids is None or self.response.ids is None


@dataclass
class Batch:
    """The samples of a batch file, what was skipped and why."""

    path: Path
    samples: list[ReplaySample] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0
    completions: bool = False  # read as an ms-swift completions log
    steps: tuple[int, int] | None = None

    def nothing_read(self) -> str:
        """Why the batch has no sample, in one sentence."""
        if self.steps is not None and self.lines_read > self.lines_skipped:
            return f"{self.path}: no sample in steps {self.steps[0]}-{self.steps[1]}"
        return (
            f"{self.path}: no sample could be read ({self.lines_skipped} of {self.lines_read} "
            "lines skipped)"
        )

    @property
    def step_span(self) -> tuple[int, int]:
        """The first and last step of the samples (0, 0 when they carry none)."""
        found = [s.step for s in self.samples if s.step is not None]
        return (min(found), max(found)) if found else (0, 0)


def parse_steps(text: str | None) -> tuple[int, int] | None:
    """``"A-B"`` (also ``A..B``, ``A:B``) or ``"A"`` → an inclusive step window."""
    if text is None:
        return None
    m = _STEPS.match(text)
    if not m:
        raise TrainlensError(f"--steps {text!r}: expected A-B (e.g. 120-140) or one step")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if hi < lo:
        raise TrainlensError(f"--steps {text!r}: the window ends before it starts")
    return lo, hi


def read_batch(path: Path | str, steps: tuple[int, int] | None = None) -> Batch:
    """Every readable sample of ``path``. A completions log is recognised by its first line;
    ``steps`` keeps the samples of that window (a replay batch keeps lines whose ``step`` is
    in it). Raises TrainlensError only when the file cannot be opened."""
    path = Path(path)
    if not path.is_file():
        raise TrainlensError(f"{path}: batch file not found")
    batch = Batch(path=path, steps=steps)
    if _first_record_is_completions(path):
        _read_completions(batch, steps)
    else:
        _read_replay(batch, steps)
    return batch


def _first_record_is_completions(path: Path) -> bool:
    for line in _lines(path):
        if not line.data.strip() or line.cut:
            continue
        try:
            return looks_like_completions(orjson.loads(line.data))
        except (orjson.JSONDecodeError, RecursionError):
            continue
    return False


def _read_completions(batch: Batch, steps: tuple[int, int] | None) -> None:
    batch.completions = True
    reader = CompletionsReader(batch.path)
    counts: dict[int | None, int] = {}
    for s in reader.samples():
        if steps is not None and (s.step is None or not steps[0] <= s.step <= steps[1]):
            continue
        n = counts[s.step] = counts.get(s.step, -1) + 1
        if not s.completion:
            batch.warnings.append(
                ReadWarning(str(batch.path), f"line {s.line}: sample {n} has no completion text")
            )
            continue
        batch.samples.append(
            ReplaySample(
                id=f"{s.step}/{n}" if s.step is not None else f"{s.line}/{n}",
                line=s.line,
                prompt=Text(text=s.prompt or ""),
                response=Text(text=s.completion),
                step=s.step,
            )
        )
    batch.warnings[:0] = reader.warnings
    batch.lines_read = reader.lines_read
    batch.lines_skipped = reader.lines_skipped


def _read_replay(batch: Batch, steps: tuple[int, int] | None) -> None:
    source = str(batch.path)
    for line in _lines(batch.path):
        line_no = line.number
        if not line.data.strip():
            continue
        batch.lines_read += 1
        try:
            if line.cut:
                raise _Bad(f"longer than {MAX_LINE_BYTES >> 20} MiB")
            try:
                obj = loads_json(line.data).value  # NaN / Infinity accepted, depth bounded
            except ValueError as exc:
                raise _Bad(f"not valid JSON ({str(exc).split(':')[0][:80]})") from None
            samples, notes = parse_line(obj, line_no)
        except _Bad as bad:
            batch.lines_skipped += 1
            batch.warnings.append(ReadWarning(source, f"line {line_no}: {bad}, skipped"))
            continue
        batch.warnings.extend(ReadWarning(source, f"line {line_no}: {n}") for n in notes)
        if steps is not None:
            step = samples[0].step
            if step is None or not steps[0] <= step <= steps[1]:
                continue
        batch.samples.extend(samples)


class _Bad(Exception):
    """A line that cannot be used; the message says why."""


def parse_line(obj: Any, line: int) -> tuple[list[ReplaySample], list[str]]:
    """The samples of one decoded line (one, or two for a pair) and notes about ignored
    fields. Raises ``_Bad`` for a line that cannot be scored."""
    if not isinstance(obj, dict):
        raise _Bad("not a JSON object")
    sid = _id(obj.get("id"), line)
    prompt = _part(obj, "prompt", required=False)
    step = _step(obj.get("step"))
    notes: list[str] = []
    for teacher, student in PAIR_KEYS:
        if _has(obj, teacher) or _has(obj, student):
            if not (_has(obj, teacher) and _has(obj, student)):
                raise _Bad(f"a pair needs both {teacher!r} and {student!r}")
            if "sampler_logprobs" in obj:
                notes.append("sampler_logprobs ignored on a pair (one list per sample)")
            return [
                ReplaySample(sid, line, prompt, _part(obj, teacher), "teacher", step=step),
                ReplaySample(sid, line, prompt, _part(obj, student), "student", step=step),
            ], notes
    if not _has(obj, "response"):
        raise _Bad("missing 'response' (or 'response_ids', or a teacher/student pair)")
    response = _part(obj, "response")
    logprobs = None
    if obj.get("sampler_logprobs") is not None:
        logprobs = _logprobs(obj["sampler_logprobs"])
        if logprobs is None:
            notes.append("sampler_logprobs is not a list of finite numbers, ignored")
    return [ReplaySample(sid, line, prompt, response, None, logprobs, step)], notes


def _has(obj: dict[str, Any], name: str) -> bool:
    return obj.get(name) is not None or obj.get(f"{name}_ids") is not None


def _part(obj: dict[str, Any], name: str, *, required: bool = True) -> Text:
    ids = obj.get(f"{name}_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids
        ):
            raise _Bad(f"'{name}_ids' must be a list of non-negative integers")
        if required and not ids:
            raise _Bad(f"'{name}_ids' is empty")
        return Text(ids=tuple(ids))
    text = obj.get(name)
    if text is None and not required:
        return Text(ids=())
    if not isinstance(text, str):
        raise _Bad(f"'{name}' must be a string, got {type(text).__name__}")
    if required and not text:
        raise _Bad(f"'{name}' is empty")
    return Text(text=text)


def _id(value: Any, line: int) -> str:
    if value is None or isinstance(value, (dict, list)):
        return f"line{line}"
    return str(value)


def _step(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            x = float(value)
        except ValueError:
            return None
        return int(x) if math.isfinite(x) else None
    return None


def _logprobs(value: Any) -> tuple[float, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        out.append(float(v))
    return tuple(out)


def _lines(path: Path) -> Iterator[Line]:
    with open(path, "rb") as fh:
        yield from iter_lines(fh)
