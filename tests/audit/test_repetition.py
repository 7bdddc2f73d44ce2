"""Loops: the batched search (bucket counts, then the exact check) agrees with the exact one
on every response; passages in any script; short texts never loop."""

from __future__ import annotations

import random

from trainlens.audit.repetition import is_repetitive, longest_repeat, repetitive_flags


def test_exact_search_counts_copies_and_periods() -> None:
    loop = "then we add the two numbers again and check the result once more "
    assert longest_repeat(loop * 6, 60) == 6
    assert longest_repeat("abcdefghij" * 10, 60) == 5  # period 10: once per period
    assert longest_repeat("short", 60) == 0
    assert is_repetitive("这是一个一直重复的句子，模型停不下来。" * 12, 60, 4)
    assert not is_repetitive(" ".join(str(i) for i in range(400)), 60, 4)


def test_batched_search_matches_the_exact_one() -> None:
    rng = random.Random(7)
    words = ["we", "add", "the", "next", "so", "then", "value", "is", "12", "x", "然后", "。"]
    texts = []
    for _ in range(1500):
        kind = rng.random()
        if kind < 0.1:
            texts.append("and then we check it again " * rng.randint(1, 9))
        elif kind < 0.15:
            texts.append("这是一个循环的句子，" * rng.randint(1, 30))
        elif kind < 0.2:
            texts.append("x" * rng.randint(0, 300))
        else:
            texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 400))))
    expected = [is_repetitive(t, 60, 4) for t in texts]
    assert 50 < sum(expected) < 1000
    assert repetitive_flags(texts, 60, 4) == expected
    assert repetitive_flags(texts, 40, 3) == [is_repetitive(t, 40, 3) for t in texts]
