"""Running counts for audits: exact length histograms in fixed memory, rate counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Lengths up to this are counted exactly; longer ones share one bin (their max is kept).
HIST_LIMIT = 1 << 16


@dataclass
class Histogram:
    """Counts of non-negative integer lengths: exact quantiles and "how many below x" in
    fixed memory, whatever the number of samples."""

    counts: list[int] = field(default_factory=lambda: [0] * (HIST_LIMIT + 1))
    n: int = 0
    total: int = 0
    max: int = 0

    def add(self, value: int) -> None:
        self.counts[min(value, HIST_LIMIT)] += 1
        self.n += 1
        self.total += value
        if value > self.max:
            self.max = value

    def below(self, limit: float) -> int:
        """How many values are strictly below ``limit``."""
        top = min(int(-(-limit // 1)), HIST_LIMIT + 1)  # ceil
        return sum(self.counts[: max(top, 0)])

    def quantile(self, q: float) -> int | None:
        if not self.n:
            return None
        rank = q * (self.n - 1)
        seen = 0
        for value, count in enumerate(self.counts):
            seen += count
            if seen > rank:
                return self.max if value == HIST_LIMIT else value
        return self.max

    def describe(self) -> dict[str, Any] | None:
        """``n, mean, p50, p90, p99, max`` (None when nothing was counted)."""
        if not self.n:
            return None
        return {
            "n": self.n,
            "mean": round(self.total / self.n, 1),
            "p50": self.quantile(0.5),
            "p90": self.quantile(0.9),
            "p99": self.quantile(0.99),
            "max": self.max,
        }


#: The counters of an audit, per file and per step.
COUNTERS = (
    "n",
    "unclosed",
    "unparseable",
    "empty",
    "tiny",
    "repetitive",
    "with_gold",
    "strict",
    "diagnostic",
    "limit_known",
    "limit_hit",
    "chars",
)


#: Position of each counter in :attr:`Counts.cells`.
INDEX = {name: i for i, name in enumerate(COUNTERS)}


class Counts:
    """One set of counters (see :data:`COUNTERS`) plus tag compliance, kept compact (one per
    logged step of a long GRPO log): a list of ints, the tag table only when tags are asked."""

    __slots__ = ("cells", "_tags")

    def __init__(self) -> None:
        self.cells = [0] * len(COUNTERS)
        self._tags: dict[str, int] | None = None

    @property
    def values(self) -> dict[str, int]:
        """The counters by name (a copy)."""
        return dict(zip(COUNTERS, self.cells))

    @property
    def tags(self) -> dict[str, int]:
        if self._tags is None:
            self._tags = {}
        return self._tags

    def add(self, name: str, amount: int = 1) -> None:
        self.cells[INDEX[name]] += amount

    def rates(self, measured_closure: bool) -> dict[str, float | None]:
        """Shares of all samples counted; accuracies over the samples with a gold answer (None
        without any); ``unclosed``/``unparseable`` None when no answer marker is known."""
        v = self.values
        n = v["n"]

        def share(count: int, of: int) -> float | None:
            return count / of if of else None

        out: dict[str, float | None] = {
            "unclosed_rate": share(v["unclosed"], n) if measured_closure else None,
            "unparseable_rate": share(v["unparseable"], n) if measured_closure else None,
            "empty_rate": share(v["empty"], n),
            "degenerate_rate": share(v["tiny"], n),
            "repetition_rate": share(v["repetitive"], n),
            "strict_accuracy": share(v["strict"], v["with_gold"]) if measured_closure else None,
            "diagnostic_accuracy": share(v["diagnostic"], v["with_gold"]),
            "limit_hit_rate": share(v["limit_hit"], v["limit_known"]),
            "response_chars_mean": share(v["chars"], n),
        }
        for tag, ok in (self._tags or {}).items():
            out[f"tag_{tag}_rate"] = share(ok, n)
        return out
