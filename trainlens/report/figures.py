"""Turn the report's chart jobs into drawn PNGs: series from the run, finding windows shaded,
peaks and best points marked, labels in the report's language when a CJK font allows."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
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


#: The list of charts a report wrote into its assets folder, one file name a line: the next
#: report removes only those it no longer links, never a file it did not write.
MANIFEST = ".trainlens-charts"


def own_charts(assets_dir: Path) -> list[str]:
    """The chart file names the last report wrote into ``assets_dir`` (its manifest); plain
    file names only, so a manifest can never point outside the folder."""
    try:
        lines = (assets_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [n for n in lines if n and n == Path(n).name and n not in (".", "..")]


def _write_manifest(assets_dir: Path, names: list[str]) -> None:
    manifest = assets_dir / MANIFEST
    if names:
        manifest.write_text("".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")
    elif manifest.is_file():
        manifest.unlink()


#: Below this many charts they are drawn in this process (a worker pool costs more to start).
PARALLEL_FROM = 8
#: At most this many worker processes draw charts.
MAX_WORKERS = 8


def _draw_one(task: tuple[bool, list[Panel], Path, dict[str, str], bool]) -> Path:
    """Draw one chart (in a worker process or here): overview grid or single metric."""
    overview, panels, path, labels, cjk = task
    if overview:
        return overview_chart(panels, path, labels, cjk=cjk)
    return metric_chart(panels[0], path, labels, cjk=cjk)


def _workers(tasks: int) -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1, tasks // 2) if tasks >= PARALLEL_FROM else 1


def draw_charts(report: Report, assets_dir: Path, *, lang: str) -> list[Path]:
    """Draw every chart job of ``report`` into ``assets_dir`` and return the written files (in
    parallel processes when there are many: each chart is independent, matplotlib is not
    thread-safe). Charts an earlier report wrote there (listed in its :data:`MANIFEST`) that
    this one no longer links are removed; any other file in the folder is left alone."""
    chart_lang = chart_language(lang)
    t = Translator(chart_lang)
    labels = {name: t(f"chart.{name}") for name in LABELS}
    cjk = chart_lang == "zh"
    earlier = own_charts(assets_dir)
    tasks = []
    for job in report.charts:
        panels = [p for m in job.metrics if (p := _panel(job, m, job.findings)) is not None]
        if panels:
            tasks.append((job.overview, panels, assets_dir / job.name, labels, cjk))
    workers = _workers(len(tasks))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            written = list(pool.map(_draw_one, tasks, chunksize=4))
    else:
        written = [_draw_one(task) for task in tasks]
    names = {p.name for p in written}
    for stale in earlier:  # charts of an earlier report that this one does not link
        path = assets_dir / stale
        if stale not in names and path.is_file() and not path.is_symlink():
            path.unlink()
    _write_manifest(assets_dir, sorted(names))
    return written
