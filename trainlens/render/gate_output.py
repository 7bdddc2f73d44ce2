"""Output of ``trainlens gate``: terminal summary, JSON document, GitHub Actions annotations.

Every format reads a :class:`~trainlens.gate.GateReport`; finding messages come from the caller's
``finding_text`` (rendered in the user's language), so this module knows no rule files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from trainlens.findings import SCHEMA_VERSION, Finding
from trainlens.gate.evaluate import GateReport, PolicyResult, Status, tests_nan
from trainlens.gate.expressions import Aggregate, MetricPolicy
from trainlens.report.fmt import num
from trainlens.run import Run

FindingText = Callable[[Finding], str]


def default_finding_text(f: Finding) -> str:
    """A language-neutral one-liner for a finding when no rule message is at hand."""
    where = (
        f"steps {f.start_step}–{f.end_step}"
        if f.end_step != f.start_step
        else f"step {f.start_step}"
    )
    peak = (
        f", peak {fmt(f.peak_value)} at step {f.peak_step}"
        if f.peak_value is not None and f.peak_step is not None
        else ""
    )
    return f"{f.rule} ({f.severity.value}) on {f.metric}, {where}{peak}"


def fmt(x: float | None) -> str:
    """A gate number: the report's formatter (``trainlens.report.fmt.num``), six digits."""
    return "-" if x is None else num(x, 6)


def _points(r: PolicyResult) -> str:
    return f"{r.violations} of {r.points} logged point{'s' if r.points != 1 else ''}"


def evidence(r: PolicyResult, finding_text: FindingText | None = None) -> str:
    """One line saying what was seen: the worst value and its step, how many points violate."""
    if r.status is Status.MISSING:
        return r.note
    policy = r.policy
    if not isinstance(policy, MetricPolicy):
        if not r.findings:
            return "no matching finding"
        text = finding_text or default_finding_text
        more = f" (+{len(r.findings) - 1} more)" if len(r.findings) > 1 else ""
        return (
            f"{len(r.findings)} finding{'s' if len(r.findings) > 1 else ''}: "
            f"{text(r.findings[0])}{more}"
        )
    if r.points == 0:
        return r.note
    if policy.aggregate is Aggregate.COUNT:
        out = f"count = {r.value:.0f} ({_points(r)} have {policy.metric}{policy.count_of})"
    elif policy.aggregate is not None:
        out = f"{policy.aggregate.value}({policy.metric}) = {fmt(r.value)}"
        out += f" at step {r.step}" if r.step is not None else f" over {r.points} points"
    else:
        worst = f"worst {fmt(r.value)} at step {r.step}" if r.step is not None else "no value"
        out = f"{worst}; {_points(r)} violate"
        if policy.sustained > 1:
            out += f"; longest streak {r.longest_streak}"
            if r.fired_step is not None:
                out += f"; {policy.sustained} in a row reached at step {r.fired_step}"
        elif r.fired_step is not None:
            out += f"; first at step {r.fired_step}"
    if r.nan_points and not tests_nan(policy):
        out += f"; {r.nan_points} NaN point{'s' if r.nan_points > 1 else ''} ignored"
    return out


def _label(r: PolicyResult) -> str:
    return r.policy.text.strip()


_STATUS_STYLE = {
    Status.PASS: ("PASS", "green"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.MISSING: ("SKIP", "yellow"),
}


def run_verdict(results: list[PolicyResult], *, strict: bool = False) -> str:
    """``failed``, ``passed``, ``passed (1 not checked)`` or, with ``strict``, ``not checked:
    1 policy could not be checked (an error with --strict)``."""
    if any(r.status is Status.FAIL for r in results):
        return "failed"
    missing = sum(r.status is Status.MISSING for r in results)
    if not missing:
        return "passed"
    if strict:
        return (
            f"not checked: {missing} polic{'ies' if missing > 1 else 'y'} could not be checked "
            "(an error with --strict)"
        )
    return f"passed ({missing} not checked)"


def render_terminal(
    report: GateReport,
    console: Console,
    finding_text: FindingText | None = None,
    *,
    strict: bool = False,
) -> None:
    """Per run: a verdict, then one line per policy (status, policy, evidence), aligned."""
    width = max((len(_label(r)) for r in report.results), default=0)
    by_run: dict[str, list[PolicyResult]] = {}
    for r in report.results:
        by_run.setdefault(r.run, []).append(r)
    for run in report.runs:
        results = by_run.get(run.name, [])
        verdict = run_verdict(results, strict=strict)
        console.print(
            f"[bold]{escape(run.name)}[/]  ({escape(_run_header(run))}) — {verdict}", soft_wrap=True
        )
        for r in results:
            word, style = _STATUS_STYLE[r.status]
            line = (
                f"  [{style}]{word}[/]  {escape(_label(r).ljust(width))}  "
                f"{escape(evidence(r, finding_text))}"
            )
            console.print(line, soft_wrap=True)
            if r.status is Status.FAIL and len(r.findings) > 1:
                text = finding_text or default_finding_text
                for f in r.findings[1:6]:
                    console.print(f"        {escape(text(f))}", soft_wrap=True)
        console.print()


def _run_header(run: Run) -> str:
    steps = f"steps {run.first_step}–{run.last_step}" if run.first_step is not None else "no points"
    return f"{run.format}, {steps}"


def summary_line(report: GateReport, *, strict: bool = False) -> str:
    """The stderr verdict, e.g. ``gate failed: 2 of 6 checks failed on 2 runs``."""
    n = len(report.results)
    runs = len(report.runs)
    failed, missing = len(report.failed), len(report.missing)
    checks = f"{n} check{'s' if n != 1 else ''}"
    on = f"on {runs} run{'s' if runs != 1 else ''}"
    if strict and missing:
        head = f"gate failed: {missing} of {checks} could not be checked {on} (--strict)"
        return head + (f"; {failed} failed" if failed else "")
    if not failed and missing == n:
        return (
            f"gate passed, but nothing was checked: none of the {checks} could be checked {on} "
            "(counted as passed; --strict makes this an error)"
        )
    head = (
        f"gate failed: {failed} of {checks} failed {on}"
        if failed
        else f"gate passed: {checks} {on}"
    )
    if missing:
        head += f"; {missing} could not be checked (counted as passed)"
    return head


def missing_warnings(report: GateReport, *, strict: bool = False) -> list[str]:
    """One line per (run, policy) that could not be checked."""
    tail = "an error with --strict" if strict else "counts as passed; --strict makes this an error"
    return [f"run {r.run!r}: policy {r.policy.text!r}: {r.note} ({tail})" for r in report.missing]


def result_dict(r: PolicyResult, finding_text: FindingText | None = None) -> dict[str, Any]:
    text = finding_text or default_finding_text
    return {
        "policy": r.policy.text,
        "kind": r.policy.kind,
        "status": r.status.value,
        "metric": r.metric,
        "key": r.key,
        "value": _num(r.value),
        "step": r.step,
        "violations": r.violations,
        "points": r.points,
        "longest_streak": r.longest_streak,
        "fired_step": r.fired_step,
        "nan_points": r.nan_points,
        "note": r.note or None,
        "evidence": evidence(r, finding_text),
        "samples": [{"step": s, "value": _num(v)} for s, v in r.samples],
        "findings": [f.to_dict(text(f)) for f in r.findings],
    }


def gate_document(
    report: GateReport, *, strict: bool = False, finding_text: FindingText | None = None
) -> dict[str, Any]:
    """The ``--format json`` document (``schema_version`` 1)."""
    runs = []
    for run in report.runs:
        results = [r for r in report.results if r.run == run.name]
        runs.append(
            {
                "name": run.name,
                "path": str(run.path),
                "format": run.format,
                "first_step": run.first_step,
                "last_step": run.last_step,
                "passed": all(r.passed for r in results)
                and not (strict and any(r.status is Status.MISSING for r in results)),
                "verdict": run_verdict(results, strict=strict),
                "results": [result_dict(r, finding_text) for r in results],
            }
        )
    policies = [
        {
            "text": p.text,
            "kind": p.kind,
            "description": p.describe(),
            **({"canonical": p.canonical_text()} if isinstance(p, MetricPolicy) else {}),
        }
        for p in report.policies
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "passed": report.exit_code(strict=strict) == 0,
        "exit_code": report.exit_code(strict=strict),
        "strict": strict,
        "policies": policies,
        "summary": {
            "checks": len(report.results),
            "failed": len(report.failed),
            "missing": len(report.missing),
            "passed": len(report.results) - len(report.failed) - len(report.missing),
        },
        "runs": runs,
        "warnings": [w.to_dict() for w in report.warnings],
    }


def render_json(
    report: GateReport, *, strict: bool = False, finding_text: FindingText | None = None
) -> str:
    return json.dumps(
        gate_document(report, strict=strict, finding_text=finding_text),
        indent=2,
        ensure_ascii=False,
    )


# ------------------------------------------------------------------------ GitHub Actions


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, title: str, message: str) -> str:
    """One workflow command, e.g. ``::error title=...::message``, escaped as GitHub requires."""
    return f"::{level} title={_escape_property(title)}::{_escape_data(message)}"


def github_annotations(
    report: GateReport, *, strict: bool = False, finding_text: FindingText | None = None
) -> list[str]:
    """``::error`` per failed (run, policy); ``::warning`` (``::error`` with ``strict``) per
    policy that could not be checked."""
    out = []
    for r in report.results:
        if r.status is Status.PASS:
            continue
        level = "error" if r.status is Status.FAIL or strict else "warning"
        verb = "failed" if r.status is Status.FAIL else "not checked"
        out.append(
            annotation(
                level,
                f"trainlens gate: {r.policy.text} {verb}",
                f"run {r.run}: {evidence(r, finding_text)}",
            )
        )
    return out


def _num(x: float | None) -> float | str | None:
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x
