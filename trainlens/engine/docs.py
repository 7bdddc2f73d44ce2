"""Rule documentation generated from the rules themselves (``trainlens rules show``)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from trainlens.engine.spec import RuleSpec
from trainlens.resources import rules_dir

HEADINGS = {
    "en": {
        "what": "What it does",
        "why": "Why it matters",
        "causes": "Common causes",
        "advice": "What to do",
        "params": "Parameters (defaults)",
        "message": "Message",
        "default": "default",
        "metrics": "metrics",
        "detector": "detector",
        "kind": "kind",
        "patterns": "patterns",
        "family": "family",
        "severity": "severity",
        "none": "none",
        "escalate": "{severity} when {conditions}",
        "or": "; or ",
        "and": " and ",
        "when": "when {field}",
        "title_word": "title",
        "accuracy": "Accuracy on the labelled bank ({runs} runs, {healthy} healthy; "
        "benchmarks/accuracy)",
        "acc_row": "recall {recall} of {labelled} labels · false alarms per healthy run "
        "{fa:.3f} ({err} error, {warn} warning) · findings outside labels {outside} · "
        "onset error {err_med} / {err_max} steps (median / max) · lead time {lead}",
        "acc_none": "not measured (not a series rule, or no labelled scenario)",
        "lead_none": "not replayed",
    },
    "zh": {
        "what": "作用",
        "why": "为何重要",
        "causes": "常见原因",
        "advice": "建议",
        "params": "参数（默认值）",
        "message": "消息模板",
        "default": "默认",
        "metrics": "指标",
        "detector": "检测器",
        "kind": "类型",
        "patterns": "匹配模式",
        "family": "类别",
        "severity": "级别",
        "none": "无",
        "escalate": "满足 {conditions} 时为 {severity}",
        "or": "；或 ",
        "and": " 且 ",
        "when": "{field} 为真时",
        "title_word": "标题",
        "accuracy": "标注场景库上的准确度（{runs} 个运行，其中 {healthy} 个健康；"
        "benchmarks/accuracy）",
        "acc_row": "召回 {recall}（{labelled} 个标注）· 每个健康运行的误报 {fa:.3f}"
        "（error {err}、warning {warn}）· 标注之外的发现 {outside} · 起始步误差 "
        "{err_med} / {err_max} 步（中位数 / 最大）· 提前量 {lead}",
        "acc_none": "未测量（不是序列规则，或没有标注场景）",
        "lead_none": "未回放",
    },
}


def _value(v: Any) -> str:
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


#: Help for parameters that many detectors share (a rule's own param_help wins).
COMMON_HELP = {
    "window": {"en": "logged points in the rolling baseline", "zh": "滚动基线包含的记录点数"},
    "min_periods": {
        "en": "earlier points needed before a point can be judged",
        "zh": "判定前至少需要的历史点数",
    },
    "gap": {
        "en": "flagged points at most this many points apart form one finding",
        "zh": "间隔不超过该点数的异常点合并为一条发现",
    },
    "log": {"en": "compare on log values (scale-free)", "zh": "在对数值上比较（与量级无关）"},
    "k": {"en": "threshold in robust noise units", "zh": "以稳健噪声为单位的阈值"},
    "factor": {"en": "minimum ratio to the baseline", "zh": "相对基线的最小倍数"},
    "history_factor": {
        "en": "minimum ratio to the median of everything logged before (0: off)",
        "zh": "相对此前全部记录中位数的最小倍数（0 表示不用）",
    },
    "min_delta": {"en": "minimum absolute change", "zh": "最小绝对变化量"},
    "limit": {"en": "hard limit (null: none)", "zh": "硬上限（null 表示不设）"},
    "require_positive": {"en": "skip series that go negative", "zh": "跳过会变为负数的序列"},
    "toward": {"en": "direction of the change: up or down", "zh": "变化方向：up 或 down"},
    "after": {"en": "logged points the new level must hold", "zh": "新水平需保持的记录点数"},
    "horizon": {
        "en": "logged points over which a change may spread",
        "zh": "一次变化可跨越的记录点数",
    },
    "sustain": {
        "en": "logged points of a long-lasting shift (0: off)",
        "zh": "长时间偏移所用的记录点数（0 表示不用）",
    },
    "rel": {"en": "minimum change as a share of the level", "zh": "相对原水平的最小变化比例"},
    "noise_floor": {
        "en": "lowest noise, as a share of the whole series' noise",
        "zh": "噪声下限（占整条序列噪声的比例）",
    },
    "smooth": {"en": "points in the rolling median", "zh": "滚动中位数的点数"},
    "min_points": {"en": "logged points needed", "zh": "需要的记录点数"},
    "until_end": {"en": "must last to the end of the log", "zh": "须持续到日志结束"},
    "inclusive": {
        "en": "a value at the bound counts as out of bounds",
        "zh": "恰好等于边界也算越界",
    },
    "percent": {
        "en": "values may be fractions or percents; bounds are percents",
        "zh": "数值可为小数或百分数，边界按百分数",
    },
    "above": {"en": "upper bound (null: none)", "zh": "上界（null 表示不设）"},
    "below": {"en": "lower bound (null: none)", "zh": "下界（null 表示不设）"},
    "edge": {
        "en": "share of the points used for start/end levels",
        "zh": "计算首末水平所用的点数比例",
    },
}


def param_lines(spec: RuleSpec, lang: str) -> list[str]:
    """``name = value`` lines, with the default when overridden and the parameter's help."""
    h = HEADINGS.get(lang, HEADINGS["en"])
    lines = []
    for name, value in spec.params.items():
        line = f"{name} = {_value(value)}"
        default = spec.defaults.get(name, value)
        if default != value:
            line += f"  ({h['default']} {_value(default)})"
        help_text = spec.param_help.get(name) or COMMON_HELP.get(name, {})
        text = help_text.get(lang, help_text.get("en"))
        if text:
            line += f"  — {text}"
        lines.append(line)
    return lines


def severity_text(spec: RuleSpec, lang: str = "en") -> str:
    """The rule's severity and, when its findings can be raised by their evidence, when:
    ``warning (error when share ≥ 0.5; or level ≥ 0.9 and n_points ≥ 5)``."""
    h = HEADINGS.get(lang, HEADINGS["en"])
    parts = []
    for severity, alternatives in spec.escalate:
        conditions = h["or"].join(
            h["and"].join(f"{name} ≥ {limit:g}" for name, limit in alt.items())
            for alt in alternatives
        )
        parts.append(h["escalate"].format(severity=severity.value, conditions=conditions))
    return spec.severity.value + (f" ({'; '.join(parts)})" if parts else "")


@cache
def accuracy_table() -> dict[str, Any]:
    """The per-rule rows of the labelled bank (``rules/accuracy.json``, written by
    ``benchmarks/accuracy/run.py --write-rule-table``); empty when absent."""
    path = rules_dir() / "accuracy.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def accuracy_lines(rule_id: str, lang: str = "en") -> list[str]:
    """The rule's row of the bank's table, in words."""
    h = HEADINGS.get(lang, HEADINGS["en"])
    table = accuracy_table()
    bank = table.get("bank") or {}
    row = (table.get("rules") or {}).get(rule_id)
    head = h["accuracy"].format(runs=bank.get("runs", "?"), healthy=bank.get("healthy_runs", "?"))
    if not row or not row.get("labelled"):
        return [head, f"  {h['acc_none']}"]
    lead = (
        f"{row['lead_median']:g} / {row['lead_max']:g}"
        if row.get("lead_median") is not None
        else h["lead_none"]
    )
    detected = bool(row.get("detected"))
    text = h["acc_row"].format(
        recall=f"{row['recall']:.0%}",
        labelled=row["labelled"],
        fa=row["fa_per_healthy_run"],
        err=row["fa_healthy_error"],
        warn=row["fa_healthy_warning"],
        outside=row["outside_labels"],
        err_med=f"{row['step_err_median']:g}" if detected else "—",
        err_max=f"{row['step_err_max']:g}" if detected else "—",
        lead=lead,
    )
    return [head, f"  {text}"]


def rule_doc(spec: RuleSpec, lang: str = "en") -> str:
    """A rule's documentation as plain text: the same sections for every rule."""
    h = HEADINGS.get(lang, HEADINGS["en"])
    if spec.kind == "series":
        what = f"{h['detector']}: {spec.detector} · {h['metrics']}: " + (
            ", ".join(spec.metrics) or h["none"]
        )
    else:
        what = f"{h['kind']}: {spec.kind}"
    facts = f"{h['severity']}: {severity_text(spec, lang)} · {h['family']}: {spec.family} · {what}"
    out = [f"{spec.id} — {spec.text('title', lang)}", facts, ""]
    if spec.patterns:
        out += [h["patterns"], *[f"  {p.pattern}" for p in spec.patterns], ""]
    out += [h["what"], f"  {spec.text('summary', lang)}", ""]
    out += [h["why"], f"  {spec.text('why', lang)}", ""]
    out += [h["causes"], *[f"  - {c}" for c in spec.text("causes", lang)], ""]
    out += [h["advice"], *[f"  - {a}" for a in spec.text("advice", lang)], ""]
    out += [
        h["params"],
        *([f"  {line}" for line in param_lines(spec, lang)] or [f"  {h['none']}"]),
        "",
    ]
    out += [*accuracy_lines(spec.id, lang), ""]
    out += [h["message"], f"  {spec.text('message', lang)}"]
    for name, texts in spec.message_when:
        out += [f"  {h['when'].format(field=name)}: {texts.get(lang, texts['en'])}"]
    for name, texts in spec.title_when:
        title = texts.get(lang, texts["en"])
        out += [f"  {h['when'].format(field=name)} ({h['title_word']}): {title}"]
    return "\n".join(out)
