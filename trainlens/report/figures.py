"""Turn the report's chart jobs into drawn PNGs: series from the run, finding windows shaded,
peaks and best points marked, and what each finding compares drawn with it (a teacher score, the
train loss, a rolling baseline and the rule's limit); labels in the report's language when a CJK
font allows."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.engine.detectors import spike_baseline
from trainlens.findings import Finding
from trainlens.render.charts import (
    Level,
    Line,
    Mark,
    Panel,
    Window,
    cjk_font,
    metric_chart,
    metric_figure,
    overview_chart,
    overview_figure,
)
from trainlens.report.fmt import num
from trainlens.report.model import ChartJob, Report
from trainlens.report.shape import direction, strength, stuck
from trainlens.report.text import Translator
from trainlens.run import Run

LABELS = ("step", "window", "peak", "low", "best", "baseline", "gap", "zoom")
#: What a finding's chart compares it with, by detector: the metric drawn beside it, and
#: whether the gap between the two is shaded (a student score against its teacher).
COMPANIONS = {"diverging_scores": ("teacher_score", True), "overfit": ("loss", False)}
#: Detectors about an eval metric's best point: a vertical line marks the best step, and an
#: eval loss is drawn with the train loss.
BEST_DETECTORS = frozenset({"best_then_worse", "overfit"})
LOSS_METRICS = frozenset({"eval_loss"})

#: Detectors that compare a point with its rolling median (``sudden_spike`` wraps ``spike``).
SPIKE_DETECTORS = frozenset({"spike", "sudden_spike"})


def chart_language(lang: str) -> str:
    """The language chart labels are drawn in: Chinese only when a CJK font is available."""
    return lang if lang != "zh" or cjk_font() else "en"


def _series(run: Run, name: str, *, raw: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Finite ``(steps, values)`` of a metric (``raw``: of the raw key ``name`` itself), as the
    detectors see it (None when absent)."""
    arrays = run.key_arrays(name) if raw else run.arrays(name)
    if arrays is None:
        return None
    steps, values = arrays
    values = values.astype(np.float64, copy=False)
    ok = np.isfinite(values)
    return (steps[ok], values[ok]) if len(values) and ok.any() else None


def _comparison(
    job: ChartJob,
    metric: str,
    own: list[Finding],
    series: tuple[np.ndarray, np.ndarray],
    t: Translator,
) -> dict[str, Any]:
    """The lines, levels and marks that show what ``own`` findings compare: a companion metric
    (teacher score, train loss), a spike's rolling baseline with the rule's limit or threshold,
    a bound's limits, an eval metric's best step."""
    detectors = dict(job.detectors)
    lines: list[Line] = []
    levels: dict[float, Level] = {}
    gap = best_line = rolling = False
    for f in own:
        detector = detectors.get(f.rule, "")
        companion = COMPANIONS.get(detector)
        if detector == "best_then_worse" and metric in LOSS_METRICS:
            companion = ("loss", False)
        if companion and not any(line.label == companion[0] for line in lines):
            other = _series(job.run, companion[0])
            if other is not None and companion[0] != metric:
                lines.insert(0, Line(companion[0], *other))
                gap = gap or companion[1]
        best_line = best_line or detector in BEST_DETECTORS
        p = f.params
        if detector in SPIKE_DETECTORS and not rolling:
            rolling = True
            window, min_periods = int(p.get("window", 50)), int(p.get("min_periods", 5))
            base = spike_baseline(
                series[1], window=window, min_periods=min_periods, log=bool(p.get("log"))
            )
            lines.append(Line(t("chart.rolling", window=str(window)), series[0], base, "baseline"))
            factor = float(p.get("factor") or 0.0)
            if p.get("limit") is None and factor > 0:
                label = t("chart.threshold", factor=num(factor))
                lines.append(Line(label, series[0], factor * base, "limit"))
        if detector in SPIKE_DETECTORS and p.get("limit") is not None:
            value = float(p["limit"])
            levels.setdefault(value, Level(value, t("chart.limit", value=num(value))))
        if detector == "bound":
            scale = 0.01 if p.get("percent") and _fraction(series[1]) else 1.0
            for side in ("above", "below"):
                if p.get(side) is not None:
                    value = float(p[side]) * scale
                    label = t(f"chart.bound_{side}", value=num(value))
                    levels.setdefault(value, Level(value, label))
    return {
        "lines": tuple(lines),
        "levels": tuple(levels.values()),
        "gap": gap,
        "best_line": best_line,
        "rolling": rolling,
    }


def _fraction(values: np.ndarray) -> bool:
    """A share logged as a fraction (what ``as_percent`` would scale to percent)."""
    return len(values) > 0 and float(np.nanmax(np.abs(values))) <= 1.0


def _panel(
    job: ChartJob, metric: str, findings: tuple[Finding, ...], t: Translator | None = None
) -> Panel | None:
    run = job.run
    own = [f for f in findings if f.metric == metric]
    own_arrays = run.key_arrays(own[0].key) if own else None
    key = own[0].key if own_arrays is not None else metric
    arrays = own_arrays if own_arrays is not None else run.arrays(metric)
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
    extra: dict[str, Any] = {}
    finite = _series(run, key, raw=own_arrays is not None)
    if not job.overview and t is not None and finite is not None:
        extra = _comparison(job, metric, own, finite, t)
    rolling = extra.pop("rolling", False)  # a rolling baseline replaces the single level
    if own:  # windows and marks in order of strength: the zoom shows the most pronounced
        first = max(own, key=lambda f: (strength(f), -f.start_step))
        windows = (Window(first.start_step, first.end_step),) + tuple(
            w for w in windows if w != Window(first.start_step, first.end_step)
        )
    return Panel(
        title=title,
        steps=steps,
        values=values,
        windows=windows,
        marks=tuple(dict.fromkeys(marks)),
        baseline=float(baselines[0])
        if len(baselines) == 1 and not job.overview and not rolling
        else None,
        restarts=tuple(r.step for r in run.meta.restarts),
        label=metric if extra.get("lines") else "",
        **extra,
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


def chart_text(lang: str) -> tuple[Translator, dict[str, str], bool]:
    """The translator, fixed labels and CJK switch charts of a ``lang`` report are drawn with."""
    chart_lang = chart_language(lang)
    t = Translator(chart_lang)
    return t, {name: t(f"chart.{name}") for name in LABELS}, chart_lang == "zh"


def job_panels(job: ChartJob, t: Translator) -> list[Panel]:
    """The panels of one chart job (metrics the run lacks are left out)."""
    return [p for m in job.metrics if (p := _panel(job, m, job.findings, t)) is not None]


def job_figure(job: ChartJob, lang: str) -> Any:
    """The matplotlib Figure of one chart job, not saved (what :func:`draw_charts` writes);
    None when the run has none of its metrics."""
    t, labels, cjk = chart_text(lang)
    panels = job_panels(job, t)
    if not panels:
        return None
    if job.overview:
        return overview_figure(panels, labels, cjk=cjk)
    return metric_figure(panels[0], labels, cjk=cjk)


def _workers(tasks: int) -> int:
    return min(MAX_WORKERS, os.cpu_count() or 1, tasks // 2) if tasks >= PARALLEL_FROM else 1


def draw_charts(report: Report, assets_dir: Path, *, lang: str) -> list[Path]:
    """Draw every chart job of ``report`` into ``assets_dir`` and return the written files (in
    parallel processes when there are many: each chart is independent, matplotlib is not
    thread-safe). Charts an earlier report wrote there (listed in its :data:`MANIFEST`) that
    this one no longer links are removed; any other file in the folder is left alone."""
    t, labels, cjk = chart_text(lang)
    earlier = own_charts(assets_dir)
    tasks = []
    for job in report.charts:
        if panels := job_panels(job, t):
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
