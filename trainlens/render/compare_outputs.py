"""The "compared by their outputs" section of ``trainlens compare``: one row per run (size,
strict and diagnostic accuracy, unclosed and unparseable rates) and the scale finding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from trainlens.audit.scale import OutputRow
from trainlens.findings import Finding, json_safe

_HEAD = {
    "en": (
        "Compared by their outputs",
        ("run", "train size", "samples", "strict", "diagnostic", "unclosed", "unparseable"),
        "Advice",
    ),
    "zh": (
        "按模型输出比较",
        ("运行", "训练集规模", "样本数", "严格准确率", "诊断准确率", "未闭合", "无法解析"),
        "建议",
    ),
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _cells(r: OutputRow) -> list[str]:
    size = "—" if r.size is None else f"{r.size:,}"
    rates = (r.strict, r.diagnostic, r.unclosed, r.unparseable)
    return [r.run, size, str(r.n), *(_pct(v) for v in rates)]


def outputs_json(
    rows: Sequence[OutputRow], findings: Sequence[Finding], message: Callable[[Finding], str]
) -> dict[str, Any]:
    """``{"runs": [...], "findings": [...]}`` for the compare JSON's ``outputs`` key."""
    return json_safe(
        {
            "runs": [r.to_dict() for r in rows],
            "findings": [{**f.to_dict(message(f)), "params": dict(f.params)} for f in findings],
        }
    )


def outputs_terminal(
    console: Console,
    rows: Sequence[OutputRow],
    findings: Sequence[Finding],
    lang: str,
    message: Callable[[Finding], str],
    title: Callable[[Finding], str],
    advice: Callable[[Finding], list[str]],
) -> None:
    heading, cols, advice_head = _HEAD.get(lang, _HEAD["en"])
    table = Table(title=heading, title_justify="left")
    for i, col in enumerate(cols):
        table.add_column(col, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*_cells(r))
    console.print(table)
    for f in findings:
        style = "red" if f.severity.value == "error" else "yellow"
        console.print(Text(f"  {title(f)}", style=f"bold {style}"))
        console.print(Text(f"    {message(f)}"))
        for item in advice(f):
            console.print(Text(f"    - {item}", style="dim"))


def outputs_markdown(
    rows: Sequence[OutputRow],
    findings: Sequence[Finding],
    lang: str,
    message: Callable[[Finding], str],
    title: Callable[[Finding], str],
    advice: Callable[[Finding], list[str]],
) -> str:
    heading, cols, advice_head = _HEAD.get(lang, _HEAD["en"])
    lines = [f"## {heading}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(cols) - 1)) + "|")
    for r in rows:
        cells = _cells(r)
        lines.append("| " + " | ".join([_md(cells[0]), *cells[1:]]) + " |")
    for f in findings:
        lines += ["", f"**{_md(title(f))}.** {_md(message(f))}", "", f"{advice_head}:", ""]
        lines += [f"- {_md(item)}" for item in advice(f)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Markdown-escaped text for a table cell or a paragraph."""
    out = text.replace("\\", "\\\\")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")
