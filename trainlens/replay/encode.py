"""Samples → token ids (prompt then response), with what the scoring needs to know about EOS.
No torch here: a tokenizer is any object with the ``transformers`` tokenizer call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.replay.batch import ReplaySample, Text


@dataclass(frozen=True)
class Encoded:
    """A sample as one token sequence: ``ids[:prompt_len]`` is the prompt, the rest the
    response; ``n_eos`` trailing response tokens are EOS."""

    sample: ReplaySample
    ids: tuple[int, ...]
    prompt_len: int
    n_eos: int

    @property
    def n_response(self) -> int:
        return len(self.ids) - self.prompt_len

    @property
    def text_key(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """What "identical up to a trailing EOS" compares: the prompt and the response without
        its trailing EOS tokens."""
        end = len(self.ids) - self.n_eos
        return self.ids[: self.prompt_len], self.ids[self.prompt_len : end]


def trailing_eos(ids: tuple[int, ...], eos_ids: frozenset[int], start: int) -> int:
    """How many of ``ids[start:]`` at the end are EOS tokens."""
    n = 0
    for tok in reversed(ids[start:]):
        if tok not in eos_ids:
            break
        n += 1
    return n


def encode_samples(
    samples: Iterable[ReplaySample],
    tokenizer: Any | None,
    *,
    eos_ids: frozenset[int],
    max_len: int | None,
    vocab_size: int | None,
    source: str,
    warnings: list[ReadWarning],
) -> list[Encoded]:
    """Token sequences for ``samples``. A sample that needs a tokenizer when there is none,
    holds an id outside the vocabulary, or is longer than ``max_len`` is skipped with a warning
    naming its line and id."""
    out: list[Encoded] = []
    for s in samples:
        where = f"line {s.line} ({_label(s)})"
        if s.needs_tokenizer and tokenizer is None:
            warnings.append(
                ReadWarning(source, f"{where}: text needs a tokenizer (--tokenizer DIR), skipped")
            )
            continue
        prompt = _ids(s.prompt, tokenizer, special=True)
        response = _ids(s.response, tokenizer, special=False)
        if not response:
            warnings.append(ReadWarning(source, f"{where}: the response has no tokens, skipped"))
            continue
        ids = prompt + response
        if vocab_size is not None and max(ids) >= vocab_size:
            warnings.append(
                ReadWarning(
                    source,
                    f"{where}: token id {max(ids)} is outside the model's vocabulary "
                    f"({vocab_size}), skipped",
                )
            )
            continue
        if max_len is not None and len(ids) > max_len:
            warnings.append(
                ReadWarning(
                    source,
                    f"{where}: {len(ids)} tokens, longer than the model's context ({max_len}), "
                    "skipped",
                )
            )
            continue
        n_eos = trailing_eos(ids, eos_ids, len(prompt))
        out.append(Encoded(s, ids, len(prompt), n_eos))
    return out


def _label(s: ReplaySample) -> str:
    return f"id {s.id}" if s.role is None else f"id {s.id}, {s.role}"


def _ids(part: Text, tokenizer: Any | None, *, special: bool) -> tuple[int, ...]:
    if part.ids is not None:
        return part.ids
    assert tokenizer is not None and part.text is not None
    if not part.text:
        return ()
    encoded = tokenizer(part.text, add_special_tokens=special)
    return tuple(int(i) for i in encoded["input_ids"])
