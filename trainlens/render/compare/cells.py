"""Table cells and headings shared by the terminal and Markdown output of ``trainlens compare``."""

from __future__ import annotations

from trainlens.compare import CONFIG_CONCEPTS, TREND_METRICS, Comparison, Note, RunComparison, Trend
from trainlens.render.compare.formatting import DASH, change, num, pct, plain
from trainlens.render.compare.messages import fragment, labels

#: At most this many non-concept config keys in the terminal and Markdown tables.
MAX_CONFIG_ROWS = 20
#: At most this many keys that only some configs set (the most relevant ones).
MAX_PARTIAL_ROWS = 5


def shared_key(cmp: Comparison) -> str | None:
    """The raw key every run was compared on, when it is the same everywhere."""
    keys = {r.key for r in cmp.rows if r.status == "ok"}
    return keys.pop() if len(keys) == 1 else None


def compared(cmp: Comparison) -> bool:
    """False when there is no score metric to compare on: no score table, no checkpoints."""
    return cmp.metric is not None


def heading(cmp: Comparison, lang: str) -> str:
    """``eval_score (key eval_reward, higher is better)``; ``no shared score metric`` when the
    runs share none (``no score metric`` when no run logs one)."""
    t = labels(lang)
    if not compared(cmp):
        unshared = any(n.code == "metric_unshared" for n in cmp.notes)
        return t["no_shared_metric"] if unshared else t["no_metric"]
    direction = t["lower"] if not cmp.higher_is_better else t["higher"]
    key = shared_key(cmp)
    if key is not None and key != cmp.metric:
        return fragment("heading_key", lang, metric=cmp.metric, key=key, direction=direction)
    return fragment("heading", lang, metric=cmp.metric or t["none"], direction=direction)


def status_cell(row: RunComparison, lang: str) -> str:
    """Why a run has no score: ``no eval_score`` / ``no finite eval_score``."""
    t = labels(lang)
    key = "missing_status" if row.status == "missing" else "empty_status"
    return t[key].format(metric=row.metric or t["none"])


def summary_head(cmp: Comparison, lang: str) -> list[str]:
    t = labels(lang)
    head = [t["run"], t["best"], t["onset"], t["final"], t["drop"], t["best_at"], t["recommended"]]
    return head if shared_key(cmp) else head[:1] + [t["key"]] + head[1:]


def summary_cells(row: RunComparison, cmp: Comparison, lang: str) -> list[str]:
    """run, [key,] best (step), onset, final (step), drop, best at, recommended."""
    d = row.degradation
    if row.status != "ok" or d is None:
        cells = [row.name, status_cell(row, lang), DASH, DASH, DASH, DASH, DASH]
    else:
        t = labels(lang)
        best = f"{num(d.best_value)} @ {d.best_step}"
        final = f"{num(d.final_value)} @ {d.final_step}"
        if d.smoothed:
            best += f" ({t['smoothed_tag']})"
            final += f" ({t['smoothed_tag']})"
        onset = f"{d.onset_step} ({num(d.onset_value)})" if d.onset_step is not None else DASH
        drop = pct(row.drop_from_best)
        if row.drop_basis == "range" and row.drop_from_best is not None:
            drop = t["of_range"].format(pct=drop)
        cells = [
            row.name,
            best,
            onset,
            final,
            drop,
            pct(row.best_fraction),
            recommended_cell(row, lang),
        ]
    return cells if shared_key(cmp) else cells[:1] + [row.key or DASH] + cells[1:]


def recommended_cell(row: RunComparison, lang: str) -> str:
    """The checkpoint folder to keep, or the best step when there is none."""
    rec = row.recommended
    if rec is None:
        return DASH
    if rec.path is not None:
        return rec.path
    return labels(lang)["best_step_only"].format(step=rec.step)


def trend_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    """The trend metrics some run has, and one row of ``first → last (change)`` cells per run."""
    present = {t.metric for r in cmp.rows for t in r.trends}
    metrics = [m for m in TREND_METRICS if m in present]
    rows = []
    for r in cmp.rows:
        by = {t.metric: t for t in r.trends}
        rows.append([r.name] + [_trend_cell(by.get(m)) for m in metrics])
    return metrics, rows


def _trend_cell(trend: Trend | None) -> str:
    if trend is None:
        return DASH
    text = f"{num(trend.first)} → {num(trend.last)}"
    if trend.change is not None:
        text += f" ({change(trend.change)})"
    return text


def config_rows(
    cmp: Comparison, limit: int | None, partial_limit: int | None = MAX_PARTIAL_ROWS
) -> tuple[list[str], list[list[str]], int, int]:
    """(runs with a config, one row per key, how many differing keys beyond ``limit`` and how
    many keys only some configs set beyond ``partial_limit`` are left out). The known concepts
    come first and are never left out; then the keys all configs set to different values; then
    the most relevant keys only some configs set (— where a config does not set it)."""
    concepts = {c for c, _ in CONFIG_CONCEPTS}
    cfg = cmp.config
    keys = list(cfg.keys)
    shown = [k for k in keys if k in concepts]
    others = [k for k in keys if k not in concepts]
    partial = list(cfg.partial)
    hidden = hidden_partial = 0
    if limit is not None and len(others) > limit:
        hidden = len(others) - limit
        others = others[:limit]
    if partial_limit is not None and len(partial) > partial_limit:
        hidden_partial = len(partial) - partial_limit
        partial = partial[:partial_limit]
    rows = [
        [k] + [plain(cfg.values[n].get(k)) for n in cfg.with_config]
        for k in shown + others + partial
    ]
    return list(cfg.with_config), rows, hidden, hidden_partial


def changed_after_best(row: RunComparison) -> list[Note]:
    """The trends that moved after the best step of a degraded run."""
    return [n for n in row.notes if n.code == "changed_after_best"]


def run_notes(row: RunComparison) -> list[Note]:
    """A row's notes without the ones its recommendation, summary and the general notes already
    say."""
    return [n for n in row.notes if n.code not in ("changed_after_best", "not_compared")]


#: The notes that say why a run has no score.
REASON_CODES = ("not_compared", "metric_missing", "metric_empty")


def reason_note(row: RunComparison) -> Note | None:
    """Why ``row`` has no score (None when it has one)."""
    if row.status == "ok":
        return None
    return next((n for n in row.notes if n.code in REASON_CODES), None)
