"""PNG charts for the Markdown report (matplotlib, Agg canvas, no display, no pyplot state).

One chart per metric with a finding and one overview grid per run. A metric's chart shows what
its finding compares: anomaly windows shaded, peaks and best points marked, the series it is
judged against (:class:`Line`: a teacher score, the train loss, a rolling baseline), the rule's
limits (:class:`Level`) and, for a short event on a long run, a second panel zoomed on it.
Chinese labels use an installed CJK font or the subset bundled in ``fonts/`` (registered with
``matplotlib.font_manager`` at chart time; nothing is downloaded); English labels only when
neither loads. PNGs carry no timestamp or software metadata, so the same data gives the same
bytes on one machine. ``metric_figure``/``overview_figure`` return the Figure (tests inspect
it); ``metric_chart``/``overview_chart`` write it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

MAX_POINTS = 5000  # longer series are downsampled for plotting, keeping each bucket's extremes
SIZE = (8.0, 3.0)  # inches
MAX_LABELS = 3  # value labels per chart (the other marks are drawn unlabelled)
MIN_WINDOW = 0.004  # a shaded window is at least this share of the x range on each side
DPI = 100
ZOOM_BELOW = 0.03  # events narrower than this share of the x range get a zoomed second panel
ZOOM_POINTS = 20  # logged points shown on each side of the event in the zoomed panel
ZOOM_MIN_POINTS = 100  # ... and only on runs with at least this many logged points
TITLE_SIZE = 10.0  # points
#: Fixed margins in inches (left: y tick labels, at most ~7 characters; top: the title; bottom:
#: x tick labels and the axis label; row gap: tick labels above, title below). Fixed instead of
#: ``tight_layout``, which measured every text again and took a third of the drawing time.
MARGINS = {"left": 0.62, "right": 0.15, "top": 0.32, "bottom": 0.45, "col": 0.62, "row": 0.62}
#: The CJK font shipped in the wheel (a subset of Noto Sans CJK SC, OFL; see fonts/README.md).
BUNDLED_FONT = Path(__file__).resolve().parent / "fonts" / "TrainlensCJKSC-Regular.otf"
_CJK_NAMES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "STHeiti",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Noto Serif CJK SC",
)
_PNG_METADATA = {"Software": None}
_MARKERS = {"peak": "v", "low": "^", "best": "*"}
_COLORS = {
    "line": "#1f77b4",
    "window": "#d62728",
    "peak": "#d62728",
    "low": "#d62728",
    "best": "#2ca02c",
    "baseline": "#7f7f7f",
    "restart": "#9467bd",
    "limit": "#ff7f0e",
    "companion": "#8c564b",
    "gap": "#bcbd22",
}
_LINE_STYLES = {  # Line.kind -> (linestyle, linewidth, alpha)
    "companion": ("-", 1.0, 0.85),
    "baseline": ("--", 1.0, 0.9),
    "limit": (":", 1.1, 0.9),
}


@dataclass(frozen=True)
class Window:
    start: int
    end: int


@dataclass(frozen=True)
class Mark:
    step: int
    value: float
    label: str
    kind: str = "peak"  # "peak" | "low" | "best"


@dataclass(frozen=True)
class Line:
    """Another series drawn with the metric: what the finding compares it with. ``kind``:
    ``companion`` (another metric: the teacher score, the train loss), ``baseline`` (the rolling
    baseline a spike is judged against), ``limit`` (a threshold that moves with the baseline)."""

    label: str
    steps: np.ndarray
    values: np.ndarray
    kind: str = "companion"


@dataclass(frozen=True)
class Level:
    """A horizontal line at a rule's fixed limit, labelled with its value."""

    value: float
    label: str


@dataclass(frozen=True)
class Panel:
    """One metric's plot: the series plus what to highlight and compare it with. ``label`` names
    the series in the legend when other lines are drawn; ``gap`` shades the space between the
    series and its first companion line (student vs teacher); ``zoom`` is the step range of the
    zoomed second panel (None: the chart decides from the windows, see :func:`zoom_range`)."""

    title: str
    steps: np.ndarray
    values: np.ndarray
    ylabel: str = ""
    windows: tuple[Window, ...] = ()
    marks: tuple[Mark, ...] = ()
    baseline: float | None = None
    restarts: tuple[int, ...] = field(default_factory=tuple)
    label: str = ""
    lines: tuple[Line, ...] = ()
    levels: tuple[Level, ...] = ()
    gap: bool = False
    best_line: bool = False  # a vertical line at the best step (eval metrics)


@cache
def cjk_font() -> str | None:
    """The family name of a font that draws Chinese: an installed one, else the bundled subset
    (registered with matplotlib here), else None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for wanted in _CJK_NAMES:
        if wanted in names:
            return wanted
    for entry in font_manager.fontManager.ttflist:  # any other font covering common hanzi
        hinted = any(w in entry.name for w in ("CJK", "Hei", "Song", "Ming", "Kai", "Han Sans"))
        if hinted and _covers(entry.fname, "训练步"):
            return entry.name
    return bundled_font()


def bundled_font(path: Path = BUNDLED_FONT) -> str | None:
    """Register the font file shipped with trainlens and return its family name (None when the
    file is missing or unreadable)."""
    from matplotlib import font_manager

    if not path.is_file() or not _covers(str(path), "训练步"):
        return None
    try:
        font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
    except (OSError, RuntimeError, ValueError):
        return None


def _covers(path: str, text: str) -> bool:
    try:
        from matplotlib.ft2font import FT2Font

        charmap = FT2Font(path).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(c) in charmap for c in text)


def downsample(
    steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` points: per bucket the first, min and max (in step order),
    so spikes and collapses stay visible. Non-finite values are dropped."""
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    n = len(steps)
    if n <= max_points:
        return steps, values
    buckets = max_points // 3
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    for lo, hi in pairwise(edges):
        if hi <= lo:
            continue
        part = values[lo:hi]
        keep.extend(sorted({lo, lo + int(np.argmin(part)), lo + int(np.argmax(part))}))
    keep.append(n - 1)
    idx = np.unique(np.array(keep))
    return steps[idx], values[idx]


def _use_log(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    if len(finite) < 3 or (finite <= 0).any():
        return False
    median = float(np.median(finite))
    return median > 0 and float(finite.max()) / median > 100


def _tick(value: float, _pos: int | None = None) -> str:
    return f"{value:.4g}".replace("e-0", "e-").replace("e+0", "e")


def zoom_range(panel: Panel) -> tuple[float, float] | None:
    """The step range of the zoomed second panel: around the first window (the most pronounced
    finding) when every window is narrower than :data:`ZOOM_BELOW` of a run of at least
    :data:`ZOOM_MIN_POINTS` logged points, so a 5-step spike on a 6000-step axis is not a
    hairline; None otherwise."""
    steps = np.asarray(panel.steps)
    if not panel.windows or len(steps) < ZOOM_MIN_POINTS:
        return None
    span = float(steps[-1] - steps[0])
    if span <= 0 or any((w.end - w.start) / span >= ZOOM_BELOW for w in panel.windows):
        return None
    first = panel.windows[0]
    interval = float(np.median(np.diff(steps)))
    pad = ZOOM_POINTS * interval
    return (max(float(steps[0]), first.start - pad), min(float(steps[-1]), first.end + pad))


def _clip(steps: np.ndarray, values: np.ndarray, lo: float, hi: float) -> tuple[Any, Any]:
    keep = (steps >= lo) & (steps <= hi)
    return steps[keep], values[keep]


def _zoomed(panel: Panel, lo: float, hi: float) -> Panel:
    """The panel cut to steps ``lo``..``hi`` (its lines, windows and marks too)."""
    steps, values = _clip(np.asarray(panel.steps), np.asarray(panel.values, dtype=float), lo, hi)
    lines = tuple(
        Line(line.label, *_clip(np.asarray(line.steps), np.asarray(line.values), lo, hi), line.kind)
        for line in panel.lines
    )
    return Panel(
        title=panel.title,
        steps=steps,
        values=values,
        ylabel=panel.ylabel,
        windows=tuple(w for w in panel.windows if w.end >= lo and w.start <= hi),
        marks=tuple(m for m in panel.marks if lo <= m.step <= hi),
        baseline=panel.baseline,
        restarts=tuple(r for r in panel.restarts if lo <= r <= hi),
        label=panel.label,
        lines=lines,
        levels=panel.levels,
        gap=panel.gap,
        best_line=panel.best_line,
    )


def _text_width(text: str, fontsize: float) -> float:
    """Width in inches of ``text`` in the current font (font metrics only: no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    width, _, _ = text_to_path.get_text_width_height_descent(
        text, FontProperties(size=fontsize), ismath=False
    )
    return width / 72.0


def _title(text: str, width: float, fontsize: float = TITLE_SIZE) -> str:
    """A title that fits ``width`` inches: a long raw key is shortened in the middle ("…")."""
    if _text_width(text, fontsize) <= width:
        return text
    keep = len(text) - 1
    while keep > 8:
        short = text[: keep - keep // 3] + "…" + text[len(text) - keep // 3 :]
        if _text_width(short, fontsize) <= width:
            return short
        keep -= 2
    return text[:8] + "…"


def _draw(
    ax,
    panel: Panel,
    labels: dict[str, str],
    *,
    legend: bool,
    max_labels: int,
    width: float,
) -> None:
    """Draw ``panel`` on ``ax`` (axes ``width`` inches wide: its title is fitted to it)."""
    steps, values = downsample(np.asarray(panel.steps), np.asarray(panel.values, dtype=float))
    ax.plot(
        steps,
        values,
        color=_COLORS["line"],
        linewidth=1.2,
        marker="o" if len(steps) <= 40 else None,
        markersize=3,
        label=panel.label or None,
        zorder=3,
    )
    shown = [values]
    for i, line in enumerate(panel.lines):
        ls, lw, alpha = _LINE_STYLES[line.kind]
        lx, ly = downsample(np.asarray(line.steps), np.asarray(line.values, dtype=float))
        if not len(lx):
            continue
        ax.plot(
            lx,
            ly,
            color=_COLORS[line.kind],
            linestyle=ls,
            linewidth=lw,
            alpha=alpha,
            label=line.label,
            zorder=2,
        )
        shown.append(ly)
        if i == 0 and panel.gap and len(steps):
            inside = (steps >= lx[0]) & (steps <= lx[-1])
            other = np.interp(steps[inside], lx, ly)
            ax.fill_between(
                steps[inside],
                values[inside],
                other,
                color=_COLORS["gap"],
                alpha=0.25,
                linewidth=0,
                label=labels["gap"],
            )
    for level in panel.levels:
        if np.isfinite(level.value):
            ax.axhline(
                level.value,
                color=_COLORS["limit"],
                linestyle="-.",
                linewidth=1.0,
                label=level.label,
            )
    gaps = np.diff(steps)
    span = float(steps[-1] - steps[0]) if len(steps) > 1 else 1.0
    # half a logging interval, and wide enough to see on a long run
    pad = max(float(np.median(gaps)) / 2 if len(gaps) else 0.5, MIN_WINDOW * span, 0.5)
    for i, w in enumerate(panel.windows):
        ax.axvspan(
            w.start - pad,
            w.end + pad,
            color=_COLORS["window"],
            alpha=0.15,
            linewidth=0,
            label=labels["window"] if i == 0 else None,
        )
    if panel.baseline is not None and np.isfinite(panel.baseline):
        ax.axhline(
            panel.baseline,
            color=_COLORS["baseline"],
            linestyle="--",
            linewidth=0.9,
            label=labels["baseline"],
        )
    for step in panel.restarts:
        ax.axvline(step, color=_COLORS["restart"], linestyle=":", linewidth=0.9)
    seen: set[str] = set()
    lo_x, hi_x = (float(steps[0]), float(steps[-1])) if len(steps) else (0.0, 1.0)
    for i, mark in enumerate(panel.marks):
        if not np.isfinite(mark.value):
            continue
        color = _COLORS[mark.kind]
        if mark.kind == "best" and panel.best_line:
            ax.axvline(mark.step, color=color, linestyle=":", linewidth=1.0, zorder=1)
        ax.plot(
            [mark.step],
            [mark.value],
            marker=_MARKERS[mark.kind],
            color=color,
            markersize=9,
            linestyle="none",
            label=labels[mark.kind] if mark.kind not in seen else None,
            zorder=4,
        )
        seen.add(mark.kind)
        if i >= max_labels:
            continue  # marks come most pronounced first: label only those
        right = hi_x > lo_x and (mark.step - lo_x) / (hi_x - lo_x) > 0.8
        ax.annotate(
            mark.label,
            (mark.step, mark.value),
            textcoords="offset points",
            xytext=(-6 if right else 6, 6),
            ha="right" if right else "left",
            fontsize=8,
            color=color,
            annotation_clip=True,
        )
    if _use_log(np.concatenate(shown)):
        ax.set_yscale("log")
    else:  # each tick label complete: no "1e-5" multiplier above the axis, under the title
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
    ax.margins(x=0.02, y=0.18)  # head room for the annotations
    ax.set_title(_title(panel.title, width), fontsize=TITLE_SIZE, loc="left")
    ax.set_ylabel(panel.ylabel, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    extras = panel.windows or panel.marks or panel.lines or panel.levels
    if legend and (extras or panel.baseline is not None):
        ax.legend(fontsize=7, loc="best", frameon=False, ncol=2 if len(panel.lines) > 1 else 1)


def _rc(cjk: bool) -> Any:  # matplotlib types rc keys as a Literal union
    rc: dict[str, Any] = {"svg.hashsalt": "trainlens", "axes.unicode_minus": not cjk}
    if cjk and (font := cjk_font()):
        rc["font.family"] = [font, "DejaVu Sans"]
    return rc


def _new_figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _grid(
    size: tuple[float, float], rows: int, ratios: tuple[float, ...]
) -> tuple[dict[str, float], list[float]]:
    """``gridspec_kw`` placing ``rows`` x ``len(ratios)`` panels with :data:`MARGINS` (inches),
    and the width of each column's axes in inches."""
    width, height = size
    m = MARGINS
    cols = len(ratios)
    room = width - m["left"] - m["right"] - (cols - 1) * m["col"]
    widths = [room * r / sum(ratios) for r in ratios]
    axes_h = (height - m["top"] - m["bottom"] - (rows - 1) * m["row"]) / rows
    grid = {
        "left": m["left"] / width,
        "right": 1 - m["right"] / width,
        "top": 1 - m["top"] / height,
        "bottom": m["bottom"] / height,
        "wspace": m["col"] / (room / cols),
        "hspace": m["row"] / axes_h,
    }
    return grid, widths


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=_PNG_METADATA)


def metric_figure(panel: Panel, labels: dict[str, str], *, cjk: bool = False) -> Any:
    """One metric's Figure (``SIZE`` inches): the whole run, plus a zoomed panel on the right
    when the event is short against the run (:func:`zoom_range`); with ``cjk``, its text in the
    CJK font (save it within :func:`chart_rc` too, as :func:`metric_chart` does)."""
    with chart_rc(cjk):
        return _metric_figure(panel, labels)


def _metric_figure(panel: Panel, labels: dict[str, str]) -> Any:
    fig = _new_figure(SIZE)
    zoom = zoom_range(panel)
    if zoom is None:
        grid, (width,) = _grid(SIZE, 1, (1.0,))
        ax = fig.subplots(gridspec_kw=grid)
        _draw(ax, panel, labels, legend=True, max_labels=MAX_LABELS, width=width)
        ax.set_xlabel(labels["step"], fontsize=8)
        return fig
    ratios = (2.3, 1.0)
    grid, (main_width, zoom_width) = _grid(SIZE, 1, ratios)
    ax, zax = fig.subplots(1, 2, width_ratios=ratios, gridspec_kw=grid)
    _draw(ax, panel, labels, legend=True, max_labels=MAX_LABELS, width=main_width)
    lo, hi = zoom
    ax.axvspan(lo, hi, facecolor="none", edgecolor=_COLORS["baseline"], linewidth=0.8, zorder=1)
    _draw(zax, _zoomed(panel, lo, hi), labels, legend=False, max_labels=1, width=zoom_width)
    zoom_title = labels["zoom"].format(start=f"{lo:g}", end=f"{hi:g}")
    zax.set_title(_title(zoom_title, zoom_width, 9.0), fontsize=9, loc="left")
    for a in (ax, zax):
        a.set_xlabel(labels["step"], fontsize=8)
    return fig


def overview_figure(panels: Sequence[Panel], labels: dict[str, str], *, cjk: bool = False) -> Any:
    """A grid of small panels (two per row), titles shortened to fit their column."""
    with chart_rc(cjk):
        return _overview_figure(panels, labels)


def _overview_figure(panels: Sequence[Panel], labels: dict[str, str]) -> Any:
    rows = (len(panels) + 1) // 2
    size = (SIZE[0], 2.2 * rows)
    fig = _new_figure(size)
    grid, (width, _) = _grid(size, rows, (1.0, 1.0))
    axes = fig.subplots(rows, 2, squeeze=False, gridspec_kw=grid)
    for ax, panel in zip(axes.flat, panels):
        _draw(ax, panel, labels, legend=False, max_labels=1, width=width)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(labels["step"], fontsize=8)
    return fig


def chart_rc(cjk: bool) -> Any:
    """The matplotlib settings charts are drawn with (the CJK font when ``cjk``)."""
    from matplotlib import rc_context

    return rc_context(_rc(cjk))


def metric_chart(panel: Panel, path: Path, labels: dict[str, str], *, cjk: bool = False) -> Path:
    """Write one metric's chart (``SIZE`` inches at ``DPI``) to ``path``."""
    with chart_rc(cjk):
        _save(metric_figure(panel, labels, cjk=cjk), path)
    return path


def overview_chart(
    panels: Sequence[Panel], path: Path, labels: dict[str, str], *, cjk: bool = False
) -> Path:
    """Write a grid of small panels (two per row) to ``path``."""
    with chart_rc(cjk):
        _save(overview_figure(panels, labels, cjk=cjk), path)
    return path
