"""What every console log holds besides metrics: tqdm progress counters, and a cheap sniff of
which console format a text file is.

tqdm draws ``" 20%|██        | 40/200 [02:18<07:14,  2.72s/it]"``; W&B freezes one such line per
bar. The counter (40 of 200) is the training step when the bar is the Trainer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: A tqdm counter: ``40/200 [02:18<07:14,  2.72s/it]`` (done, total; the elapsed time must follow).
TQDM = re.compile(rb"(\d+)/(\d+) \[(?:[\d:]+|\?)")
#: A Python dict literal printed by the HF Trainer (``{'loss': 0.1, ...}``).
DICT_START = re.compile(rb"\{'[^'\n]{1,200}': ")
#: verl's metric line.
VERL_STEP = re.compile(rb"(?:^|[\s)\]])step:(\d+) - ")


@dataclass
class BarStats:
    """Running statistics of every tqdm bar drawn in a log, by total: how often it was redrawn,
    how often it went back (an evaluation bar restarts at each evaluation; the training bar only
    goes up), its last and highest counter. Constant memory, however long the log."""

    redraws: dict[int, int] = field(default_factory=dict)
    restarts: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    highest: dict[int, int] = field(default_factory=dict)

    def add(self, done: int, total: int) -> bool:
        """Count one redraw; False (and nothing counted) when it cannot be a bar's counter."""
        if total <= 0 or done > total:
            return False
        if done < self.last.get(total, -1):
            self.restarts[total] = self.restarts.get(total, 0) + 1
        self.last[total] = done
        self.redraws[total] = self.redraws.get(total, 0) + 1
        if done > self.highest.get(total, 0):
            self.highest[total] = done
        return True

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
