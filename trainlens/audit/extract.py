"""Where the answer is in a response, and whether it closed: ``<answer>…</answer>`` (or any stop
string), ``\\boxed{…}``, GSM8K's ``#### N``, or a user regex; tag compliance; the gold answer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Any

from trainlens.audit.numbers import boxed, normalise_text, numbers_in, parse_number

Value = Fraction | str


class AnswerStyle(str, Enum):
    """How a response marks its answer."""

    STOP = "stop"  # a closing tag / stop string, the answer before it (after its opening tag)
    BOXED = "boxed"
    HASH = "hash"  # GSM8K: "#### 42"
    PATTERN = "pattern"  # --answer-pattern
    NONE = "none"  # no marker found: only the diagnostic reading applies


_TAG = re.compile(r"^</([A-Za-z][\w:-]*)>$")
_HASH = re.compile(r"####\s*([^\n]*\S)")
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class AnswerFormat:
    """The answer convention of a file: its style and, for ``stop``, the closing string (and
    the opening tag when the stop string is a closing tag)."""

    style: AnswerStyle
    stop: str | None = None
    pattern: re.Pattern[str] | None = None

    @property
    def opening(self) -> str | None:
        m = _TAG.match(self.stop or "")
        return f"<{m.group(1)}>" if m else None

    def describe(self) -> str:
        if self.style is AnswerStyle.STOP:
            return f"answer closed by {self.stop!r}"
        if self.style is AnswerStyle.PATTERN and self.pattern is not None:
            return f"answer matched by /{self.pattern.pattern}/"
        return {
            AnswerStyle.BOXED: "answer in \\boxed{}",
            AnswerStyle.HASH: "answer after '####'",
            AnswerStyle.NONE: "no answer marker (only the last number is read)",
        }.get(self.style, self.style.value)


@dataclass(frozen=True)
class Extracted:
    """What a response says: whether its answer closed, the answer text and its read value
    (None when unparseable), where the answer starts (chars), the think section's length."""

    closed: bool
    region: str | None
    value: Value | None
    answer_pos: int | None
    think_chars: int | None


def choose_format(
    responses: Iterable[str], stop: str | None = None, pattern: str | None = None
) -> AnswerFormat:
    """The file's answer convention: the user's ``pattern`` or ``stop`` when given, else the
    marker most of the first responses use (``</answer>``, ``\\boxed``, ``####``), else none."""
    if pattern:
        try:
            return AnswerFormat(AnswerStyle.PATTERN, pattern=re.compile(pattern, re.DOTALL))
        except re.error as exc:
            raise ValueError(f"--answer-pattern: invalid regex: {exc}") from None
    if stop:
        return AnswerFormat(AnswerStyle.STOP, stop=stop)
    votes = {AnswerStyle.STOP: 0, AnswerStyle.BOXED: 0, AnswerStyle.HASH: 0}
    total = 0
    for text in responses:
        total += 1
        if "<answer>" in text or "</answer>" in text:
            votes[AnswerStyle.STOP] += 1
        elif "\\boxed" in text:
            votes[AnswerStyle.BOXED] += 1
        elif "####" in text:
            votes[AnswerStyle.HASH] += 1
    style, count = max(votes.items(), key=lambda kv: kv[1])
    if not total or count < max(1, total // 5):
        return AnswerFormat(AnswerStyle.NONE)
    return AnswerFormat(style, stop="</answer>" if style is AnswerStyle.STOP else None)


def extract(text: str, fmt: AnswerFormat, stop_reason: str | None = None) -> Extracted:
    """Read one response under ``fmt``. ``stop_reason``: the stop string the engine reported
    (vLLM leaves it out of the text), which closes the answer too."""
    think = _think_chars(text)
    if fmt.style is AnswerStyle.STOP and fmt.stop:
        end = text.find(fmt.stop)
        if end < 0 and stop_reason == fmt.stop:
            end = len(text)
        if end < 0:
            return Extracted(False, None, None, _open_pos(text, fmt), think)
        opening = fmt.opening
        start = text.rfind(opening, 0, end) if opening else -1
        begin = start + len(opening) if opening and start >= 0 else 0
        region = text[begin:end]
        return Extracted(True, region, read_answer(region), begin, think)
    if fmt.style is AnswerStyle.BOXED:
        content = boxed(text)
        if content is None:
            return Extracted(False, None, None, None, think)
        return Extracted(True, content, read_answer(content), text.rfind("\\boxed"), think)
    if fmt.style is AnswerStyle.HASH:
        m = _last(_HASH.finditer(text))
        if m is None:
            return Extracted(False, None, None, None, think)
        return Extracted(True, m.group(1), read_answer(m.group(1)), m.start(1), think)
    if fmt.style is AnswerStyle.PATTERN and fmt.pattern is not None:
        found = _last(fmt.pattern.finditer(text))
        if found is None:
            return Extracted(False, None, None, None, think)
        group = "answer" if "answer" in fmt.pattern.groupindex else (1 if fmt.pattern.groups else 0)
        region = found.group(group) or ""
        return Extracted(True, region, read_answer(region), found.start(group), think)
    return Extracted(True, None, None, None, think)


def read_answer(region: str) -> Value | None:
    """The value an answer region states: the content of a ``\\boxed{}`` in it, one number, or
    the same number repeated; text without numbers is a text value; several different numbers
    or nothing is unparseable (None)."""
    inner = boxed(region)
    if inner is not None:
        region = inner
    value = parse_number(region)
    if value is not None:
        return value
    found = set(numbers_in(region))
    if len(found) == 1:
        return found.pop()
    if found:
        return None
    text = normalise_text(region)
    return text or None


def read_gold(raw: Any) -> Value | None:
    """The gold answer of a record: a number, or text whose answer part is found as graders
    do (GSM8K's ``#### N``, ``\\boxed{}``, ``<answer>``), then read as a number when it is one."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        try:
            return Fraction(str(raw))
        except ValueError:
            return None
    if isinstance(raw, list):  # a list of references: the first
        return read_gold(raw[0]) if raw else None
    if not isinstance(raw, str):
        return None
    return _read_gold_text(raw)


@lru_cache(maxsize=4096)
def _read_gold_text(raw: str) -> Value | None:
    text = raw
    hashed = _last(_HASH.finditer(text))
    if hashed is not None:
        text = hashed.group(1)
    elif (inner := boxed(text)) is not None:
        text = inner
    elif "<answer>" in text and "</answer>" in text:
        text = text[text.rfind("<answer>") + 8 : text.rfind("</answer>")]
    value = parse_number(text)
    if value is not None:
        return value
    numbers = numbers_in(text)
    if numbers and len(text) > 40:  # a worked solution without a marker: its last number
        return numbers[-1]
    norm = normalise_text(text)
    return norm or None


def tag_ok(text: str, tag: str) -> bool:
    """Whether ``<tag>`` opens and ``</tag>`` closes after it."""
    start = text.find(f"<{tag}>")
    return start >= 0 and text.find(f"</{tag}>", start) >= 0


def think_text_chars(text: str) -> int | None:
    """Length of the ``<think>`` section (to the end when it never closed), None without one."""
    return _think_chars(text)


def _think_chars(text: str) -> int | None:
    start = text.find(_THINK_OPEN)
    end = text.find(_THINK_CLOSE)
    if start < 0 and end < 0:
        return None
    begin = start + len(_THINK_OPEN) if start >= 0 else 0
    if end < begin:
        end = text.find(_THINK_CLOSE, begin)
    return (end if end >= 0 else len(text)) - begin


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    found = None
    for found in matches:  # noqa: B007  (the last one is wanted)
        pass
    return found


def _open_pos(text: str, fmt: AnswerFormat) -> int | None:
    opening = fmt.opening
    if not opening:
        return None
    pos = text.rfind(opening)
    return pos + len(opening) if pos >= 0 else None
