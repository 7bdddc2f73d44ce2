"""What every console log holds besides metrics: tqdm progress counters, and a cheap sniff of
which console format a text file is.

tqdm draws ``" 20%|██        | 40/200 [02:18<07:14,  2.72s/it]"``; W&B freezes one such line per
bar. The counter (40 of 200) is the training step when the bar is the Trainer's, and the rate
(``2.72s/it`` or ``1.5it/s``) its speed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

TQDM = re.compile(
    rb"(\d+)/(\d+) \[(?:[\d:]+|\?)(?:<(?:[\d:]+|\?))?(?:,\s*([\d.]+|\?)\s*(s/it|it/s))?"
)
#: A Python dict literal printed by the HF Trainer (``{'loss': 0.1, ...}``).
DICT_START = re.compile(rb"\{'[^'\n]{1,200}': ")
#: verl's metric line.
VERL_STEP = re.compile(rb"(?:^|[\s)\]])step:(\d+) - ")


@dataclass(frozen=True)
class Progress:
    """One tqdm redraw: ``done`` of ``total``, and its seconds per iteration when printed."""

    done: int
    total: int
    seconds_per_it: float | None


def tqdm_counter(segment: bytes) -> Progress | None:
    """The tqdm counter a redraw shows, or None (needs the ``N/M [`` shape)."""
    if b"/" not in segment or b"[" not in segment:
        return None
    m = TQDM.search(segment)
    if not m:
        return None
    done, total = int(m.group(1)), int(m.group(2))
    if total <= 0 or done > total:
        return None
    rate = None
    if m.group(3) and m.group(3) != b"?":
        value = float(m.group(3))
        if value > 0:
            rate = value if m.group(4) == b"s/it" else 1.0 / value
    return Progress(done, total, rate)


def training_total(counters: list[Progress], max_steps: int | None = None) -> int | None:
    """The total of the training bar among all bars drawn (evaluation bars restart often;
    the training bar only goes up). ``max_steps`` from a config wins when a bar has it."""
    if not counters:
        return None
    totals = Counter(c.total for c in counters)
    if max_steps and max_steps in totals:
        return max_steps
    best: tuple[int, int, int] | None = None
    last: dict[int, int] = {}
    restarts: Counter[int] = Counter()
    for c in counters:
        if c.done < last.get(c.total, -1):
            restarts[c.total] += 1
        last[c.total] = c.done
    for total, n in totals.items():
        # a bar that restarted more than a few times (rank interleaving aside) is an eval bar
        if restarts[total] > max(3, n // 20):
            continue
        key = (n, total, -restarts[total])
        if best is None or key > best:
            best = key
    return best[1] if best else None
