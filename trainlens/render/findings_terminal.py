"""``analyze`` on the terminal: findings per run, grouped by severity, with their evidence;
runs without findings on one line each; the rules not checked once at the end. Rich markup on a
terminal, plain text when piped (rich drops the styles by itself).

A rule that fires several times on the same metric of a run prints one block, not one per
occurrence: its most pronounced occurrence in full (message and evidence table), then every
occurrence on one line (steps and peak value), so no number is lost and the report stays short."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from trainlens.analysis import Analysis
from trainlens.engine.messages import skip_text
from trainlens.findings import Finding, Severity
from trainlens.report.fmt import num
from trainlens.report.fmt import signed as signed_num
from trainlens.run import Run

UI = {
    "en": {
        "error": "errors",
        "warning": "warnings",
        "info": "info",
        "steps": "steps {s}",
        "one_step": "step {s}",
        "no_metrics": "no metrics: log messages only",
        "step": "step",
        "start_step": "start step",
        "value": "value",
        "change": "change",
        "metric": "metric",
        "none": "no findings",
        "skipped": "not checked",
        "members": "members",
        "summary": "{n_err} errors, {n_warn} warnings, {n_info} info in {n_runs} run(s)",
        "skipped_summary": "; {n} rule(s) not checked (see the end of the report)",
        "in_all_runs": " (all {n} runs)",
        "in_n_runs": " ({n} of {total} runs)",
        "in_runs": " (in {runs})",
        "framework": "framework",
        "unknown": "unknown",
        "times": "{n} times",
        "occurrences": "occurrences: ",
        "sev_count": "{n}",
        "sev_count_grouped": "{n} findings in {g} groups",
        "sev_count_one_group": "{n} findings in 1 group",
    },
    "zh": {
        "error": "严重",
        "warning": "警告",
        "info": "提示",
        "steps": "第 {s} 步",
        "one_step": "第 {s} 步",
        "no_metrics": "无指标：仅日志消息",
        "step": "步",
        "start_step": "起始步",
        "value": "数值",
        "change": "变化",
        "metric": "指标",
        "none": "未发现问题",
        "skipped": "未检查",
        "members": "成员",
        "summary": "{n_runs} 个运行：严重 {n_err} 个、警告 {n_warn} 个、提示 {n_info} 个",
        "skipped_summary": "；{n} 条规则未检查（见报告末尾）",
        "in_all_runs": "（全部 {n} 个运行）",
        "in_n_runs": "（{total} 个运行中的 {n} 个）",
        "in_runs": "（{runs}）",
        "framework": "框架",
        "unknown": "未知",
        "times": "{n} 次",
        "occurrences": "全部出现：",
        "sev_count": "{n}",
        "sev_count_grouped": "{n} 个发现，共 {g} 组",
        "sev_count_one_group": "{n} 个发现，共 1 组",
    },
}
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_INDENT = "    "
_MARK = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}


def ui(lang: str) -> dict[str, str]:
    """The interface strings of ``lang`` (English when unknown)."""
    return UI.get(lang, UI["en"])


def fmt_number(x: float | None, signed: bool = False) -> str:
    """A compact number for tables (the report's formatter), ``—`` for None."""
    if x is None:
        return "—"
    return signed_num(x) if signed else num(x)


def _steps(f: Finding) -> str:
    return str(f.start_step) if f.start_step == f.end_step else f"{f.start_step}–{f.end_step}"


def evidence_lines(f: Finding, lang: str, logged: np.ndarray | None = None) -> list[Text]:
    """The finding's key-data table as lines: step, value, change vs the metric's previous
    logged point (metric and value for episodes, whose rows are the members' start steps).
    ``logged``: the steps the run logged for the metric; a ``…`` row marks logged steps left
    out between two rows, so a change is never read as one between the rows shown."""
    t = ui(lang)
    with_metric = any(e.metric for e in f.evidence)
    head = [t["start_step"] if f.members else t["step"]]
    head += [t["metric"], t["value"]] if with_metric else [t["value"], t["change"]]
    rows: list[tuple[list[str], str | None]] = [(head, None)]
    previous: int | None = None
    for e in f.evidence:
        if previous is not None and logged is not None and _skips(logged, previous, e.step):
            rows.append((["…"], "dim"))
        previous = e.step
        cells = [str(e.step)]
        if with_metric:
            cells += [e.metric or "", fmt_number(e.value)]
        else:
            cells += [fmt_number(e.value), fmt_number(e.change, signed=True)]
        hot = e.step == f.peak_step and not f.members
        rows.append((cells, "bold" if hot else None))
    widths = [max(cell_len(r[0][c]) for r in rows if len(r[0]) > c) for c in range(len(head))]
    left = {1} if with_metric else set()  # the metric column reads left to right
    lines = []
    for cells, style in rows:
        pads = [" " * (widths[c] - cell_len(cell)) for c, cell in enumerate(cells)]
        parts = [
            cell + pad if c in left else pad + cell
            for c, (cell, pad) in enumerate(zip(cells, pads))
        ]
        lines.append(Text(_INDENT + "  ".join(parts).rstrip(), style=style or ""))
    return lines


def _skips(logged: np.ndarray, a: int, b: int) -> bool:
    """Whether the run logged a step strictly between steps ``a`` and ``b``."""
    return int(np.searchsorted(logged, b, side="left")) > int(
        np.searchsorted(logged, a, side="right")
    )


def _logged_steps(analysis: Analysis, f: Finding) -> np.ndarray | None:
    run = next((r for r in analysis.runs if r.name == f.run), None)
    if run is None or f.members or not f.key:
        return None
    arrays = run.arrays(f.key)
    return None if arrays is None else arrays[0]


def render_finding(
    console: Console, analysis: Analysis, f: Finding, lang: str, times: int = 1
) -> None:
    """One finding: a headline, its message, its evidence. ``times`` > 1: ``f`` stands for a
    group of that many occurrences (the caller prints the occurrences line after it)."""
    t = ui(lang)
    head = Text("  ")
    head.append(f"{_MARK[f.severity]} {f.rule}", style=_STYLE[f.severity])
    head.append(f"  {analysis.title(f, lang)}")
    where = f.metric if f.key in ("", f.metric) else f"{f.metric} [{f.key}]"
    if times > 1:
        where = f"{where}, {t['times'].format(n=times)}" if where else t["times"].format(n=times)
        head.append(f"  —  {where}", style="dim")
    elif f.source_line is not None:
        head.append(f"  —  {f.source_line}", style="dim")
    else:
        steps = t["one_step" if f.start_step == f.end_step else "steps"].format(s=_steps(f))
        head.append(f"  —  {where}, {steps}" if where else f"  —  {steps}", style="dim")
    console.print(head, soft_wrap=True)
    console.print(Text(_INDENT + analysis.message(f, lang)), soft_wrap=True)
    for line in evidence_lines(f, lang, _logged_steps(analysis, f)) if f.evidence else ():
        console.print(line, soft_wrap=True)


def _group_key(f: Finding) -> tuple[str, str, str]:
    return (f.rule, f.metric, f.key)


def group_findings(found: list[Finding]) -> list[list[Finding]]:
    """The findings of one run and one severity in groups of the same rule and metric, in the
    order shown: ``instability_episode`` groups first, then the others, each group where its
    first occurrence was; the occurrences of a group in step order."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in found:
        groups.setdefault(_group_key(f), []).append(f)
    ordered = sorted(groups.values(), key=lambda g: g[0].rule != "instability_episode")
    return [sorted(g, key=lambda f: (f.start_step, f.end_step)) for g in ordered]


def _prominence(f: Finding) -> float | None:
    """How far the peak stands from the baseline, relative to the baseline; None when the
    finding has no peak or no non-zero baseline to compare it with."""
    if f.peak_value is None or f.baseline is None or f.baseline == 0:
        return None
    score = abs(f.peak_value - f.baseline) / abs(f.baseline)
    return score if np.isfinite(score) else None


def representative(group: list[Finding]) -> Finding:
    """The occurrence a group shows in full: the most pronounced (largest ``|peak - baseline|``
    relative to the baseline), else the most severe; the earliest on ties."""
    scored = [(s, f) for f in group if (s := _prominence(f)) is not None]
    if scored:
        best = max(s for s, _ in scored)
        return min((f for s, f in scored if s == best), key=lambda f: f.start_step)
    return min(group, key=lambda f: (-f.severity.rank, f.start_step))


def occurrence_text(f: Finding) -> str:
    """One occurrence, compactly: its steps, then its peak value (and the peak's step when the
    occurrence spans several steps): ``2855–2870 (14.64 @ 2860)``."""
    text = _steps(f)
    if f.peak_value is None:
        return text
    at = f" @ {f.peak_step}" if f.start_step != f.end_step and f.peak_step is not None else ""
    return f"{text} ({fmt_number(f.peak_value)}{at})"


def render_group(console: Console, analysis: Analysis, group: list[Finding], lang: str) -> None:
    """A group of findings of the same rule and metric: one finding as a finding; several as
    one block: the most pronounced in full, then every occurrence on one line."""
    if len(group) == 1:
        render_finding(console, analysis, group[0], lang)
        return
    render_finding(console, analysis, representative(group), lang, times=len(group))
    items = ", ".join(occurrence_text(f) for f in group)
    console.print(Text(_INDENT + ui(lang)["occurrences"] + items, style="dim"), soft_wrap=True)


def _run_header(run: Run, lang: str) -> Text:
    t = ui(lang)
    fw = run.meta.framework
    if not fw or fw == "unknown":
        fw = t["unknown"]
    if run.first_step is None:
        steps = t["no_metrics"]
    else:
        steps = t["steps"].format(s=f"{run.first_step}–{run.last_step}")
    return Text(f"{run.name}  ({run.format}, {t['framework']} {fw}, {steps})", style="bold")


def render_terminal(analysis: Analysis, console: Console, lang: str = "en") -> None:
    """The report, made to scale to logdirs of many runs: the runs with findings first (grouped
    by severity, worst first, with their evidence; a rule firing several times on a metric as
    one block), then one line per run without findings, then once for all runs the rules that
    were not checked and why."""
    t = ui(lang)
    found_by_run: dict[str, list[Finding]] = defaultdict(list)
    for f in analysis.findings:
        found_by_run[f.run].append(f)
    for run in (r for r in analysis.runs if found_by_run.get(r.name)):
        console.print(_run_header(run, lang))
        found = found_by_run[run.name]
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            of_sev = [f for f in found if f.severity is sev]
            if not of_sev:
                continue
            groups = group_findings(of_sev)
            if len(groups) == len(of_sev):
                count = t["sev_count"].format(n=len(of_sev))
            else:
                one = "sev_count_one_group" if len(groups) == 1 else "sev_count_grouped"
                count = t[one].format(n=len(of_sev), g=len(groups))
            console.print(Text(f" {t[sev.value].upper()} ({count})", style=_STYLE[sev]))
            for group in groups:
                render_group(console, analysis, group, lang)
        console.print()
    clean = [r for r in analysis.runs if not found_by_run.get(r.name)]
    for run in clean:
        line = _run_header(run, lang)
        line.append(f"  {t['none']}", style="green")
        console.print(line, soft_wrap=True)
    if clean:
        console.print()
    _render_skipped(analysis, console, lang)


def _render_skipped(analysis: Analysis, console: Console, lang: str) -> None:
    """The rules not checked, once for all runs: rules with the same reason in the same runs
    on one line, with the number of runs when there are several."""
    if not analysis.skipped:
        return
    t = ui(lang)
    order = {r.name: i for i, r in enumerate(analysis.runs)}
    runs_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in analysis.skipped:
        runs_of[(s.rule, skip_text(s, lang))].append(s.run)
    lines: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (rule, reason), names in runs_of.items():
        key = tuple(sorted(set(names), key=lambda r: order.get(r, len(order))))
        lines[(reason, key)].append(rule)
    total = len(analysis.runs)
    everywhere = total > 1 and all(len(runs) == total for _, runs in lines)
    head = t["skipped"] + (t["in_all_runs"].format(n=total) if everywhere else "")
    console.print(Text(head + ("：" if lang == "zh" else ":"), style="dim"))
    for (reason, runs), rules in sorted(lines.items(), key=lambda item: item[1][0]):
        text = f"  {', '.join(rules)}: {reason}"
        if total > 1 and not everywhere:
            if len(runs) == total:
                text += t["in_all_runs"].format(n=total)
            elif len(runs) <= 3:
                text += t["in_runs"].format(runs=", ".join(runs))
            else:
                text += t["in_n_runs"].format(n=len(runs), total=total)
        console.print(Text(text, style="dim"), soft_wrap=True)


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
