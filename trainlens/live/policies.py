"""Metric policies checked point by point: a tracker per policy keeps the running state (streak,
count, max, sum ...) and says when the policy may have failed; the verdict is then taken by the
gate's own evaluator (:func:`trainlens.gate.evaluate_arrays`) over the whole series, so a live
run fails exactly where ``trainlens gate`` would fail the same log."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from trainlens.gate.expressions import Aggregate, Comparison, MetricPolicy, Op

_OPS: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
}


def predicate(cmp: Comparison) -> Callable[[float], bool]:
    """A scalar version of :meth:`Comparison.mask` (NaN satisfies no numeric comparison)."""
    t = cmp.threshold
    if math.isnan(t):
        return math.isnan if cmp.op is Op.EQ else (lambda x: not math.isnan(x))
    if cmp.op is Op.NE:
        return lambda x: x != t and not math.isnan(x)
    fn = _OPS[cmp.op]
    return lambda x: fn(x, t)


class Tracker:
    """Running state of one metric policy. :meth:`feed` returns True when the policy may fail
    at this point (the caller then evaluates it in full). ``exact`` is False for aggregates
    with no cheap running form (median): those are checked in full on a cadence instead."""

    def __init__(self, policy: MetricPolicy) -> None:
        self.policy = policy
        self.test = predicate(policy.compare)
        self.count_test = predicate(policy.count_of) if policy.count_of is not None else None
        self.exact = policy.aggregate is not Aggregate.MEDIAN
        self.reset()

    def reset(self) -> None:
        self.n = 0  # points in range
        self.acc = 0.0  # streak, count, sum, running max/min
        self.finite = 0
        self.mean = 0.0  # Welford (std)
        self.m2 = 0.0

    def feed(self, step: int, x: float) -> bool:
        p = self.policy
        if (p.after is not None and step <= p.after) or (p.before is not None and step >= p.before):
            return False
        self.n += 1
        agg = p.aggregate
        if agg is None:
            self.acc = self.acc + 1 if self.test(x) else 0
            return self.acc >= p.sustained
        if agg is Aggregate.COUNT:
            assert self.count_test is not None
            self.acc += self.count_test(x)
            return self.test(self.acc)
        if agg is Aggregate.LAST:
            return self.test(x)
        if agg is Aggregate.FIRST:
            return self.n == 1 and self.test(x)
        if math.isnan(x):
            return False
        self.finite += 1
        if agg is Aggregate.MAX:
            self.acc = x if self.finite == 1 else max(self.acc, x)
        elif agg is Aggregate.MIN:
            self.acc = x if self.finite == 1 else min(self.acc, x)
        elif agg in (Aggregate.SUM, Aggregate.MEAN):
            self.acc += x
            return self._close(self.acc if agg is Aggregate.SUM else self.acc / self.finite)
        elif agg is Aggregate.STD:
            delta = x - self.mean
            self.mean += delta / self.finite
            self.m2 += delta * (x - self.mean)
            return self._close(math.sqrt(max(self.m2, 0.0) / self.finite))
        else:  # median: checked in full on the cadence
            return False
        return self.test(self.acc)

    def _close(self, value: float) -> bool:
        """The test on a running sum/mean/std, or within rounding of the threshold (where the
        running form and numpy's may disagree): the exact evaluator decides."""
        t = self.policy.compare.threshold
        near = math.isfinite(t) and abs(value - t) <= 1e-9 * max(1.0, abs(t))
        return near or self.test(value)
