"""Degenerate text: word/CJK-character tokens, and loops (one long passage repeated).

Loops are found on characters with a polynomial hash of every window, vectorised with numpy
(prefix sums of ``c_j·B^j`` mod 2^64, rescaled by ``B^-i``): a handful of array operations per
batch of responses whatever the window length, no Python loop per character or token. A batch
first counts window hashes in buckets (linear); only responses whose fullest bucket reaches the
repeat count are checked exactly (sorted hashes), so plain text costs no sort."""

from __future__ import annotations

import re

import numpy as np

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\w+|[^\w\s]")
#: Only the tail of a response is searched for loops (they run to the end when they happen).
TAIL_CHARS = 16_384
#: Characters of response tails hashed together (callers batch responses up to this).
BATCH_CHARS = 1 << 18
_B = 1_000_003  # odd, so invertible modulo 2^64
_SAMPLE_KEY = np.uint64(0x9E3779B97F4A7C15)
#: A passage's first word start lies within this many characters of its start.
ANCHOR_SLACK = 20
#: Text with fewer than one space per this many characters is searched at every position.
SPACED = 20
#: Two multiplicative (Fibonacci) hashes pick two independent buckets per window.
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _powers(base: int, n: int) -> np.ndarray:
    """``base^0 .. base^(n-1)`` modulo 2^64."""
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    with np.errstate(over="ignore"):
        out[1:] = np.cumprod(np.full(n - 1, base, dtype=np.uint64))
    return out


_POW = _powers(_B, BATCH_CHARS + TAIL_CHARS + 1)
_INV = _powers(pow(_B, -1, 1 << 64), BATCH_CHARS + TAIL_CHARS + 1)


def word_tokens(text: str) -> list[str]:
    """Words, CJK characters and punctuation marks: a tokenizer-free count of a text."""
    return _TOKEN.findall(text)


def count_words(text: str) -> int:
    """How many :func:`word_tokens` ``text`` holds (no list kept)."""
    return sum(1 for _ in _TOKEN.finditer(text))


def longest_repeat(text: str, chars: int) -> int:
    """How often the most frequent ``chars``-long passage of the text's last
    :data:`TAIL_CHARS` characters occurs (overlapping copies count: a period shorter than the
    passage repeats it once per period); 0 for a shorter text."""
    tail = text[-TAIL_CHARS:]
    size = len(tail)
    if size < chars or chars < 1:
        return 0
    codes = np.frombuffer(tail.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    width = size - chars + 1
    prefix = np.zeros(size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum((codes + np.uint64(1)) * _POW[:size], out=prefix[1:])
        h = (prefix[chars : chars + width] - prefix[:width]) * _INV[:width]
    h.sort()
    starts = np.flatnonzero(h[1:] != h[:-1]) + 1
    runs = np.diff(np.concatenate(([0], starts, [width])))
    return int(runs.max())


def is_repetitive(text: str, chars: int, min_repeats: int) -> bool:
    """Whether one passage of ``chars`` characters occurs at least ``min_repeats`` times."""
    if len(text) < chars + min_repeats - 1:
        return False
    return longest_repeat(text, chars) >= min_repeats


def repetitive_flags(texts: list[str], chars: int, min_repeats: int) -> list[bool]:
    """:func:`is_repetitive` for many responses at once (their tails up to
    :data:`BATCH_CHARS` characters in all; larger batches are split)."""
    out = [False] * len(texts)
    todo = [i for i, t in enumerate(texts) if chars >= 1 and len(t) >= chars + min_repeats - 1]
    group: list[int] = []
    size = 0
    for i in todo:
        length = min(len(texts[i]), TAIL_CHARS)
        if group and size + length > BATCH_CHARS:
            _flag_group(texts, group, chars, min_repeats, out)
            group, size = [], 0
        group.append(i)
        size += length
    if group:
        _flag_group(texts, group, chars, min_repeats, out)
    return out


def _flag_group(
    texts: list[str], group: list[int], chars: int, min_repeats: int, out: list[bool]
) -> None:
    """Candidates by a necessary condition, then the exact check. A passage of ``chars``
    characters holds a word start (a character after a space or newline) in its first
    :data:`ANCHOR_SLACK` characters, so its copies share a shorter window starting there; only
    windows at word starts are counted (every position in text with few spaces)."""
    tails = [texts[i][-TAIL_CHARS:] for i in group]
    lens = np.fromiter((len(t) for t in tails), np.int64, len(tails))
    codes = np.frombuffer("".join(tails).encode("utf-32-le"), dtype=np.uint32)
    total = len(codes)
    short = max(1, chars - ANCHOR_SLACK)
    width = total - short + 1
    starts = np.cumsum(lens) - lens
    ends = starts + lens
    sid = np.repeat(np.arange(len(tails), dtype=np.int64), lens)
    space = (codes == 32) | (codes == 10)
    anchor = np.empty(total, dtype=bool)
    anchor[0] = True
    anchor[1:] = space[:-1]
    anchor[starts] = True
    dense = np.add.reduceat(space, starts) * SPACED < lens  # few spaces: every position
    anchor |= dense[sid]
    pos = np.flatnonzero(anchor[:width])
    pos = pos[pos + short <= ends[sid[pos]]]  # windows inside their own response
    prefix = np.zeros(total + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum((codes.astype(np.uint64) + np.uint64(1)) * _POW[:total], out=prefix[1:])
        h = (prefix[pos + short] - prefix[pos]) * _INV[pos]
        h += sid[pos].astype(np.uint64) * _SAMPLE_KEY
    bits = max(12, int(np.ceil(np.log2(4 * max(len(pos), 1)))))
    seen = None
    for mix in _MIX:  # a window counts as often as the emptier of its two buckets
        with np.errstate(over="ignore"):
            bucket = ((h * mix) >> np.uint64(64 - bits)).astype(np.int64)
        counts = np.bincount(bucket, minlength=1 << bits)[bucket]
        seen = counts if seen is None else np.minimum(seen, counts)
    if seen is None or not len(pos):
        return
    fullest = np.zeros(len(tails), dtype=np.int64)
    np.maximum.at(fullest, sid[pos], seen)
    for j in np.flatnonzero(fullest >= min_repeats):  # a bucket that full: check exactly
        out[group[j]] = longest_repeat(tails[j], chars) >= min_repeats
