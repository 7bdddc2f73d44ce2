"""Degenerate text: word/CJK-character tokens, and loops (one long n-gram repeated)."""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\w+|[^\w\s]")
#: Only the tail of a response is searched for loops (they run to the end when they happen).
TAIL_TOKENS = 4096


def word_tokens(text: str) -> list[str]:
    """Words, CJK characters and punctuation marks: a tokenizer-free count of a text."""
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    """How many :func:`word_tokens` ``text`` holds (no list kept)."""
    return sum(1 for _ in _TOKEN.finditer(text))


def longest_repeat(tokens: list[str], n: int) -> int:
    """How often the most frequent ``n``-gram of the last :data:`TAIL_TOKENS` tokens occurs
    (0 when there are fewer than ``n`` tokens)."""
    tail = tokens[-TAIL_TOKENS:]
    if len(tail) < n:
        return 0
    grams = Counter(hash(tuple(tail[i : i + n])) for i in range(len(tail) - n + 1))
    return max(grams.values())


def is_repetitive(text: str, n: int, min_repeats: int) -> bool:
    """Whether one ``n``-token sequence occurs at least ``min_repeats`` times (a loop)."""
    if len(text) < n * min_repeats:
        return False
    return longest_repeat(word_tokens(text[-TAIL_TOKENS * 8 :]), n) >= min_repeats
