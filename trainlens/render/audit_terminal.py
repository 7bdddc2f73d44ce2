"""A completions audit on the terminal: how each file was read, the rates, lengths and steps."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from trainlens.audit.completions import CompletionAudit

_LABELS = {
    "en": {
        "n": "samples",
        "unclosed_rate": "unclosed",
        "unparseable_rate": "unparseable",
        "empty_rate": "empty",
        "degenerate_rate": "degenerate",
        "repetition_rate": "looping",
        "strict_accuracy": "strict accuracy",
        "diagnostic_accuracy": "diagnostic accuracy",
        "format_gap": "gap (diagnostic − strict)",
        "limit_hit_rate": "hit the generation limit",
        "lengths": "lengths (chars; tokens with --tokenizer)",
        "tag": "tag <{tag}> present and closed",
        "steps": "per step",
    },
    "zh": {
        "n": "样本数",
        "unclosed_rate": "未闭合",
        "unparseable_rate": "无法解析",
        "empty_rate": "空回复",
        "degenerate_rate": "退化回复",
        "repetition_rate": "循环重复",
        "strict_accuracy": "严格准确率",
        "diagnostic_accuracy": "诊断准确率",
        "format_gap": "差距（诊断 − 严格）",
        "limit_hit_rate": "触及生成上限",
        "lengths": "长度（字符；有 --tokenizer 时含 token）",
        "tag": "标签 <{tag}> 出现且闭合",
        "steps": "按步统计",
    },
}
_RATES = (
    "unclosed_rate",
    "unparseable_rate",
    "empty_rate",
    "degenerate_rate",
    "repetition_rate",
    "strict_accuracy",
    "diagnostic_accuracy",
    "format_gap",
    "limit_hit_rate",
)


def pct(value: Any) -> str:
    """A share as ``12.50%`` (``—`` when unknown)."""
    return "—" if value is None else f"{100 * float(value):.2f}%"


def render_audit(console: Console, audit: CompletionAudit, lang: str) -> None:
    """The audit's tables (findings are rendered by the caller)."""
    labels = _LABELS.get(lang, _LABELS["en"])
    for info in audit.files:
        console.print(Text(info.path, style="bold"))
        console.print(Text(f"  {info.keys}; {info.format}", style="dim"))
    summary = audit.summary()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row(labels["n"], str(summary["n"]))
    for name in _RATES:
        if summary.get(name) is not None:
            table.add_row(labels[name], pct(summary[name]))
    for tag, share in summary["tag_compliance"].items():
        table.add_row(labels["tag"].format(tag=tag), pct(share))
    console.print(table)
    lengths = Table(title=labels["lengths"], title_justify="left")
    columns = ("n", "mean", "p50", "p90", "p99", "max")
    lengths.add_column("")
    for col in columns:
        lengths.add_column(col, justify="right")
    for name, desc in summary["lengths"].items():
        if desc:
            lengths.add_row(name, *(str(desc[c]) for c in columns))
    console.print(lengths)
    series = audit.step_series()
    if series:
        steps = Table(title=labels["steps"], title_justify="left")
        names = [n for n in _RATES if n in series and n != "limit_hit_rate"]
        steps.add_column("step", justify="right")
        for name in names:
            steps.add_column(labels[name], justify="right")
        by_step: dict[int, dict[str, float]] = {}
        for name in names:
            for step, value in series[name]:
                by_step.setdefault(step, {})[name] = value
        rows = sorted(by_step.items())
        if len(rows) > 20:  # first, last and evenly spaced steps between
            picked = sorted({round(i * (len(rows) - 1) / 19) for i in range(20)})
            rows = [rows[i] for i in picked]
        for step, values in rows:
            steps.add_row(str(step), *(pct(values.get(n)) for n in names))
        console.print(steps)
