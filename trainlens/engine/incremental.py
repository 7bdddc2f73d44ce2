"""Judging only what is new in a growing run: which rules can, with how much context, and which
of their findings are new.

``watch`` re-runs every rule over the whole run now and then (a full pass); between full passes
it gives the rules whose detector declares a ``lookback`` (spikes, NaN/Inf) only the end of each
series (the points read since the last pass plus that much context before them) and keeps the
findings that reach past what was judged before. Post rules (instability episodes) run over the
findings of that same pass. Rules that read the whole series (change points, levels, best-then-
worse) wait for the next full pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from trainlens.engine.spec import RuleSpec
from trainlens.findings import Finding


def lookback(spec: RuleSpec) -> int | None:
    """Points of context ``spec`` needs before a new point to judge it (0 for post rules, which
    read findings), or None when it needs the whole series (or is not a series rule)."""
    if spec.kind != "series":
        return None
    info = spec.info
    if info.post:
        return 0
    if info.lookback is None:
        return None
    return max(0, int(info.lookback({**info.defaults, **spec.params})))


def windowed(specs: Iterable[RuleSpec]) -> list[RuleSpec]:
    """The rules of ``specs`` that can judge new points from the end of a series."""
    return [s for s in specs if lookback(s) is not None]


def context_points(specs: Iterable[RuleSpec]) -> int:
    """Points to keep before the new ones so that every rule of ``specs`` can judge them (at
    least 1: the last point before them)."""
    return max([1, *(lookback(s) or 0 for s in specs)])


def reaching_past(
    findings: Sequence[Finding], judged: Mapping[str, int], judged_step: int | None
) -> list[Finding]:
    """The findings that reach past what the previous pass judged (a finding that began before
    and grows is kept too: its evidence may have arrived late, e.g. from a file that flushes
    behind the others; the caller's identities keep it from being reported twice): one about a
    raw key ending after ``judged[key]`` (any finding about a key not judged before), an
    episode of several (or one without a key) ending after ``judged_step`` (None: nothing
    judged yet)."""
    out = []
    for f in findings:
        last = judged_step if f.members or not f.key else judged.get(f.key)
        if last is None or f.end_step > last:
            out.append(f)
    return out
