"""Samples from prediction files, streamed: ms-swift GRPO ``completions.jsonl`` (column- or
row-oriented, see :mod:`trainlens.readers.completions` for the layout and version), ms-swift /
vLLM inference results (``response`` with the gold in ``labels``/``solution``/``answer``; vLLM's
``outputs[0].text`` and ``finish_reason``), LLaMA-Factory ``generated_predictions.jsonl``
(``predict``/``label``), and any JSONL or JSON list whose keys are found from the first record
or given. Bad lines are skipped and counted; one warning per file says how many and where."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trainlens.diagnostics import ReadWarning
from trainlens.readers.completions import MAX_LINE_BYTES, rows_of

RESPONSE_KEYS = (
    "response",
    "completion",
    "predict",
    "prediction",
    "output",
    "generated_text",
    "model_output",
    "generation",
    "pred",
    "outputs.0.text",
    "choices.0.message.content",
    "choices.0.text",
)
GOLD_KEYS = (
    "labels",
    "label",
    "solution",
    "answer",
    "gold",
    "ground_truth",
    "reference",
    "target",
    "expected_answer",
    "gt",
)
ID_KEYS = ("id", "idx", "index", "sample_id", "question_id", "uid")
STEP_KEYS = ("step", "global_step", "iteration")
FINISH_KEYS = ("finish_reason", "outputs.0.finish_reason", "choices.0.finish_reason")
STOP_REASON_KEYS = ("stop_reason", "outputs.0.stop_reason", "choices.0.stop_reason")
#: A ``.json`` file is read whole; larger ones must be JSONL.
MAX_JSON_BYTES = 1 << 30


@dataclass(frozen=True)
class Sample:
    """One response to audit: its id (the record's own, else ``line:N``/``#i``), where it is,
    the training step when logged, the text, the raw gold answer and the engine's stop info."""

    id: str
    line: int
    step: int | None
    response: str
    gold: Any = None
    finish_reason: str | None = None
    stop_reason: str | None = None


@dataclass
class Keys:
    """Which record keys hold what (dotted paths reach into lists: ``outputs.0.text``)."""

    response: str | None = None
    gold: str | None = None
    id: str | None = None
    step: str | None = None
    finish: str | None = None
    stop_reason: str | None = None
    layout: str = "jsonl"  # jsonl | json | swift_completions

    def describe(self) -> str:
        parts = [f"layout={self.layout}", f"response={self.response}"]
        parts += [
            f"{n}={v}"
            for n, v in (
                ("gold", self.gold),
                ("id", self.id),
                ("step", self.step),
                ("finish_reason", self.finish),
            )
            if v
        ]
        return ", ".join(parts)


@dataclass
class SampleReader:
    """Streams :meth:`samples` of one file; ``keys`` are fixed by the first usable record
    (``response_key``/``gold_key`` win when given). ``skipped`` counts bad lines/records.
    Each :meth:`samples` call goes on where the last one stopped (``offset``); with ``follow``
    a last line without its newline (still being written) is left for the next call."""

    path: Path
    response_key: str | None = None
    gold_key: str | None = None
    keys: Keys | None = None
    skipped: int = 0
    first_skip: str | None = None
    warnings: list[ReadWarning] = field(default_factory=list)
    follow: bool = False
    offset: int = 0  # bytes consumed
    line: int = 0  # lines consumed
    index: int = 0  # samples yielded

    def samples(self) -> Iterator[Sample]:
        for line_no, obj in self._records():
            column = isinstance(obj, dict) and isinstance(obj.get("completion"), list)
            rows = rows_of(obj) if column else None
            if rows is not None:
                if self.keys is None:
                    first = rows[0] if rows else {}
                    self.keys = _find_keys(first, self.response_key, self.gold_key)
                    self.keys.layout = "swift_completions"
                records: Sequence[Any] = rows
            else:
                records = [obj]
            for record in records:
                sample = self._sample(record, line_no, self.index)
                if sample is not None:
                    self.index += 1
                    yield sample

    def all_warnings(self) -> list[ReadWarning]:
        """What went wrong so far: unreadable input, and one line for every skipped record."""
        out = list(self.warnings)
        if self.skipped:
            out.append(
                ReadWarning(
                    str(self.path),
                    f"{self.skipped} malformed line(s)/record(s) skipped "
                    f"(first: {self.first_skip})",
                )
            )
        return out

    def _sample(self, record: Any, line_no: int, index: int) -> Sample | None:
        if not isinstance(record, dict):
            self._skip(line_no, "not a JSON object")
            return None
        if self.keys is None:
            self.keys = _find_keys(record, self.response_key, self.gold_key)
            if self.path.suffix == ".json":
                self.keys.layout = "json"
            if self.keys.response is None:
                self.keys = None
                self._skip(line_no, "no response field (use --response-key)")
                return None
        keys = self.keys
        response = lookup(record, keys.response) if keys.response else None
        if isinstance(response, list):  # several samples per prompt: the first
            response = response[0] if response else None
        if not isinstance(response, str):
            if response is None and keys.response not in record:  # absent, not null
                self._skip(line_no, f"no {keys.response!r} field")
                return None
            response = "" if response is None else str(response)
        raw_id = lookup(record, keys.id) if keys.id else None
        ident = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id) else None
        if ident is None:
            ident = f"line {line_no}" if keys.layout != "swift_completions" else f"#{index}"
        return Sample(
            id=ident,
            line=line_no,
            step=_step(lookup(record, keys.step)) if keys.step else None,
            response=response,
            gold=lookup(record, keys.gold) if keys.gold else None,
            finish_reason=_str(lookup(record, keys.finish)) if keys.finish else None,
            stop_reason=_str(lookup(record, keys.stop_reason)) if keys.stop_reason else None,
        )

    def _records(self) -> Iterator[tuple[int, Any]]:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115  (closed below; a generator holds it)
        except OSError as exc:
            self.warnings.append(ReadWarning(str(self.path), f"cannot read file: {exc.strerror}"))
            return
        with fh:
            if self.offset == 0:
                head = fh.read(64).lstrip()
                fh.seek(0)
                if head.startswith(b"["):
                    self.offset = -1  # a JSON list is read once, whole
                    yield from self._json_list(fh)
                    return
            elif self.offset < 0:
                return
            fh.seek(self.offset)
            for raw, size in _complete_lines(fh, self.follow):
                self.offset += size
                self.line += 1
                if not raw.strip():
                    continue
                if len(raw) > MAX_LINE_BYTES:
                    self._skip(self.line, f"longer than {MAX_LINE_BYTES >> 20} MiB")
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self._skip(self.line, "not valid JSON")
                    continue
                except RecursionError:
                    self._skip(self.line, "nested too deeply")
                    continue
                yield self.line, obj

    def _json_list(self, fh: Any) -> Iterator[tuple[int, Any]]:
        data = fh.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            self.warnings.append(
                ReadWarning(str(self.path), "a JSON list over 1 GiB is not read (write JSONL)")
            )
            return
        try:
            items = orjson.loads(data)
        except (orjson.JSONDecodeError, RecursionError):
            self.warnings.append(ReadWarning(str(self.path), "not valid JSON, not read"))
            return
        yield from enumerate(items if isinstance(items, list) else [], start=1)

    def _skip(self, line_no: int, why: str) -> None:
        self.skipped += 1
        if self.first_skip is None:
            unit = "item" if self.path.suffix == ".json" else "line"
            self.first_skip = f"{unit} {line_no}, {why}"


def _complete_lines(fh: Any, follow: bool, chunk: int = 1 << 20) -> Iterator[tuple[bytes, int]]:
    """``(line without its ending, bytes it took)`` from the file position on; memory bounded
    by the longest line. The last line without a newline is left out when ``follow``."""
    rest = b""
    while True:
        block = fh.read(chunk)
        if not block:
            break
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part.rstrip(b"\r"), len(part) + 1
    if rest and not follow:
        yield rest.rstrip(b"\r"), len(rest)


def lookup(record: Any, path: str | None) -> Any:
    """``record[path]``, a dotted path going into dicts and list indexes; None when absent."""
    if path is None:
        return None
    if isinstance(record, dict) and path in record:
        return record[path]
    value = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _find_keys(record: dict[str, Any], response: str | None, gold: str | None) -> Keys:
    def first(names: Sequence[str], exclude: set[str | None] | None = None) -> str | None:
        return next(
            (n for n in names if n not in (exclude or set()) and lookup(record, n) is not None),
            None,
        )

    response = response or first(RESPONSE_KEYS)
    return Keys(
        response=response,
        gold=gold or first(GOLD_KEYS, {response}),
        id=first(ID_KEYS),
        step=first(STEP_KEYS),
        finish=first(FINISH_KEYS),
        stop_reason=first(STOP_REASON_KEYS),
    )


def _step(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
