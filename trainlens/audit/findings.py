"""Findings of a completions audit, thresholds and texts from the ``kind: audit`` rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from trainlens.audit.completions import AuditOptions, CompletionAudit, Example
from trainlens.engine.spec import RuleSpec
from trainlens.findings import Finding

#: Rule id → (example category, summary rate it reads, metric name of its series).
AUDIT_RULES = {
    "unclosed_answers": ("unclosed", "unclosed_rate"),
    "unparseable_answers": ("unparseable", "unparseable_rate"),
    "format_gap": ("format_gap", "format_gap"),
    "degenerate_completions": ("degenerate", "degenerate_rate"),
    "repetitive_completions": ("repetitive", "repetition_rate"),
}


def options_from_rules(specs: Sequence[RuleSpec], base: AuditOptions) -> AuditOptions:
    """``base`` with the detection settings the rules carry (loop n-gram and repeats, what
    "far shorter" means), so a user's rule parameters change what is counted."""
    params = {s.id: s.params for s in specs}
    rep = params.get("repetitive_completions", {})
    deg = params.get("degenerate_completions", {})
    return replace(
        base,
        passage_chars=int(rep.get("passage_chars", base.passage_chars)),
        min_repeats=int(rep.get("min_repeats", base.min_repeats)),
        short_ratio=float(deg.get("short_ratio", base.short_ratio)),
    )


def audit_findings(audit: CompletionAudit, specs: Sequence[RuleSpec], run: str) -> list[Finding]:
    """A finding for every ``kind: audit`` rule whose rate reaches its ``min_rate`` (or, for
    ``format_gap``, whose gap reaches ``min_gap_points``)."""
    summary = audit.summary()
    steps = sorted(audit.steps)
    first, last = (steps[0], steps[-1]) if steps else (0, 0)
    out = []
    for spec in specs:
        if spec.kind != "audit" or spec.id not in AUDIT_RULES:
            continue
        category, rate_name = AUDIT_RULES[spec.id]
        value = summary.get(rate_name)
        if value is None or not audit.n:
            continue
        if spec.id == "format_gap":
            if value * 100 < float(spec.params.get("min_gap_points", 10.0)):
                continue
            count = audit.counts.values["diagnostic"] - audit.counts.values["strict"]
        else:
            if value < float(spec.params.get("min_rate", 0.05)):
                continue
            count = round(value * audit.n)
        examples = audit.examples.get(category, [])
        params = _params(spec, audit, summary, examples, count)
        out.append(
            Finding(
                rule=spec.id,
                severity=spec.severity,
                run=run,
                metric=rate_name,
                key=rate_name,
                start_step=first,
                end_step=last,
                peak_value=float(value),
                params=params,
            )
        )
    return out


def _params(
    spec: RuleSpec,
    audit: CompletionAudit,
    summary: dict[str, Any],
    examples: list[Example],
    count: int,
) -> dict[str, Any]:
    def pct(x: float | None) -> float | None:
        return None if x is None else round(100 * x, 2)

    files = [f.path for f in audit.files]
    params: dict[str, Any] = {name: "" for name in spec.outputs}
    params.update(
        n=audit.n,
        count=count,
        rate_pct=pct(summary.get(AUDIT_RULES[spec.id][1])),
        strict_pct=pct(summary["strict_accuracy"]),
        diagnostic_pct=pct(summary["diagnostic_accuracy"]),
        gap_points=pct(summary["format_gap"]),
        answer_format="; ".join(sorted({f.format for f in audit.files})),
        file=files[0] if len(files) == 1 else ", ".join(files),
        file_name=examples[0].file if examples else "",
        first_line=examples[0].line if examples else None,
        lines=[e.line for e in examples],
        excerpt=examples[0].excerpt if examples else "",
        example_ids=", ".join(e.id for e in examples) or "—",
        examples=[e.to_dict() for e in examples],
    )
    return {k: v for k, v in params.items() if k in spec.outputs or k in _ALWAYS}


#: Kept on every audit finding whatever the rule's outputs list (evidence for renderers).
_ALWAYS = {"file", "file_name", "first_line", "lines", "excerpt", "count", "examples", "n"}
