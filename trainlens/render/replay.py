"""``trainlens replay``: JSON documents, terminal and Markdown output of a replay result.
Findings go through the same JSON form and terminal renderer as ``analyze``. No torch here: the
result objects are plain dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from trainlens.analysis import Analysis
from trainlens.engine.spec import render_message
from trainlens.findings import SCHEMA_VERSION, json_safe
from trainlens.render.findings_json import finding_dict
from trainlens.render.findings_terminal import fmt_number, render_finding
from trainlens.render.md_escape import md_text

if TYPE_CHECKING:
    from trainlens.replay.kl import KLResult
    from trainlens.replay.score import ScoreResult

#: Rows of the per-sample table in text and Markdown output (JSON always has every sample).
MAX_ROWS = 40

UI = {
    "en": {
        "score_head": "replay score: {n} sample(s) from {batch}",
        "kl_head": "replay kl: {n} sample(s) from {batch}",
        "settings": "{device} {dtype}, batch size {bs}",
        "skipped": "{n} line(s) or sample(s) skipped (see the warnings)",
        "id": "id",
        "role": "role",
        "tokens": "tokens",
        "with_eos": "with EOS",
        "without_eos": "without EOS",
        "gap": "gap",
        "more": "… {n} more (all in --format json)",
        "summary": "summary",
        "findings": "findings",
        "none": "no findings",
        "peak": "peak GPU memory {mib:.0f} MiB",
        "d_acc": "discriminator accuracy (teacher > student)",
        "mean_gap": "mean gap (teacher − student)",
        "hard": "hard pairs (gap < 0.1)",
        "corr": "length–score correlation",
        "identical": "largest gap between identical texts",
        "n_pairs": "pairs",
        "k1": "k1 = −Δ",
        "k2": "k2 = ½Δ²",
        "k3": "k3 = exp(Δ) − Δ − 1",
        "blowup": "tokens with k3 > {r:g}× k2",
        "max_delta": "largest Δ",
        "n_tokens": "response tokens",
        "mismatch": "sampler vs policy |Δlog p| (mean / max)",
        "ratio": "sequence importance ratio (min – max)",
        "padding": "padding check: {n} sample(s) re-scored alone and left-padded, largest "
        "difference {d} (tolerance {t})",
        "title_score": "Replay: re-scored batch",
        "title_kl": "Replay: KL between policy and reference",
        "metric": "metric",
        "value": "value",
        "why": "**Why it matters.**",
        "advice": "**What to do:**",
    },
    "zh": {
        "score_head": "replay score：{batch} 中的 {n} 个样本",
        "kl_head": "replay kl：{batch} 中的 {n} 个样本",
        "settings": "{device} {dtype}，批大小 {bs}",
        "skipped": "跳过了 {n} 行或样本（见警告）",
        "id": "id",
        "role": "角色",
        "tokens": "token 数",
        "with_eos": "含 EOS",
        "without_eos": "不含 EOS",
        "gap": "差值",
        "more": "… 另有 {n} 个（完整结果见 --format json）",
        "summary": "汇总",
        "findings": "发现",
        "none": "未发现问题",
        "peak": "GPU 显存峰值 {mib:.0f} MiB",
        "d_acc": "判别准确率（teacher > student）",
        "mean_gap": "平均差值（teacher − student）",
        "hard": "难样本对占比（差值 < 0.1）",
        "corr": "长度-分数相关系数",
        "identical": "相同文本间的最大分数差",
        "n_pairs": "样本对数",
        "k1": "k1 = −Δ",
        "k2": "k2 = ½Δ²",
        "k3": "k3 = exp(Δ) − Δ − 1",
        "blowup": "k3 > {r:g}× k2 的 token 占比",
        "max_delta": "最大 Δ",
        "n_tokens": "回复 token 数",
        "mismatch": "采样器与策略的 |Δlog p|（均值 / 最大）",
        "ratio": "序列重要性比（最小 – 最大）",
        "padding": "padding 检查：{n} 个样本单独评分并改为左 padding 重新评分，"
        "最大差异 {d}（容差 {t}）",
        "title_score": "回放：重新评分",
        "title_kl": "回放：策略与参考模型的 KL",
        "metric": "指标",
        "value": "数值",
        "why": "**为什么重要：**",
        "advice": "**建议：**",
    },
}


def ui(lang: str) -> dict[str, str]:
    return UI.get(lang, UI["en"])


def _findings(analysis: Analysis, lang: str) -> list[dict[str, Any]]:
    return [finding_dict(analysis, f, lang) for f in analysis.findings]


def _warnings(result: Any) -> list[dict[str, str]]:
    return [w.to_dict() for w in result.warnings]


def score_document(result: ScoreResult, analysis: Analysis, lang: str = "en") -> dict[str, Any]:
    """``replay score --format json`` (schema_version 1)."""
    s = result.summary
    return json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "samples": [
                {
                    "id": x.id,
                    "role": x.role,
                    "n_tokens": x.n_tokens,
                    "score_with_eos": x.score_with_eos,
                    "score_without_eos": x.score_without_eos,
                    "score": x.score,
                    "gap": x.gap,
                    "n_eos": x.n_eos,
                    "line": x.line,
                    "step": x.step,
                }
                for x in result.samples
            ],
            "summary": {
                "n_samples": s.n_samples,
                "d_acc": s.d_acc,
                "mean_gap": s.mean_gap,
                "hard_pair_share": s.hard_pair_share,
                "length_score_corr": s.length_score_corr,
                "identical_text_max_gap": s.identical_text_max_gap,
                "n_pairs": s.n_pairs,
                "samples_skipped": result.samples_skipped,
                "lines_skipped": result.batch.lines_skipped,
            },
            "findings": _findings(analysis, lang),
            "settings": {
                "head": result.options.head,
                "aggregate": result.options.aggregate.value,
                "include_eos": result.options.include_eos,
                "eos_ids": list(result.eos_ids),
                "device": result.device,
                "dtype": result.dtype,
                "batch_size": result.options.batch_size,
                "steps": list(result.batch.steps) if result.batch.steps else None,
                "peak_gpu_memory_mib": result.peak_gpu_mib,
            },
            "warnings": _warnings(result),
        }
    )


def kl_document(result: KLResult, analysis: Analysis, lang: str = "en") -> dict[str, Any]:
    """``replay kl --format json`` (schema_version 1)."""
    s = result.summary
    m = result.mismatch
    return json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "samples": [
                {
                    "id": x.id,
                    "role": x.role,
                    "n_tokens": x.n_tokens,
                    "k1": x.k1,
                    "k2": x.k2,
                    "k3": x.k3,
                    "max_delta": x.max_delta,
                    "blowup_tokens": x.blowup_tokens,
                    "sampler_mean_abs": x.sampler_mean_abs,
                    "importance_ratio": x.importance_ratio,
                    "line": x.line,
                    "step": x.step,
                }
                for x in result.samples
            ],
            "summary": {
                "n_samples": s.n_samples,
                "n_tokens": s.n_tokens,
                "k1_mean": s.k1_mean,
                "k2_mean": s.k2_mean,
                "k3_mean": s.k3_mean,
                "blowup_share": s.blowup_share,
                "max_delta": s.max_delta,
                "mismatch": None
                if m is None
                else {
                    "n_samples": m.n_samples,
                    "n_tokens": m.n_tokens,
                    "mean_abs": m.mean_abs,
                    "max_abs": m.max_abs,
                    "ratio_min": m.ratio_min,
                    "ratio_max": m.ratio_max,
                    "log_ratio_std": m.log_ratio_std,
                },
                "samples_skipped": result.samples_skipped,
                "lines_skipped": result.batch.lines_skipped,
            },
            "findings": _findings(analysis, lang),
            "settings": {
                "eos_ids": list(result.eos_ids),
                "device": result.device,
                "dtype": result.dtype,
                "batch_size": result.batch_size,
                "steps": list(result.batch.steps) if result.batch.steps else None,
                "peak_gpu_memory_mib": result.peak_gpu_mib,
            },
            "warnings": _warnings(result),
        }
    )


def _n(x: float | None) -> str:
    return fmt_number(x)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def score_rows(result: ScoreResult, lang: str) -> tuple[list[str], list[list[str]]]:
    t = ui(lang)
    head = [t["id"], t["role"], t["tokens"], t["with_eos"], t["without_eos"], t["gap"]]
    rows = [
        [
            x.id,
            x.role or "",
            str(x.n_tokens),
            _n(x.score_with_eos),
            _n(x.score_without_eos),
            "" if x.gap is None else fmt_number(x.gap, signed=True),
        ]
        for x in result.samples
    ]
    return head, rows


def score_summary(result: ScoreResult, lang: str) -> list[tuple[str, str]]:
    t, s = ui(lang), result.summary
    out = [(t["n_pairs"], str(s.n_pairs))] if s.n_pairs else []
    if s.n_pairs:
        out += [
            (t["d_acc"], _pct(s.d_acc)),
            (t["mean_gap"], _n(s.mean_gap)),
            (t["hard"], _pct(s.hard_pair_share)),
        ]
    out += [(t["corr"], _n(s.length_score_corr)), (t["identical"], _n(s.identical_text_max_gap))]
    return out


def kl_rows(result: KLResult, lang: str) -> tuple[list[str], list[list[str]]]:
    t = ui(lang)
    head = [t["id"], t["role"], t["tokens"], "k1", "k2", "k3", "max Δ"]
    rows = [
        [x.id, x.role or "", str(x.n_tokens), _n(x.k1), _n(x.k2), _n(x.k3), _n(x.max_delta)]
        for x in result.samples
    ]
    return head, rows


def kl_summary(result: KLResult, lang: str) -> list[tuple[str, str]]:
    t, s = ui(lang), result.summary
    out = [
        (t["n_tokens"], str(s.n_tokens)),
        (t["k1"], _n(s.k1_mean)),
        (t["k2"], _n(s.k2_mean)),
        (t["k3"], _n(s.k3_mean)),
        (t["blowup"].format(r=result.ratio), _pct(s.blowup_share)),
        (t["max_delta"], _n(s.max_delta)),
    ]
    m = result.mismatch
    if m is not None:
        out += [
            (t["mismatch"], f"{_n(m.mean_abs)} / {_n(m.max_abs)}"),
            (t["ratio"], f"{_n(m.ratio_min)} – {_n(m.ratio_max)}"),
        ]
    return out


def _header(result: Any, lang: str, kind: str) -> list[str]:
    t = ui(lang)
    bs = result.options.batch_size if kind == "score" else result.batch_size
    lines = [
        t[f"{kind}_head"].format(n=len(result.samples), batch=result.batch.path.name),
        t["settings"].format(device=result.device, dtype=result.dtype, bs=bs),
    ]
    skipped = result.samples_skipped + result.batch.lines_skipped
    if skipped:
        lines.append(t["skipped"].format(n=skipped))
    if result.peak_gpu_mib is not None:
        lines.append(t["peak"].format(mib=result.peak_gpu_mib))
    return lines


def render_text(
    result: Any, analysis: Analysis, console: Console, lang: str = "en", kind: str = "score"
) -> None:
    """The result on the terminal: header, per-sample table, summary, findings."""
    t = ui(lang)
    for i, line in enumerate(_header(result, lang, kind)):
        console.print(Text(line, style="bold" if i == 0 else "dim"), soft_wrap=True)
    head, rows = score_rows(result, lang) if kind == "score" else kl_rows(result, lang)
    console.print()
    for line in _table(head, rows[:MAX_ROWS]):
        console.print(Text("  " + line), soft_wrap=True)
    if len(rows) > MAX_ROWS:
        console.print(Text("  " + t["more"].format(n=len(rows) - MAX_ROWS), style="dim"))
    console.print()
    console.print(Text(t["summary"], style="bold"))
    pairs = score_summary(result, lang) if kind == "score" else kl_summary(result, lang)
    for label, value in pairs:
        console.print(Text(f"  {label}: {value}"), soft_wrap=True)
    if kind == "score" and result.padding is not None:
        p = result.padding
        console.print(
            Text(
                "  " + t["padding"].format(n=p.n_checked, d=_n(p.max_diff), t=_n(p.tolerance)),
            ),
            soft_wrap=True,
        )
    console.print()
    if not analysis.findings:
        console.print(Text(t["none"], style="green"))
    for f in analysis.findings:
        render_finding(console, analysis, f, lang)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    from rich.cells import cell_len

    widths = [max(cell_len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    out = []
    for r in [head, *rows]:
        cells = [
            c + " " * (w - cell_len(c)) if i < 2 else " " * (w - cell_len(c)) + c
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def render_markdown(result: Any, analysis: Analysis, lang: str = "en", kind: str = "score") -> str:
    """The result as a Markdown section: settings, summary, findings (with why and advice),
    per-sample table."""
    t = ui(lang)
    out = [f"# {t['title_' + kind]}", ""]
    out += [f"- {md_text(line)}" for line in _header(result, lang, kind)]
    out += ["", f"## {t['summary']}", "", f"| {t['metric']} | {t['value']} |", "|---|---:|"]
    pairs = score_summary(result, lang) if kind == "score" else kl_summary(result, lang)
    out += [f"| {_cell(label)} | {_cell(value)} |" for label, value in pairs]
    out += ["", f"## {t['findings']}", ""]
    if not analysis.findings:
        out += [t["none"], ""]
    for f in analysis.findings:
        spec = analysis.rules.get(f.rule)
        out += [
            f"### {f.severity.value}: {md_text(analysis.title(f, lang))} (`{f.rule}`)",
            "",
            render_message(f, spec, lang, escape=md_text),
            "",
            f"{t['why']} " + " ".join(str(spec.text("why", lang)).split()),
            "",
            t["advice"],
            "",
            *(f"- {a}" for a in spec.text("advice", lang)),
            "",
        ]
    head, rows = score_rows(result, lang) if kind == "score" else kl_rows(result, lang)
    out += [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|",
    ]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out += ["", t["more"].format(n=len(rows) - MAX_ROWS)]
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    return md_text(text)
