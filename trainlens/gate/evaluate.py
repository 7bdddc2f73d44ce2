"""Evaluate policies over runs (metric policies, vectorised with numpy) and over findings
(rule and severity policies). Nothing here prints or exits."""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.engine.stats import segments
from trainlens.findings import Finding, Skipped
from trainlens.gate.converted import RECIPROCAL_KEYS, converted_note
from trainlens.gate.expressions import (
    Aggregate,
    MetricPolicy,
    Op,
    Policy,
    RulePolicy,
    SeverityPolicy,
    quote_metric,
)
from trainlens.run import Run


class Status(str, Enum):
    """Outcome of one policy on one run. ``missing`` (the policy could not be checked: the
    metric is absent, has no logged point in the step range, or only NaN values) counts as
    passed unless ``--strict``."""

    PASS = "pass"
    FAIL = "fail"
    MISSING = "missing"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PolicyResult:
    """One policy on one run, with its evidence.

    ``value``/``step``: for a point test the worst logged value and its step (highest for ``>``,
    lowest for ``<``, the first violating point for ``==``/``!=``); for an aggregate its value
    (and the step it was taken at, for max/min/first/last); for ``count()`` the count.
    ``fired_step`` is the step at which the policy first failed (a sustained test: the point that
    completed N in a row).
    """

    policy: Policy
    run: str
    status: Status
    key: str | None = None
    value: float | None = None
    step: int | None = None
    violations: int | None = None  # points satisfying the point test (None for aggregates)
    points: int = 0  # points considered (after the step range)
    longest_streak: int | None = None  # sustained tests
    fired_step: int | None = None
    nan_points: int = 0
    samples: tuple[tuple[int, float], ...] = ()  # first violating points (step, value)
    findings: tuple[Finding, ...] = ()  # rule / severity policies
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status is not Status.FAIL

    @property
    def metric(self) -> str | None:
        return self.policy.metric if isinstance(self.policy, MetricPolicy) else None


@dataclass
class GateReport:
    """Every (run, policy) result of one gate, plus the input warnings."""

    runs: list[Run]
    policies: list[Policy]
    results: list[PolicyResult]
    warnings: list[ReadWarning] = field(default_factory=list)

    @property
    def failed(self) -> list[PolicyResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    @property
    def missing(self) -> list[PolicyResult]:
        return [r for r in self.results if r.status is Status.MISSING]

    @property
    def passed(self) -> bool:
        return not self.failed

    def exit_code(self, *, strict: bool = False) -> int:
        """0 every policy held, 1 a policy failed, 2 (``strict``) a policy could not be checked."""
        if strict and self.missing:
            return 2
        return 1 if self.failed else 0


class AnalysisLike(Protocol):
    """What rule/severity policies read from :class:`trainlens.analysis.Analysis`."""

    findings: list[Finding]
    skipped: list[Skipped]
    warnings: list[ReadWarning]


# --------------------------------------------------------------------------------- metric tests


def _range_mask(policy: MetricPolicy, steps: np.ndarray) -> np.ndarray | None:
    if policy.after is None and policy.before is None:
        return None
    keep = np.ones(len(steps), dtype=bool)
    if policy.after is not None:
        keep &= steps > policy.after
    if policy.before is not None:
        keep &= steps < policy.before
    return keep


def streaks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in ``mask``."""
    runs = segments(mask)
    return runs[:, 0], runs[:, 1] - runs[:, 0] + 1


def _worst(op: Op, mask: np.ndarray, values: np.ndarray) -> int | None:
    """Index of the worst point for ``op`` (see :class:`PolicyResult`), or None."""
    finite = ~np.isnan(values)
    if op.upward is None or not finite.any():
        hits = np.flatnonzero(mask)
        return int(hits[0]) if len(hits) else None
    return int(np.nanargmax(values) if op.upward else np.nanargmin(values))


#: How many violating points a result keeps as evidence.
MAX_SAMPLES = 10


def _samples(
    mask: np.ndarray, steps: np.ndarray, values: np.ndarray
) -> tuple[tuple[int, float], ...]:
    hits = np.flatnonzero(mask)[:MAX_SAMPLES]
    return tuple(zip(steps[hits].tolist(), values[hits].tolist(), strict=True))


def _aggregate(fn: Aggregate, steps: np.ndarray, values: np.ndarray) -> tuple[float, int | None]:
    """(value, step) of an aggregate; NaN-ignoring except first/last (the logged points)."""
    if fn is Aggregate.FIRST:
        return float(values[0]), int(steps[0])
    if fn is Aggregate.LAST:
        return float(values[-1]), int(steps[-1])
    finite = ~np.isnan(values)
    if not finite.any():
        return math.nan, None
    if fn in (Aggregate.MAX, Aggregate.MIN):
        i = int(np.nanargmax(values) if fn is Aggregate.MAX else np.nanargmin(values))
        return float(values[i]), int(steps[i])
    v = values[finite]
    if fn is Aggregate.MEAN:
        return float(np.mean(v)), None
    if fn is Aggregate.MEDIAN:
        return float(np.median(v)), None
    if fn is Aggregate.STD:
        return float(np.std(v)), None
    return float(np.sum(v)), None


def evaluate_arrays(
    policy: MetricPolicy,
    steps: np.ndarray,
    values: np.ndarray,
    *,
    run: str = "",
    key: str | None = None,
) -> PolicyResult:
    """Evaluate a metric policy on one metric's ``(steps, values)`` (step order)."""
    keep = _range_mask(policy, steps)
    if keep is not None:
        steps, values = steps[keep], values[keep]
    base: dict[str, Any] = {
        "policy": policy,
        "run": run,
        "key": key,
        "points": len(values),
        "nan_points": int(np.isnan(values).sum()),
    }
    if not len(values):
        note = "no logged points" + (policy.range_text() if keep is not None else "")
        return PolicyResult(status=Status.MISSING, note=note, **base)
    if not tests_nan(policy) and np.isnan(values).all():
        n = len(values)
        note = (
            f"{'all ' if n > 1 else ''}{n} logged value{'s' if n > 1 else ''} of {policy.metric}"
            f"{policy.range_text()} {'are' if n > 1 else 'is'} NaN: nothing to compare "
            f"(use {quote_metric(policy.metric)}==nan to fail on NaN)"
        )
        return PolicyResult(status=Status.MISSING, note=note, **base)
    if policy.aggregate is Aggregate.COUNT:
        return _count(policy, steps, values, base)
    if policy.aggregate is not None:
        value, at = _aggregate(policy.aggregate, steps, values)
        if math.isnan(value) and not tests_nan(policy):  # first / last logged as NaN
            note = (
                f"{policy.aggregate.value}({policy.metric}) is NaN (step {at}): nothing to "
                f"compare (use {quote_metric(policy.metric)}==nan to fail on NaN)"
            )
            return PolicyResult(status=Status.MISSING, value=value, step=at, note=note, **base)
        failed = policy.compare.holds(value)
        fired = (at if at is not None else int(steps[-1])) if failed else None
        return PolicyResult(status=_status(failed), value=value, step=at, fired_step=fired, **base)
    return _point(policy, steps, values, base)


def tests_nan(policy: MetricPolicy) -> bool:
    """True for policies that look for NaN (``loss==nan``, ``count(loss==nan)>0``): NaN
    values are what they check, not a reason to skip."""
    tests = [policy.compare] + ([policy.count_of] if policy.count_of is not None else [])
    if policy.aggregate is Aggregate.COUNT:
        tests = tests[1:]
    return any(math.isnan(c.threshold) for c in tests)


def _status(failed: bool) -> Status:
    return Status.FAIL if failed else Status.PASS


def _count(
    policy: MetricPolicy, steps: np.ndarray, values: np.ndarray, base: dict[str, Any]
) -> PolicyResult:
    assert policy.count_of is not None
    mask = policy.count_of.mask(values)
    running = np.cumsum(mask)
    count = int(running[-1])
    failed = policy.compare.holds(float(count))
    fired: int | None = None
    if failed and policy.compare.op.upward:  # the point whose count crossed the limit
        fired = int(steps[int(np.argmax(policy.compare.mask(running.astype(np.float64))))])
    elif failed:
        fired = int(steps[-1])
    return PolicyResult(
        status=_status(failed),
        value=float(count),
        violations=count,
        fired_step=fired,
        samples=_samples(mask, steps, values),
        **base,
    )


def _point(
    policy: MetricPolicy, steps: np.ndarray, values: np.ndarray, base: dict[str, Any]
) -> PolicyResult:
    """A point test (``kl>10``), sustained (``for N``) via the run lengths of the mask."""
    mask = policy.compare.mask(values)
    violations = int(mask.sum())
    worst = _worst(policy.compare.op, mask, values)
    longest: int | None = None
    fired: int | None = None
    samples = _samples(mask, steps, values)
    if policy.sustained > 1:
        starts, lengths = streaks(mask)
        longest = int(lengths.max()) if len(lengths) else 0
        long_enough = np.flatnonzero(lengths >= policy.sustained)
        if len(long_enough):
            first = int(starts[long_enough[0]])
            fired = int(steps[first + policy.sustained - 1])
            end = first + min(int(lengths[long_enough[0]]), MAX_SAMPLES)
            samples = tuple(zip(steps[first:end].tolist(), values[first:end].tolist(), strict=True))
    elif violations:
        fired = int(steps[int(np.argmax(mask))])
    return PolicyResult(
        status=_status(fired is not None),
        value=float(values[worst]) if worst is not None else None,
        step=int(steps[worst]) if worst is not None else None,
        violations=violations,
        longest_streak=longest,
        fired_step=fired,
        samples=samples,
        **base,
    )


def evaluate_metric(policy: MetricPolicy, run: Run) -> PolicyResult:
    """Evaluate a metric policy on a run; a metric the run lacks gives ``missing`` (with the
    equivalent policy when the key is one the reader converts, e.g. ``train_speed(s/it)``)."""
    arrays = run.arrays(policy.metric)
    if arrays is None:
        target = RECIPROCAL_KEYS.get(policy.metric)
        converted = converted_note(policy, target is not None and run.resolve(target) is not None)
        return PolicyResult(
            policy=policy,
            run=run.name,
            status=Status.MISSING,
            note=converted or missing_note(policy.metric, run),
        )
    steps, values = arrays
    return evaluate_arrays(policy, steps, values, run=run.name, key=run.resolve(policy.metric))


def missing_note(metric: str, run: Run) -> str:
    """``metric 'x' not found`` with the closest names the run has (or: it has no points)."""
    if not run.keys:
        return f"metric {metric!r} not found: the run has no logged points"
    note = f"metric {metric!r} not found"
    close = difflib.get_close_matches(metric, sorted({*run.canonical_names, *run.keys}), n=3)
    if close:
        note += " (did you mean " + ", ".join(repr(c) for c in close) + "?)"
    return note


# ----------------------------------------------------------------------------- finding policies


def evaluate_findings(
    policy: RulePolicy | SeverityPolicy,
    run: str,
    findings: Iterable[Finding],
    skipped: Iterable[Skipped] = (),
    selected: Collection[str] | None = None,
) -> PolicyResult:
    """Evaluate a rule / severity policy on the findings of one run (``selected``: ids of the
    rules that ran, when known)."""
    if isinstance(policy, RulePolicy):
        hits = [f for f in findings if f.run == run and f.rule == policy.rule]
        if not hits and selected is not None and policy.rule not in selected:
            return PolicyResult(
                policy=policy,
                run=run,
                status=Status.MISSING,
                note=f"rule {policy.rule} was not run (not selected, or ignored "
                "by the project config)",
            )
        if not hits:
            skip = next((s for s in skipped if s.run == run and s.rule == policy.rule), None)
            if skip is not None:
                return PolicyResult(
                    policy=policy,
                    run=run,
                    status=Status.MISSING,
                    note=f"rule {policy.rule} did not run: {skip.reason}",
                )
    else:
        rank = policy.severity.rank
        hits = [f for f in findings if f.run == run and f.severity.rank >= rank]
    if not hits:
        return PolicyResult(policy=policy, run=run, status=Status.PASS, violations=0)
    hits.sort(key=lambda f: (-f.severity.rank, f.start_step, f.rule))
    top = hits[0]
    return PolicyResult(
        policy=policy,
        run=run,
        status=Status.FAIL,
        key=top.key,
        value=top.peak_value,
        step=top.peak_step if top.peak_step is not None else top.start_step,
        violations=len(hits),
        fired_step=min(f.start_step for f in hits),
        findings=tuple(hits),
    )


def evaluate(
    policies: Sequence[Policy],
    runs: Sequence[Run],
    analysis: AnalysisLike | None = None,
    warnings: Sequence[ReadWarning] = (),
) -> GateReport:
    """Every policy on every run. ``analysis`` is needed only for rule / severity policies."""
    results: list[PolicyResult] = []
    for run in runs:
        for policy in policies:
            if isinstance(policy, MetricPolicy):
                results.append(evaluate_metric(policy, run))
            else:
                if analysis is None:
                    raise ValueError(f"policy {policy.text!r} needs an analysis")
                results.append(
                    evaluate_findings(
                        policy,
                        run.name,
                        analysis.findings,
                        analysis.skipped,
                        getattr(analysis, "selected", None),
                    )
                )
    return GateReport(list(runs), list(policies), results, list(warnings))


def needs_analysis(policies: Iterable[Policy]) -> bool:
    return any(not isinstance(p, MetricPolicy) for p in policies)
