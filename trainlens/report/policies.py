"""The ``trainlens gate`` / ``watch --exit-on`` policies that would have caught a run.

For each problem the report found on a logged metric, a threshold between the metric's worst
healthy value before the onset and its worst value in the finding: a round number (one to three
significant digits) that no point before the onset crosses, checked with the gate's own
evaluator so the policy provably fails on this run and at which step. A finding without a
healthy stretch to set a threshold from (anomalous from the first step, a message in a log)
becomes a rule policy (``--fail-on-rule``). Messages a log printed (a crash, an OOM) get none:
the job's exit status already stops a pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlens.findings import Finding, Severity
from trainlens.gate.evaluate import evaluate_metric
from trainlens.gate.expressions import PolicyError, parse_policy
from trainlens.report.shape import direction
from trainlens.run import Run

#: Points needed before the onset to set a threshold from the healthy part of the run.
MIN_HEALTHY_POINTS = 3
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-@")


@dataclass(frozen=True)
class ProposedPolicy:
    """A gate policy and the finding it catches; ``fired_step``: where it fails on this run."""

    text: str  # "kl>1.5" for --fail-on / --exit-on, or a rule id for --fail-on-rule
    rule: str
    fired_step: int | None
    is_rule: bool = False


def _round(x: float, digits: int, up: bool) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    scale = 10 ** (math.floor(math.log10(abs(x))) - digits + 1)
    return (math.ceil(x / scale) if up else math.floor(x / scale)) * scale


def _threshold(healthy: float, worst: float, upward: bool) -> float | None:
    """A round number strictly beyond ``healthy`` and not beyond ``worst``."""
    if upward and worst <= healthy or not upward and worst >= healthy:
        return None
    if healthy > 0 and worst > 0:
        middle = math.sqrt(healthy * worst)  # spikes are multiplicative
    else:
        middle = (healthy + worst) / 2
    for digits in (1, 2, 3):
        t = float(f"{_round(middle, digits, up=not upward):.{digits + 2}g}")
        if (upward and healthy < t <= worst) or (not upward and worst <= t < healthy):
            return t
    return None


def _number(x: float) -> str:
    return f"{x:.6g}"


def _metric_policy(run: Run, f: Finding) -> ProposedPolicy | None:
    way = direction(run, f)
    if way not in ("up", "down") or not set(f.metric) <= _NAME_CHARS:
        return None
    arrays = run.key_arrays(f.key)
    if arrays is None:
        return None
    steps, values = arrays
    ok = np.isfinite(values)
    before = values[(steps < f.start_step) & ok]
    inside = values[(steps >= f.start_step) & (steps <= f.end_step) & ok]
    if len(before) < MIN_HEALTHY_POINTS or not len(inside):
        return None
    upward = way == "up"
    healthy = float(before.max() if upward else before.min())
    worst = float(inside.max() if upward else inside.min())
    limit = _threshold(healthy, worst, upward)
    if limit is None:
        return None
    text = f"{f.metric}{'>' if upward else '<'}{_number(limit)}"
    try:
        result = evaluate_metric(parse_policy(text), run)
    except PolicyError:
        return None
    if result.passed or result.fired_step is None or result.fired_step < f.start_step:
        return None  # would not have caught it, or would have fired on the healthy part
    return ProposedPolicy(text, f.rule, result.fired_step)


def propose_policies(run: Run, findings: Sequence[Finding]) -> list[ProposedPolicy]:
    """One policy per problem metric (the earliest-firing one), then rule policies for
    error-level findings no metric policy catches, in the order they would fire."""
    metric: dict[str, ProposedPolicy] = {}
    rules: dict[str, ProposedPolicy] = {}
    for f in sorted(findings, key=lambda f: f.start_step):
        if f.severity is Severity.INFO or f.members or f.source_line:
            continue  # a message a log printed: the job's own exit status already tells
        proposed = _metric_policy(run, f)
        if proposed is not None:
            held = metric.get(f.metric)
            if held is None or (proposed.fired_step or 0) < (held.fired_step or 0):
                metric[f.metric] = proposed
        elif f.severity is Severity.ERROR and f.rule not in rules:
            rules[f.rule] = ProposedPolicy(f.rule, f.rule, f.start_step, is_rule=True)
    caught = {p.rule for p in metric.values()}
    out = list(metric.values()) + [p for r, p in rules.items() if r not in caught]
    return sorted(out, key=lambda p: (p.is_rule, p.fired_step or 0))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gate_command(path: str, policies: Sequence[ProposedPolicy], watch: bool = False) -> str:
    """The shell line: ``trainlens gate PATH --fail-on "kl>1.5" --fail-on-rule X``."""
    flag = "--exit-on" if watch else "--fail-on"
    parts = ["trainlens", "watch" if watch else "gate", _shell(path)]
    for p in policies:
        parts += ["--fail-on-rule", p.text] if p.is_rule else [flag, _quote(p.text)]
    return " ".join(parts)


def _shell(path: str) -> str:
    import shlex

    return shlex.quote(path)


def gate_block(policies: Sequence[ProposedPolicy]) -> str:
    """The ``[gate]`` table to paste into ``trainlens.toml``."""
    lines = ["[gate]"]
    metric = [_quote(p.text) for p in policies if not p.is_rule]
    rules = [_quote(p.text) for p in policies if p.is_rule]
    if metric:
        lines.append(f"fail_on = [{', '.join(metric)}]")
    if rules:
        lines.append(f"fail_on_rule = [{', '.join(rules)}]")
    return "\n".join(lines)
