"""Turn the report's chart jobs into drawn PNGs: series from the run, finding windows shaded,
peaks and best points marked, labels in the report's language when a CJK font allows."""

from __future__ import annotations

from pathlib import Path

from trainlens.findings import Finding
from trainlens.render.charts import Mark, Panel, Window, cjk_font, metric_chart, overview_chart
from trainlens.report.fmt import num
from trainlens.report.model import ChartJob, Report
from trainlens.report.shape import direction, strength, stuck
from trainlens.report.text import Translator

LABELS = ("step", "window", "peak", "low", "best", "baseline")


def chart_language(lang: str) -> str:
    """The language chart labels are drawn in: Chinese only when a CJK font is installed."""
    return lang if lang != "zh" or cjk_font() else "en"


def _panel(job: ChartJob, metric: str, findings: tuple[Finding, ...]) -> Panel | None:
    run = job.run
    own = [f for f in findings if f.metric == metric]
    key = own[0].key if own and run.resolve(own[0].key) else metric
    arrays = run.arrays(key)
    if arrays is None:
        return None
    steps, values = arrays
    windows = tuple(Window(f.start_step, f.end_step) for f in own)
    marks: list[Mark] = []
    for f in sorted(own, key=lambda f: (f.best_step is None, -strength(f), f.start_step)):
        if f.peak_step is not None and f.peak_value is not None and not stuck(run, f):
            kind = "peak" if direction(run, f) == "up" else "low"
            marks.append(
                Mark(f.peak_step, float(f.peak_value), f"{num(f.peak_value)} @ {f.peak_step}", kind)
            )
        if f.best_step is not None and f.best_value is not None:
            marks.append(
                Mark(
                    f.best_step, float(f.best_value), f"{num(f.best_value)} @ {f.best_step}", "best"
                )
            )
    baselines = [f.baseline for f in own if f.baseline is not None]
    title = metric if key == metric else f"{metric} ({key})"
    return Panel(
        title=title,
        steps=steps,
        values=values,
        windows=windows,
        marks=tuple(dict.fromkeys(marks)),
        baseline=float(baselines[0]) if len(baselines) == 1 and not job.overview else None,
        restarts=tuple(r.step for r in run.meta.restarts),
    )


def draw_charts(report: Report, assets_dir: Path, *, lang: str) -> list[Path]:
    """Draw every chart job of ``report`` into ``assets_dir`` (the report's own folder: PNGs of
    an earlier version of the report that this one no longer links are removed); returns the
    written files."""
    chart_lang = chart_language(lang)
    t = Translator(chart_lang)
    labels = {name: t(f"chart.{name}") for name in LABELS}
    cjk = chart_lang == "zh"
    written = []
    for job in report.charts:
        panels = [p for m in job.metrics if (p := _panel(job, m, job.findings)) is not None]
        if not panels:
            continue
        path = assets_dir / job.name
        if job.overview:
            written.append(overview_chart(panels, path, labels, cjk=cjk))
        else:
            written.append(metric_chart(panels[0], path, labels, cjk=cjk))
    for stale in set(assets_dir.glob("*.png")) - set(written):  # charts of an earlier report
        stale.unlink()
    return written
