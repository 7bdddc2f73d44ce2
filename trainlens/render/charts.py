"""PNG charts for the Markdown report (matplotlib, Agg canvas, no display, no pyplot state).

One chart per metric with a finding (anomaly windows shaded, peaks and best points marked) and
one overview grid per run. Chinese labels are used only when a CJK font is installed (found via
``matplotlib.font_manager``; nothing is downloaded), English labels otherwise. PNGs carry no
timestamp or software metadata, so the same data gives the same bytes on one machine."""

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
class Panel:
    """One metric's plot: the series plus what to highlight on it."""

    title: str
    steps: np.ndarray
    values: np.ndarray
    ylabel: str = ""
    windows: tuple[Window, ...] = ()
    marks: tuple[Mark, ...] = ()
    baseline: float | None = None
    restarts: tuple[int, ...] = field(default_factory=tuple)


@cache
def cjk_font() -> str | None:
    """The family name of an installed font that draws Chinese, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for wanted in _CJK_NAMES:
        if wanted in names:
            return wanted
    for entry in font_manager.fontManager.ttflist:  # any other font covering common hanzi
        hinted = any(w in entry.name for w in ("CJK", "Hei", "Song", "Ming", "Kai", "Han Sans"))
        if hinted and _covers(entry.fname, "训练步"):
            return entry.name
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


def _draw(ax, panel: Panel, labels: dict[str, str], *, legend: bool, max_labels: int) -> None:
    steps, values = downsample(np.asarray(panel.steps), np.asarray(panel.values, dtype=float))
    ax.plot(
        steps,
        values,
        color=_COLORS["line"],
        linewidth=1.2,
        marker="o" if len(steps) <= 40 else None,
        markersize=3,
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
        ax.plot(
            [mark.step],
            [mark.value],
            marker=_MARKERS[mark.kind],
            color=color,
            markersize=9,
            linestyle="none",
            label=labels[mark.kind] if mark.kind not in seen else None,
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
        )
    if _use_log(values):
        ax.set_yscale("log")
    else:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useOffset=False)
    ax.margins(x=0.02, y=0.18)  # head room for the annotations
    ax.set_title(panel.title, fontsize=10, loc="left")
    ax.set_ylabel(panel.ylabel, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    if legend and (panel.windows or panel.marks or panel.baseline is not None):
        ax.legend(fontsize=7, loc="best", frameon=False)


def _rc(cjk: bool) -> Any:  # matplotlib types rc keys as a Literal union
    rc: dict[str, Any] = {"svg.hashsalt": "trainlens", "axes.unicode_minus": not cjk}
    if cjk and (font := cjk_font()):
        rc["font.family"] = [font, "DejaVu Sans"]
    return rc


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=_PNG_METADATA)


def metric_chart(panel: Panel, path: Path, labels: dict[str, str], *, cjk: bool = False) -> Path:
    """Write one metric's chart (``SIZE`` inches at ``DPI``) to ``path``."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_rc(cjk)):
        fig = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        _draw(ax, panel, labels, legend=True, max_labels=MAX_LABELS)
        ax.set_xlabel(labels["step"], fontsize=8)
        fig.tight_layout()
        _save(fig, path)
    return path


def overview_chart(
    panels: Sequence[Panel], path: Path, labels: dict[str, str], *, cjk: bool = False
) -> Path:
    """Write a grid of small panels (two per row) to ``path``."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = (len(panels) + 1) // 2
    with rc_context(_rc(cjk)):
        fig = Figure(figsize=(SIZE[0], 2.2 * rows), dpi=DPI)
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, 2, squeeze=False)
        for ax, panel in zip(axes.flat, panels):
            _draw(ax, panel, labels, legend=False, max_labels=1)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel(labels["step"], fontsize=8)
        fig.tight_layout()
        _save(fig, path)
    return path
