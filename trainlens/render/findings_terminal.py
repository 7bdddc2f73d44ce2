"""``analyze`` on the terminal: findings per run, grouped by severity, with their evidence.
Rich markup on a terminal, plain text when piped (rich drops the styles by itself)."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from trainlens.analysis import Analysis
from trainlens.engine.messages import skip_text
from trainlens.findings import Finding, Severity
from trainlens.run import Run

UI = {
    "en": {
        "error": "errors",
        "warning": "warnings",
        "info": "info",
        "steps": "steps {s}",
        "one_step": "step {s}",
        "step": "step",
        "value": "value",
        "change": "change",
        "metric": "metric",
        "none": "no findings",
        "skipped": "not checked",
        "members": "members",
        "summary": "{n_err} errors, {n_warn} warnings, {n_info} info in {n_runs} run(s)",
        "skipped_summary": "; {n} rule(s) not checked (see the end of the report)",
        "framework": "framework",
        "unknown": "unknown",
    },
    "zh": {
        "error": "错误",
        "warning": "警告",
        "info": "提示",
        "steps": "第 {s} 步",
        "one_step": "第 {s} 步",
        "step": "步",
        "value": "数值",
        "change": "变化",
        "metric": "指标",
        "none": "未发现问题",
        "skipped": "未检查",
        "members": "成员",
        "summary": "{n_runs} 个运行：{n_err} 个错误、{n_warn} 个警告、{n_info} 条提示",
        "skipped_summary": "；{n} 条规则未检查（见报告末尾）",
        "framework": "框架",
        "unknown": "未知",
    },
}
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_MARK = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}


def ui(lang: str) -> dict[str, str]:
    """The interface strings of ``lang`` (English when unknown)."""
    return UI.get(lang, UI["en"])


def fmt_number(x: float | None, signed: bool = False) -> str:
    """A compact number for tables: 4 significant digits, ``—`` for None."""
    if x is None:
        return "—"
    text = f"{x:+.4g}" if signed else f"{x:.4g}"
    return text


def _steps(f: Finding) -> str:
    return str(f.start_step) if f.start_step == f.end_step else f"{f.start_step}–{f.end_step}"


def evidence_table(f: Finding, lang: str) -> Table:
    """The finding's key-data rows: step, value, change (and metric for episodes)."""
    t = ui(lang)
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 2))
    with_metric = any(e.metric for e in f.evidence)
    table.add_column(t["step"], justify="right")
    if with_metric:
        table.add_column(t["metric"])
    table.add_column(t["value"], justify="right")
    if not with_metric:
        table.add_column(t["change"], justify="right")
    for e in f.evidence:
        hot = e.step == f.peak_step
        cells = [str(e.step)]
        if with_metric:
            cells += [e.metric or "", fmt_number(e.value)]
        else:
            cells += [fmt_number(e.value), fmt_number(e.change, signed=True)]
        table.add_row(*cells, style="bold" if hot else None)
    return table


def render_finding(console: Console, analysis: Analysis, f: Finding, lang: str) -> None:
    """One finding: a headline, its message, its evidence."""
    t = ui(lang)
    head = Text("  ")
    head.append(f"{_MARK[f.severity]} {f.rule}", style=_STYLE[f.severity])
    head.append(f"  {analysis.title(f, lang)}")
    where = f.metric if f.key in ("", f.metric) else f"{f.metric} [{f.key}]"
    steps = t["one_step" if f.start_step == f.end_step else "steps"].format(s=_steps(f))
    head.append(f"  —  {where}, {steps}" if where else f"  —  {steps}", style="dim")
    console.print(head, soft_wrap=True)
    console.print(Text("    " + analysis.message(f, lang)), soft_wrap=True)
    if f.evidence:
        console.print(Padding(evidence_table(f, lang), (0, 0, 1, 4), expand=False))


def _run_header(run: Run, lang: str) -> Text:
    t = ui(lang)
    fw = run.meta.framework or t["unknown"]
    steps = t["steps"].format(s=f"{run.first_step}–{run.last_step}")
    return Text(f"{run.name}  ({run.format}, {t['framework']} {fw}, {steps})", style="bold")


def render_terminal(analysis: Analysis, console: Console, lang: str = "en") -> None:
    """The report: per run, findings grouped by severity (worst first), then what was not
    checked and why."""
    t = ui(lang)
    skipped_by_run = defaultdict(list)
    for s in analysis.skipped:
        skipped_by_run[s.run].append(s)
    for run in analysis.runs:
        console.print(_run_header(run, lang))
        found = analysis.for_run(run)
        if not found:
            console.print(Text(f"  {t['none']}", style="green"))
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            group = [f for f in found if f.severity is sev]
            if not group:
                continue
            console.print(Text(f" {t[sev.value].upper()} ({len(group)})", style=_STYLE[sev]))
            for f in group:
                render_finding(console, analysis, f, lang)
        skipped = skipped_by_run.get(run.name, [])
        if skipped:
            by_reason: dict[str, list[str]] = defaultdict(list)
            for s in skipped:
                by_reason[skip_text(s, lang)].append(s.rule)
            console.print(Text(f" {t['skipped']}:", style="dim"))
            for reason, rules in by_reason.items():
                console.print(Text(f"   {', '.join(rules)}: {reason}", style="dim"), soft_wrap=True)
        console.print()


def summary_line(analysis: Analysis, lang: str = "en") -> str:
    """One line for stderr: counts per severity, runs, rules not checked."""
    t = ui(lang)
    c = analysis.counts()
    text = t["summary"].format(
        n_err=c["error"], n_warn=c["warning"], n_info=c["info"], n_runs=len(analysis.runs)
    )
    n_skipped = len({s.rule for s in analysis.skipped})
    if n_skipped:
        text += t["skipped_summary"].format(n=n_skipped)
    return text
