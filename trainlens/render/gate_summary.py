"""``trainlens gate --summary FILE``: the gate as Markdown for a CI job page (GitHub's
``$GITHUB_STEP_SUMMARY``, a GitLab MR note, any CI that shows Markdown): the verdict, one table
row per run, the failed policies with their evidence, what could not be checked, and the top
findings of the rules."""

from __future__ import annotations

from collections.abc import Sequence

from trainlens.findings import Finding
from trainlens.gate.evaluate import GateReport, Status
from trainlens.render.gate_output import (
    FindingText,
    default_finding_text,
    evidence,
    run_verdict,
    summary_line,
)

#: Findings listed under "Top findings" (most severe first).
TOP_FINDINGS = 5
_ICON = {"error": "🚨", "warning": "⚠️", "info": "ℹ️"}


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str, *, table: bool = False) -> str:
    """Inline code (pipes escaped inside a table cell, where GitHub unescapes them)."""
    text = text.replace("`", "ˋ")
    return f"`{text.replace('|', chr(92) + '|') if table else text}`"


def render_summary(
    report: GateReport,
    *,
    strict: bool = False,
    finding_text: FindingText | None = None,
    findings: Sequence[Finding] = (),
    top: int = TOP_FINDINGS,
) -> str:
    """The Markdown summary of a gate. ``findings``: what the rules found (shown most severe
    first, ``top`` of them), empty when the rules did not run."""
    text = finding_text or default_finding_text
    code = report.exit_code(strict=strict)
    head = "✅ passed" if code == 0 else "❌ failed"
    lines = [f"## trainlens gate: {head}", "", f"**{_cell(summary_line(report, strict=strict))}**"]
    lines += ["", "| Run | Steps | Verdict | Failed |", "|---|---|---|---:|"]
    for run in report.runs:
        results = [r for r in report.results if r.run == run.name]
        steps = f"{run.first_step}–{run.last_step}" if run.first_step is not None else "–"
        failed = sum(r.status is Status.FAIL for r in results)
        verdict = run_verdict(results, strict=strict)
        name = _code(run.name, table=True)
        lines.append(f"| {name} | {steps} | {_cell(verdict)} | {failed} |")
    if report.failed:
        lines += ["", "### Failed policies", "", "| Run | Policy | Evidence |", "|---|---|---|"]
        for r in report.failed:
            cells = [_code(r.run, table=True), _code(r.policy.text, table=True)]
            lines.append(f"| {' | '.join(cells)} | {_cell(evidence(r, text))} |")
    if report.missing:
        title = "Not checked (an error with --strict)" if strict else "Not checked"
        lines += ["", f"### {title}", ""]
        lines += [
            f"- {_code(r.run)}: {_code(r.policy.text)}: {' '.join(r.note.split())}"
            for r in report.missing
        ]
    if findings:
        ranked = sorted(findings, key=lambda f: (-f.severity.rank, f.run, f.start_step, f.rule))
        lines += ["", f"### Top findings ({min(top, len(ranked))} of {len(ranked)})", ""]
        for f in ranked[:top]:
            where = (
                f"step {f.start_step}"
                if f.start_step == f.end_step
                else f"steps {f.start_step}–{f.end_step}"
            )
            lines.append(
                f"- {_ICON.get(f.severity.value, '')} {_code(f.run)}, {where}: {_cell(text(f))}"
            )
    if report.warnings:
        lines += ["", f"<sub>{len(report.warnings)} input warning(s): see the job log.</sub>"]
    return "\n".join(lines) + "\n"
