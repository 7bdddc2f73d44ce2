"""Output of ``trainlens compare``: terminal tables, the JSON document, Markdown (en / zh) and the
score chart. Every sentence is phrased here from the library's :class:`~trainlens.compare.Note`s."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trainlens.compare import Comparison, Note, RunComparison, Trend
from trainlens.findings import json_safe

SCHEMA_VERSION = 1
LANGS = ("en", "zh")
_DASH = "—"

# --- messages ---------------------------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "metric_user": {
        "en": "compared on {metric} (chosen with --metric)",
        "zh": "对比指标：{metric}（由 --metric 指定）",
    },
    "metric_default": {
        "en": "compared on {metric}: the first of {candidates} the runs have ({runs} of {total} "
        "runs log it)",
        "zh": "对比指标：{metric}（按 {candidates} 的顺序自动选择；"
        "{total} 个运行中有 {runs} 个记录了它）",
    },
    "metric_partial": {
        "en": "{metrics} is logged by only some of the runs, so they are compared on {chosen}; "
        "pass --metric to compare on it anyway",
        "zh": "只有部分运行记录了 {metrics}，因此改用 {chosen} 对比；"
        "如仍要按它对比，请用 --metric 指定",
    },
    "metric_none": {
        "en": "no score metric found in any run (looked for {candidates}); pass --metric NAME",
        "zh": "所有运行中都没有找到评分指标（查找了 {candidates}）；请用 --metric 指定",
    },
    "lower_is_better": {
        "en": "{metric} is loss-like: lower is better, so a rise counts as degradation",
        "zh": "{metric} 类似损失：越低越好，上升即视为退化",
    },
    "direction_assumed": {
        "en": "the direction of {metric} is unknown: assumed higher is better",
        "zh": "{metric} 的优化方向未知：假定越高越好",
    },
    "step_scales_differ": {
        "en": "the runs span very different step ranges ({ranges}): steps are not comparable "
        'across runs; compare where the best lies within each run ("best at"); the '
        "chart's x-axis is the fraction of each run",
        "zh": "各运行的步数范围差别很大（{ranges}）：步数不能跨运行直接比较；"
        "请比较最佳点在各自运行中的位置（“最佳位置”）；图表横轴为各运行的进度比例",
    },
    "best_run": {
        "en": "best run: {run} ({value} at step {step})",
        "zh": "最佳运行：{run}（第 {step} 步达到 {value}）",
    },
    "single_run": {
        "en": "only one run: nothing to compare against (best, onset and checkpoint are still "
        "reported)",
        "zh": "只有一个运行：没有可对比的对象（仍报告最佳点、退化起点和检查点）",
    },
    "no_config": {
        "en": "no run config found (args.json): its config cannot be compared",
        "zh": "没有找到运行配置（args.json）：无法对比其配置",
    },
    "metric_missing": {
        "en": "no {metric} in this run{available}",
        "zh": "该运行没有 {metric}{available}",
    },
    "metric_empty": {
        "en": "{key} has no finite value",
        "zh": "{key} 没有有限数值",
    },
    "metric_key_fallback": {
        "en": "{requested} is not logged in this run; used {key} (same canonical metric "
        "{canonical})",
        "zh": "该运行没有记录 {requested}；改用 {key}（同一规范指标 {canonical}）",
    },
    "other_keys": {
        "en": "compared on {key}; this run also logs {others} as {canonical} (choose one with "
        "--metric KEY)",
        "zh": "按 {key} 对比；该运行还记录了 {others}，同属 {canonical}（可用 --metric KEY 指定）",
    },
    "non_finite_skipped": {
        "en": "{count} non-finite values of {key} skipped",
        "zh": "跳过了 {key} 的 {count} 个非有限值",
    },
    "smoothed": {
        "en": "{key} is a dense training series ({points} points): smoothed with a rolling median "
        "of {window} points before finding the best and the onset (the best value is the "
        "smoothed one)",
        "zh": "{key} 是密集的训练序列（{points} 个点）：先用 {window} 点滚动中位数平滑，"
        "再找最佳点和退化起点（最佳值为平滑后的值）",
    },
    "single_point": {
        "en": "only one point (step {step}): no trend, no degradation",
        "zh": "只有一个点（第 {step} 步）：没有趋势，也无从判断退化",
    },
    "degraded": {
        "en": "fell more than {drop} below the best ({best_value} at step {best}) from step "
        "{onset} ({onset_value}); worst {worst_value} at step {worst}",
        "zh": "从第 {onset} 步（{onset_value}）起比最佳值（第 {best} 步的 {best_value}）"
        "差超过 {drop}；最差为第 {worst} 步的 {worst_value}",
    },
    "still_improving": {
        "en": "best at the last logged point (step {step}): still improving when logging stopped",
        "zh": "最佳点就是最后一个记录点（第 {step} 步）：记录结束时仍在提升",
    },
    "no_degradation": {
        "en": "no sustained drop of more than {drop} below the best",
        "zh": "没有持续低于最佳值 {drop} 以上的下降",
    },
    "changed_after_best": {
        "en": "{metric} went {from} → {to} ({change}) from the best step {best} to the end",
        "zh": "从最佳步（第 {best} 步）到结束，{metric} 由 {from} 变为 {to}（{change}）",
    },
    "ckpt_at_best": {
        "en": "saved at the best step {best}{value}",
        "zh": "正好保存在最佳步（第 {best} 步）{value}",
    },
    "ckpt_nearest_best": {
        "en": "the saved checkpoint nearest the best step {best} ({offset}){onset}{value}",
        "zh": "离最佳步（第 {best} 步）最近的已保存检查点（{offset}）{onset}{value}",
    },
    "no_ckpt_before_onset": {
        "en": "no saved checkpoint at or before the degradation onset (step {onset}; saved: "
        "{saved}): the best step {best} itself is recommended (re-run to it, or save more "
        "often)",
        "zh": "退化起点（第 {onset} 步）及之前没有已保存的检查点（已保存：{saved}）："
        "推荐最佳步第 {best} 步本身（需重新训练到该步，或更频繁地保存）",
    },
    "no_ckpt_visible": {
        "en": "no checkpoint folders (checkpoint-N / global_step_N) found: the best step {best} "
        "itself is recommended",
        "zh": "没有找到检查点目录（checkpoint-N / global_step_N）：推荐最佳步第 {best} 步本身",
    },
}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Run comparison",
        "metric": "Score metric",
        "run": "run",
        "key": "key",
        "best": "best (step)",
        "onset": "degradation onset",
        "final": "final (step)",
        "drop": "drop from best",
        "best_at": "best at (% of run)",
        "recommended": "recommended checkpoint",
        "recommendations": "Recommended checkpoints",
        "trends": "Trends (first → last)",
        "trends_help": "first / last: median of the first / last 2.5% of the points (1 to 5); "
        "in brackets: the relative change (×N: N times the first value).",
        "changes": "What changed after the best step",
        "config": "Config differences",
        "config_key": "key",
        "no_configs": "No run config (args.json) found in any run: config "
        "differences are unavailable.",
        "config_same": "The runs' configs do not differ (beyond paths and names).",
        "without_config": "Without a config",
        "notes": "Notes",
        "chart": "score chart",
        "chart_omitted": "chart omitted: it is written only with "
        "-o FILE (as FILE_STEM_assets/score.png)",
        "chart_no_data": "chart omitted: no run has a finite value of the score metric",
        "none": "none",
        "step": "step",
        "lower": "lower is better",
        "higher": "higher is better",
        "more": "… and {n} more differing keys (see --format json)",
        "general": "all runs",
        "no_change": "No trend moved by 25% or more after the best step.",
        "missing_status": "no {metric}",
        "empty_status": "no finite {metric}",
        "before": "{n} steps before",
        "after": "{n} steps after",
        "not_after_onset": ", not after the degradation onset {onset}",
        "entropy": "entropy",
        "response_length_mean": "response length",
        "grad_norm": "grad norm",
        "kl": "KL",
        "throughput": "throughput",
        "mfu": "MFU",
        "smoothed_tag": "smoothed",
        "best_step_only": "best step {step} (no checkpoint)",
    },
    "zh": {
        "title": "运行对比",
        "metric": "评分指标",
        "run": "运行",
        "key": "键名",
        "best": "最佳值（步）",
        "onset": "退化起点",
        "final": "最终值（步）",
        "drop": "相对最佳下降",
        "best_at": "最佳位置（占运行 %）",
        "recommended": "推荐检查点",
        "recommendations": "推荐检查点",
        "trends": "趋势（开始 → 结束）",
        "trends_help": "开始 / 结束：前 / 后 2.5% 记录点（1 至 5 个）的中位数；"
        "括号内为相对变化（×N：为开始值的 N 倍）。",
        "changes": "最佳步之后发生了什么",
        "config": "配置差异",
        "config_key": "配置项",
        "no_configs": "所有运行都没有找到运行配置（args.json）：无法对比配置。",
        "config_same": "各运行的配置（路径和名称之外）没有差异。",
        "without_config": "没有配置的运行",
        "notes": "说明",
        "chart": "评分曲线",
        "chart_omitted": "未生成图表：仅在使用 -o FILE 时写出（FILE_STEM_assets/score.png）",
        "chart_no_data": "未生成图表：没有运行含有评分指标的有限数值",
        "none": "无",
        "step": "步",
        "lower": "越低越好",
        "higher": "越高越好",
        "more": "……另有 {n} 个不同的配置项（见 --format json）",
        "general": "全部运行",
        "no_change": "最佳步之后没有变化超过 25% 的趋势指标。",
        "missing_status": "没有 {metric}",
        "empty_status": "{metric} 无有限值",
        "before": "早 {n} 步",
        "after": "晚 {n} 步",
        "not_after_onset": "，不晚于退化起点第 {onset} 步",
        "entropy": "熵",
        "response_length_mean": "回复长度",
        "grad_norm": "梯度范数",
        "kl": "KL",
        "throughput": "吞吐",
        "mfu": "MFU",
        "smoothed_tag": "已平滑",
        "best_step_only": "最佳步 {step}（无检查点）",
    },
}

#: At most this many non-concept config keys in the terminal and Markdown tables.
MAX_CONFIG_ROWS = 20
_MAX_CELL = 60


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    return lang


def num(x: float | None) -> str:
    """Compact number: 4 significant digits, thousands separators from 1,000 on."""
    if x is None:
        return _DASH
    if not math.isfinite(x):
        return str(x)
    if x != 0 and abs(x) >= 1000 and abs(x) < 1e9:
        return f"{x:,.0f}"
    text = f"{x:.4g}"
    return "0" if text == "-0" else text


def pct(x: float | None, *, signed: bool = False) -> str:
    if x is None:
        return _DASH
    value = x * 100
    text = f"{value:+.0f}%" if signed else f"{value:.0f}%"
    return "0%" if text in ("+0%", "-0%") else text


def change(x: float | None) -> str:
    """A relative change: ``-37%``, ``+45%``, or ``×8.0`` from a doubling on."""
    if x is not None and x >= 1:
        ratio = 1 + x
        return f"×{ratio:.1f}" if ratio < 100 else f"×{ratio:,.0f}"
    return pct(x, signed=True)


def _plain(value: Any) -> str:
    if value is None:
        return _DASH
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return num(value)
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def message(note: Note, lang: str = "en") -> str:
    """The sentence for one note in ``lang``."""
    lang = _check_lang(lang)
    labels = LABELS[lang]
    p: dict[str, Any] = {}
    for k, v in note.params.items():
        if isinstance(v, bool) or v is None:
            p[k] = _plain(v)
        elif isinstance(v, float):
            p[k] = num(v)
        elif isinstance(v, list):
            p[k] = ", ".join(str(x) for x in v) or labels["none"]
        elif isinstance(v, dict):
            p[k] = "; ".join(f"{n}: {a}–{b}" for n, (a, b) in v.items())
        else:
            p[k] = v
    code = note.code
    if code in ("degraded", "no_degradation"):
        p["drop"] = pct(note.params["drop"])
    if code == "changed_after_best":
        p["change"] = change(note.params["change"])
        p["metric"] = labels.get(note.params["metric"], note.params["metric"])
    if code == "metric_missing":
        avail = note.params.get("available") or []
        if avail:
            p["available"] = (
                f" (score metrics it has: {', '.join(avail)})"
                if lang == "en"
                else f"（它有的评分指标：{', '.join(avail)}）"
            )
        else:
            p["available"] = ""
    if code == "ckpt_nearest_best":
        off = int(note.params["offset"])
        p["offset"] = labels["before" if off < 0 else "after"].format(n=abs(off))
        onset = note.params.get("onset")
        p["onset"] = labels["not_after_onset"].format(onset=onset) if onset is not None else ""
    if code in ("ckpt_at_best", "ckpt_nearest_best"):
        value, at = note.params.get("value"), note.params.get("value_step")
        if value is None:
            p["value"] = ""
        elif lang == "en":
            p["value"] = f"; {note.params['key']} logged there: {num(value)} (step {at})"
        else:
            p["value"] = f"；该处 {note.params['key']} 为 {num(value)}（第 {at} 步）"
    template = MESSAGES.get(code, {}).get(lang)
    if template is None:
        return f"{code}: {json.dumps(note.params, ensure_ascii=False, sort_keys=True)}"
    return template.format(**p)


# --- cells shared by terminal and Markdown ------------------------------------------------------


def _status_cell(row: RunComparison, lang: str) -> str:
    labels = LABELS[lang]
    key = "missing_status" if row.status == "missing" else "empty_status"
    return labels[key].format(metric=row.metric or labels["none"])


def shared_key(cmp: Comparison) -> str | None:
    """The raw key every run was compared on, when it is the same everywhere."""
    keys = {r.key for r in cmp.rows if r.status == "ok"}
    return keys.pop() if len(keys) == 1 else None


def _summary_head(cmp: Comparison, lang: str) -> list[str]:
    t = LABELS[lang]
    head = [t["run"], t["best"], t["onset"], t["final"], t["drop"], t["best_at"], t["recommended"]]
    return head if shared_key(cmp) else head[:1] + [t["key"]] + head[1:]


def _summary_cells(row: RunComparison, cmp: Comparison, lang: str) -> list[str]:
    """run, [key,] best (step), onset, final (step), drop, best at, recommended."""
    d = row.degradation
    if row.status != "ok" or d is None:
        cells = [row.name, _status_cell(row, lang), _DASH, _DASH, _DASH, _DASH, _DASH]
    else:
        best = f"{num(d.best_value)} @ {d.best_step}"
        if row.window > 1:
            best += f" ({LABELS[lang]['smoothed_tag']})"
        onset = f"{d.onset_step} ({num(d.onset_value)})" if d.onset_step is not None else _DASH
        cells = [
            row.name,
            best,
            onset,
            f"{num(d.final_value)} @ {d.final_step}",
            pct(row.drop_from_best),
            pct(row.best_fraction),
            _recommended_cell(row, lang),
        ]
    return cells if shared_key(cmp) else cells[:1] + [row.key or _DASH] + cells[1:]


def _heading(cmp: Comparison, lang: str) -> str:
    """``eval_score (key eval_reward, higher is better)``."""
    t = LABELS[lang]
    direction = t["lower"] if not cmp.higher_is_better else t["higher"]
    key = shared_key(cmp)
    sep = ", " if lang == "en" else "，"
    if key is not None and key != cmp.metric:
        return (
            f"{cmp.metric} ({t['key']} {key}{sep}{direction})"
            if lang == "en"
            else f"{cmp.metric}（{t['key']} {key}{sep}{direction}）"
        )
    return (
        f"{cmp.metric or t['none']} ({direction})"
        if lang == "en"
        else f"{cmp.metric or t['none']}（{direction}）"
    )


def _recommended_cell(row: RunComparison, lang: str) -> str:
    rec = row.recommended
    if rec is None:
        return _DASH
    if rec.path is not None:
        return rec.path
    return LABELS[lang]["best_step_only"].format(step=rec.step)


def _trend_metrics(cmp: Comparison) -> list[str]:
    from trainlens.compare import TREND_METRICS

    present = {t.metric for r in cmp.rows for t in r.trends}
    return [m for m in TREND_METRICS if m in present]


def _trend_cell(trend: Trend | None) -> str:
    if trend is None:
        return _DASH
    text = f"{num(trend.first)} → {num(trend.last)}"
    if trend.change is not None:
        text += f" ({change(trend.change)})"
    return text


def _trend_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    metrics = _trend_metrics(cmp)
    rows = []
    for r in cmp.rows:
        by = {t.metric: t for t in r.trends}
        rows.append([r.name] + [_trend_cell(by.get(m)) for m in metrics])
    return metrics, rows


def _config_rows(cmp: Comparison, limit: int | None) -> tuple[list[str], list[list[str]], int]:
    from trainlens.compare import CONFIG_CONCEPTS

    concepts = {c for c, _ in CONFIG_CONCEPTS}
    cfg = cmp.config
    keys = list(cfg.keys)
    shown = [k for k in keys if k in concepts]
    others = [k for k in keys if k not in concepts]
    hidden = 0
    if limit is not None and len(others) > limit:
        hidden = len(others) - limit
        others = others[:limit]
    rows = [[k] + [_plain(cfg.values[n].get(k)) for n in cfg.with_config] for k in shown + others]
    return list(cfg.with_config), rows, hidden


def _run_notes(row: RunComparison) -> list[Note]:
    """A row's notes without the ones its recommendation and summary already say."""
    return [n for n in row.notes if n.code != "changed_after_best"]


# --- JSON -------------------------------------------------------------------------------------


def _note_dict(note: Note, lang: str) -> dict[str, Any]:
    return {"code": note.code, "message": message(note, lang), "params": json_safe(note.params)}


def _trend_dict(t: Trend) -> dict[str, Any]:
    return {
        "key": t.key,
        "points": t.points,
        "first": t.first,
        "last": t.last,
        "min": t.minimum,
        "max": t.maximum,
        "at_best": t.at_best,
        "change": t.change,
        "change_after_best": t.change_after_best,
    }


def run_dict(row: RunComparison, cmp: Comparison, lang: str = "en") -> dict[str, Any]:
    """One run of the JSON document."""
    d = row.degradation
    rec = row.recommended
    return json_safe(
        {
            "name": row.name,
            "status": row.status,
            "metric": row.metric,
            "key": row.key,
            "other_keys": list(row.other_keys),
            "higher_is_better": row.higher_is_better,
            "smoothing_window": row.window,
            "points": row.points,
            "first_step": row.first_step,
            "last_step": row.last_step,
            "best_step": d.best_step if d else None,
            "best_value": d.best_value if d else None,
            "degradation_step": d.onset_step if d else None,
            "degradation_value": d.onset_value if d else None,
            "worst_step": d.worst_step if d else None,
            "worst_value": d.worst_value if d else None,
            "final_step": d.final_step if d else None,
            "final_value": d.final_value if d else None,
            "drop_from_best": row.drop_from_best,
            "best_fraction": row.best_fraction,
            "recommended_checkpoint": None
            if rec is None
            else {
                "step": rec.step,
                "path": rec.path,
                "source": rec.source,
                "value": rec.value,
                "value_step": rec.value_step,
                "reason": message(rec.reason, lang),
                "reason_code": rec.reason.code,
            },
            "checkpoints": list(row.checkpoints),
            "trends": {t.metric: _trend_dict(t) for t in row.trends},
            "config": cmp.config.for_run(row.name) if row.name in cmp.config.with_config else None,
            "notes": [_note_dict(n, lang) for n in row.notes],
        }
    )


def comparison_document(cmp: Comparison, lang: str = "en") -> dict[str, Any]:
    """The ``--format json`` document of ``trainlens compare``."""
    lang = _check_lang(lang)
    return {
        "schema_version": SCHEMA_VERSION,
        "metric": cmp.metric,
        "higher_is_better": cmp.higher_is_better,
        "drop": cmp.drop,
        "steps_comparable": cmp.steps_comparable,
        "notes": [_note_dict(n, lang) for n in cmp.notes],
        "runs": [run_dict(r, cmp, lang) for r in cmp.rows],
        "config_differences": json_safe(
            {
                "keys": list(cmp.config.keys),
                "runs_with_config": list(cmp.config.with_config),
                "runs_without_config": list(cmp.config.without_config),
            }
        ),
    }


def render_json(cmp: Comparison, lang: str = "en") -> str:
    return json.dumps(comparison_document(cmp, lang), indent=2, ensure_ascii=False)


# --- Markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_context(cmp: Comparison, lang: str, chart: str | None) -> dict[str, Any]:
    """What ``templates/compare.md.j2`` lays out: every cell already phrased and escaped."""
    lang = _check_lang(lang)
    t = LABELS[lang]
    summary_head = _summary_head(cmp, lang)
    summary = [[_md_cell(c) for c in _summary_cells(r, cmp, lang)] for r in cmp.rows]
    recs = []
    for r in cmp.rows:
        if r.recommended is not None:
            recs.append(
                {
                    "run": r.name,
                    "target": _recommended_cell(r, lang),
                    "step": r.recommended.step,
                    "reason": message(r.recommended.reason, lang),
                }
            )
    metrics, trend_rows = _trend_rows(cmp)
    changes = [
        {
            "run": r.name,
            "items": [message(n, lang) for n in r.notes if n.code == "changed_after_best"],
        }
        for r in cmp.rows
    ]
    changes = [c for c in changes if c["items"]]
    config_runs, config_rows, hidden = _config_rows(cmp, MAX_CONFIG_ROWS)
    return {
        "t": t,
        "lang": lang,
        "metric": cmp.metric or t["none"],
        "heading": _heading(cmp, lang),
        "general_notes": [message(n, lang) for n in cmp.notes],
        "summary_head": summary_head,
        "summary": summary,
        "chart": chart,
        "recommendations": recs,
        "trend_head": [t["run"]] + [t.get(m, m) for m in metrics],
        "trends": [[_md_cell(c) for c in row] for row in trend_rows],
        "changes": changes,
        "any_trend": bool(metrics),
        "config_head": [t["config_key"]] + [_md_cell(n) for n in config_runs],
        "config": [[_md_cell(c) for c in row] for row in config_rows],
        "config_hidden": t["more"].format(n=hidden) if hidden else None,
        "config_available": bool(cmp.config.with_config),
        "without_config": list(cmp.config.without_config),
        "run_notes": [
            {"run": r.name, "items": [message(n, lang) for n in _run_notes(r)]} for r in cmp.rows
        ],
    }


def render_markdown(
    cmp: Comparison, lang: str = "en", chart: str | None = None, *, chart_missing: str = "stdout"
) -> str:
    """The Markdown report; ``chart`` is the chart's relative link. Without one, a comment says
    why: ``chart_missing="stdout"`` (written only with -o) or ``"no_data"`` (nothing to plot)."""
    import jinja2

    from trainlens.resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    context = markdown_context(cmp, lang, chart)
    if chart_missing == "no_data":
        context["t"] = {**context["t"], "chart_omitted": context["t"]["chart_no_data"]}
    text = env.get_template("compare.md.j2").render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --- chart ------------------------------------------------------------------------------------


def render_chart(cmp: Comparison, path: Path) -> bool:
    """Plot the score of every run on one chart (PNG, matplotlib Agg); False when no run has it.
    The x-axis is the fraction of each run when the runs' step scales differ."""
    rows = [r for r in cmp.rows if r.status == "ok" and len(r.steps)]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for i, r in enumerate(rows):
            color = f"C{i % 10}"
            steps = r.steps.astype(float)
            if not cmp.steps_comparable:
                lo, hi = float(steps[0]), float(steps[-1])
                steps = (steps - lo) / (hi - lo) if hi > lo else steps * 0 + 1.0

            def x_of(step: int, r: RunComparison = r) -> float:
                if cmp.steps_comparable:
                    return float(step)
                lo, hi = float(r.steps[0]), float(r.steps[-1])
                return (step - lo) / (hi - lo) if hi > lo else 1.0

            sparse = len(steps) <= 60
            if r.window > 1:
                ax.plot(steps, r.values, color=color, alpha=0.25, linewidth=0.8)
                ax.plot(steps, r.smoothed_values, color=color, linewidth=1.8, label=r.name)
            else:
                ax.plot(
                    steps,
                    r.values,
                    color=color,
                    linewidth=1.6,
                    marker="o" if sparse else None,
                    markersize=3,
                    label=r.name,
                )
            d = r.degradation
            if d is not None:
                ax.plot(
                    [x_of(d.best_step)],
                    [d.best_value],
                    marker="*",
                    markersize=13,
                    color=color,
                    markeredgecolor="black",
                    linestyle="none",
                )
                if d.onset_step is not None:
                    ax.axvline(
                        x_of(d.onset_step), color=color, linestyle="--", linewidth=1, alpha=0.7
                    )
            rec = r.recommended
            if rec is not None and rec.source == "checkpoint" and rec.value is not None:
                ax.plot(
                    [x_of(rec.step)],
                    [rec.value],
                    marker="o",
                    markersize=10,
                    markerfacecolor="none",
                    markeredgecolor=color,
                    markeredgewidth=1.5,
                    linestyle="none",
                )
        ax.set_xlabel("step" if cmp.steps_comparable else "fraction of run")
        ax.set_ylabel(rows[0].key if len({r.key for r in rows}) == 1 else str(cmp.metric))
        arrow = "lower is better" if not cmp.higher_is_better else "higher is better"
        ax.set_title(
            f"{cmp.metric} ({arrow}); * best, o recommended checkpoint, -- degradation onset",
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return True


# --- terminal ---------------------------------------------------------------------------------


def _table(head: list[str], rows: list[list[str]]) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False)
    for i, h in enumerate(head):
        table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def render_terminal(cmp: Comparison, console: Console, lang: str = "en") -> None:
    """Side-by-side tables: score summary, recommendations, trends, config differences, notes."""
    lang = _check_lang(lang)
    t = LABELS[lang]
    bold = "bold" if console.is_terminal else None
    colon = ": " if lang == "en" else "："
    console.print(f"{t['title']}{colon}{_heading(cmp, lang)}", style=bold)
    for n in cmp.notes:
        console.print(f"  {message(n, lang)}", soft_wrap=True)
    console.print()
    console.print(
        _table(_summary_head(cmp, lang), [_summary_cells(r, cmp, lang) for r in cmp.rows])
    )
    console.print()
    console.print(t["recommendations"], style=bold)
    for r in cmp.rows:
        if r.recommended is not None:
            console.print(
                f"  {r.name}: {_recommended_cell(r, lang)} — {message(r.recommended.reason, lang)}",
                soft_wrap=True,
            )
        else:
            console.print(f"  {r.name}: {_DASH} ({_status_cell(r, lang)})", soft_wrap=True)
    metrics, trend_rows = _trend_rows(cmp)
    if metrics:
        console.print()
        console.print(t["trends"], style=bold)
        console.print(_table([t["run"]] + [t.get(m, m) for m in metrics], trend_rows))
    changes = [
        (r.name, [message(n, lang) for n in r.notes if n.code == "changed_after_best"])
        for r in cmp.rows
    ]
    if any(items for _, items in changes):
        console.print()
        console.print(t["changes"], style=bold)
        for name, items in changes:
            for item in items:
                console.print(f"  {name}: {item}", soft_wrap=True)
    console.print()
    console.print(t["config"], style=bold)
    if not cmp.config.with_config:
        console.print(f"  {t['no_configs']}", soft_wrap=True)
    else:
        runs, rows, hidden = _config_rows(cmp, MAX_CONFIG_ROWS)
        if rows:
            console.print(_table([t["config_key"]] + runs, rows))
        else:
            console.print(f"  {t['config_same']}")
        if hidden:
            console.print(f"  {t['more'].format(n=hidden)}")
        if cmp.config.without_config:
            console.print(f"  {t['without_config']}: {', '.join(cmp.config.without_config)}")
    run_notes = [(r.name, _run_notes(r)) for r in cmp.rows]
    if any(found for _, found in run_notes):
        console.print()
        console.print(t["notes"], style=bold)
        for name, found in run_notes:
            for note in found:
                console.print(f"  {name}: {message(note, lang)}", soft_wrap=True)
