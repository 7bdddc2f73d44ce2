"""Keys the readers convert on reading, so a policy written on the file's own key name can be
explained instead of being reported as a plain missing metric.

ms-swift v4 logs ``train_speed(s/it)`` (seconds per step); the reader stores its reciprocal under
``train_speed(iter/s)`` (steps per second), the key every other version uses. A policy on the
original key cannot be evaluated as written (its threshold would apply to the inverted quantity),
so the gate rejects it with the equivalent policy on the converted key, where one exists.
"""

from __future__ import annotations

import math
from dataclasses import replace

from trainlens.gate.expressions import Aggregate, Comparison, MetricPolicy, Op

#: Original key → the key its reciprocal is stored under (see readers/swift_jsonl.py).
RECIPROCAL_KEYS: dict[str, str] = {"train_speed(s/it)": "train_speed(iter/s)"}

_FLIP = {Op.GT: Op.LT, Op.GE: Op.LE, Op.LT: Op.GT, Op.LE: Op.GE, Op.EQ: Op.EQ, Op.NE: Op.NE}
#: Aggregates of 1/x that are 1/(aggregate of x), for positive x.
_AGG_FLIP = {
    Aggregate.MAX: Aggregate.MIN,
    Aggregate.MIN: Aggregate.MAX,
    Aggregate.FIRST: Aggregate.FIRST,
    Aggregate.LAST: Aggregate.LAST,
    Aggregate.COUNT: Aggregate.COUNT,
}


def _flip(c: Comparison) -> Comparison | None:
    """``x OP t`` ⇔ ``1/x OP' 1/t`` for positive x and t (None when t is not a positive number;
    a NaN test stays one: 1/NaN is NaN)."""
    t = c.threshold
    if math.isnan(t):
        return c
    if not (0 < t < math.inf):
        return None
    return Comparison(_FLIP[c.op], 1.0 / t)


def reciprocal_policy(policy: MetricPolicy) -> MetricPolicy | None:
    """The same policy on the converted key, or None when there is no exact equivalent (mean,
    median, std and sum of 1/x are not 1/(those of x); a threshold that is not positive)."""
    target = RECIPROCAL_KEYS.get(policy.metric)
    if target is None:
        return None
    if policy.aggregate is Aggregate.COUNT:
        assert policy.count_of is not None
        inner = _flip(policy.count_of)
        if inner is None:
            return None
        new = replace(policy, metric=target, count_of=inner)
    else:
        if policy.aggregate is not None and policy.aggregate not in _AGG_FLIP:
            return None
        compare = _flip(policy.compare)
        if compare is None:
            return None
        aggregate = _AGG_FLIP[policy.aggregate] if policy.aggregate is not None else None
        new = replace(policy, metric=target, compare=compare, aggregate=aggregate)
    return replace(new, text=new.canonical_text())


def converted_note(policy: MetricPolicy, has_key: bool) -> str | None:
    """Why a policy on a converted key is not checked, and what to write instead (None when
    ``policy.metric`` is not such a key, or the run lacks the converted key: ``has_key``)."""
    target = RECIPROCAL_KEYS.get(policy.metric)
    if target is None or not has_key:
        return None
    note = (
        f"{policy.metric} is read as {target} = 1/x (steps per second), so a threshold on "
        f"{policy.metric} cannot be checked as written"
    )
    equivalent = reciprocal_policy(policy)
    if equivalent is None:
        return note + f"; write the policy on {target} (no exact equivalent of this one)"
    return note + f"; the equivalent policy is {equivalent.text!r}"
