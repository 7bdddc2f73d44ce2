"""The Markdown report of ``trainlens compare``: ``templates/compare.md.j2`` laid out from a
context in which every cell is already phrased (en / zh) and escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from trainlens.compare import Comparison, Note
from trainlens.render.compare.cells import (
    MAX_CONFIG_ROWS,
    changed_after_best,
    compared,
    config_rows,
    heading,
    recommended_cell,
    run_notes,
    summary_cells,
    summary_head,
    trend_rows,
)
from trainlens.render.compare.messages import check_lang, labels, message, trend_label
from trainlens.render.md_escape import md_escape_value, md_text


def render_markdown(
    cmp: Comparison, lang: str = "en", chart: str | None = None, *, chart_missing: str = "stdout"
) -> str:
    """The Markdown report; ``chart`` is the chart's relative link. Without one, a comment says
    why: ``chart_missing="stdout"`` (written only with -o) or ``"no_data"`` (nothing to plot)."""
    import jinja2

    from trainlens.render.templating import render_template, sandboxed_environment
    from trainlens.resources import templates_dir

    env = sandboxed_environment(jinja2.FileSystemLoader(str(templates_dir())))
    context = markdown_context(cmp, lang, chart)
    if chart_missing == "no_data":
        context["t"] = {**context["t"], "chart_omitted": context["t"]["chart_no_data"]}
    text = render_template(env, "compare.md.j2", context, user=False)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def markdown_context(cmp: Comparison, lang: str, chart: str | None) -> dict[str, Any]:
    """What ``templates/compare.md.j2`` lays out: every cell already phrased and escaped (run
    names, keys, config values and paths through :mod:`trainlens.render.md_escape`)."""
    lang = check_lang(lang)
    t = labels(lang)
    summary = [[md_text(c) for c in summary_cells(r, cmp, lang)] for r in cmp.rows]
    recs = []
    for r in cmp.rows:
        if r.recommended is not None:
            recs.append(
                {
                    "run": md_text(r.name),
                    "target": recommended_cell(r, lang),  # a code span: escaped by the template
                    "step": r.recommended.step,
                    "reason": _message(r.recommended.reason, lang),
                }
            )
    metrics, trends = trend_rows(cmp)
    changes = [
        {"run": md_text(r.name), "items": [_message(n, lang) for n in changed_after_best(r)]}
        for r in cmp.rows
    ]
    changes = [c for c in changes if c["items"]]
    config_runs, config, hidden, hidden_partial = config_rows(cmp, MAX_CONFIG_ROWS)
    return {
        "t": t,
        "lang": lang,
        "metric": md_text(cmp.metric) if compared(cmp) else heading(cmp, lang),
        "compared": compared(cmp),
        "heading": md_text(heading(cmp, lang)),
        "general_notes": [_message(n, lang) for n in cmp.notes],
        "summary_head": summary_head(cmp, lang),
        "summary": summary,
        "chart": chart,
        "recommendations": recs,
        "trend_head": [t["run"]] + [md_text(trend_label(m, lang)) for m in metrics],
        "trends": [[md_text(c) for c in row] for row in trends],
        "changes": changes,
        "any_trend": bool(metrics),
        "config_head": [t["config_key"]] + [md_text(n) for n in config_runs],
        "config": [[md_text(c) for c in row] for row in config],
        "config_hidden": t["more"].format(n=hidden) if hidden else None,
        "config_hidden_partial": (
            t["more_partial"].format(n=hidden_partial) if hidden_partial else None
        ),
        "config_available": bool(cmp.config.with_config),
        "without_config": [md_text(n) for n in cmp.config.without_config],
        "run_notes": [
            {"run": md_text(r.name), "items": [_message(n, lang) for n in run_notes(r)]}
            for r in cmp.rows
        ],
    }


def _message(note: Note, lang: str) -> str:
    """A note's sentence with every text parameter (run names, keys, paths) escaped."""
    return message(replace(note, params=md_escape_value(note.params)), lang)
