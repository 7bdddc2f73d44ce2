"""What every console log holds besides metrics: tqdm progress counters, and a cheap sniff of
which console format a text file is.

tqdm draws ``" 20%|██        | 40/200 [02:18<07:14,  2.72s/it]"``; W&B freezes one such line per
bar. The counter (40 of 200) is the training step when the bar is the Trainer's, and the rate
(``2.72s/it`` or ``1.5it/s``) its speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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


@dataclass
class BarStats:
    """Running statistics of every tqdm bar drawn in a log, by total: how often it was redrawn,
    how often it went back (an evaluation bar restarts at each evaluation; the training bar only
    goes up), its last and highest counter. Constant memory, however long the log."""

    redraws: dict[int, int] = field(default_factory=dict)
    restarts: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    highest: dict[int, int] = field(default_factory=dict)

    def add(self, p: Progress) -> None:
        t = p.total
        if p.done < self.last.get(t, -1):
            self.restarts[t] = self.restarts.get(t, 0) + 1
        self.last[t] = p.done
        self.redraws[t] = self.redraws.get(t, 0) + 1
        self.highest[t] = max(self.highest.get(t, 0), p.done)

    def training_total(self, max_steps: int | None = None) -> int | None:
        """The total of the training bar (``max_steps`` from a config wins when a bar has it)."""
        if not self.redraws:
            return None
        if max_steps and max_steps in self.redraws:
            return max_steps
        best: tuple[int, int] | None = None
        for total, n in self.redraws.items():
            if self.restarts.get(total, 0) > max(3, n // 20):
                continue  # restarted again and again (rank interleaving aside): an eval bar
            if best is None or (n, total) > best:
                best = (n, total)
        return best[1] if best else None
