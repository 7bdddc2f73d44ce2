"""Charts: valid, deterministic PNGs, downsampled with extremes kept, CJK only with a font;
each finding's chart shows what it compares (inspected on the matplotlib Figure)."""

from __future__ import annotations

import warnings
from functools import cache
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from trainlens.analysis import analyze
from trainlens.engine.detectors import spike_baseline
from trainlens.render import charts
from trainlens.render.charts import (
    Mark,
    Panel,
    Window,
    downsample,
    metric_chart,
    metric_figure,
    overview_chart,
    overview_figure,
)
from trainlens.report import figures
from trainlens.report.model import build_report

ROOT = Path(__file__).resolve().parents[2]

PNG = b"\x89PNG\r\n\x1a\n"
LABELS = {
    "step": "step",
    "window": "anomaly window",
    "peak": "peak",
    "low": "lowest",
    "best": "best",
    "baseline": "baseline",
    "gap": "gap",
    "zoom": "steps {start}–{end}",
}


def panel(n: int = 300) -> Panel:
    steps = np.arange(n)
    values = np.sin(steps / 10.0)
    values[min(150, n - 1)] = 20.0
    return Panel(
        "kl",
        steps,
        values,
        windows=(Window(140, 160),),
        marks=(Mark(150, 20.0, "20 @ 150"),),
        baseline=0.1,
        restarts=(200,),
    )


def test_downsample_keeps_extremes_and_bounds_size():
    steps = np.arange(1_000_000)
    values = np.random.default_rng(0).normal(size=len(steps))
    values[123_457] = 50.0
    values[876_543] = -50.0
    values[10] = np.nan
    s, v = downsample(steps, values)
    assert len(s) <= charts.MAX_POINTS + 2
    assert 50.0 in v and -50.0 in v and np.isfinite(v).all()
    assert (np.diff(s) > 0).all()


def test_metric_chart_is_a_deterministic_png(tmp_path):
    a = metric_chart(panel(), tmp_path / "a.png", LABELS)
    b = metric_chart(panel(), tmp_path / "b.png", LABELS)
    data = a.read_bytes()
    assert data.startswith(PNG)
    assert data == b.read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (800, 300)


def test_overview_grid(tmp_path):
    out = overview_chart([panel(), panel(50), panel(10)], tmp_path / "o.png", LABELS)
    assert out.read_bytes().startswith(PNG)


def test_chinese_labels_need_a_cjk_font(monkeypatch):
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    assert figures.chart_language("zh") == "en"
    monkeypatch.setattr(figures, "cjk_font", lambda: "Noto Sans CJK SC")
    assert figures.chart_language("zh") == "zh"
    assert figures.chart_language("en") == "en"


def test_cjk_font_detection_finds_only_real_fonts():
    font = charts.cjk_font()
    assert font is not None  # the bundled subset at least
    from matplotlib import font_manager

    assert font in {f.name for f in font_manager.fontManager.ttflist}


# --- what each finding's chart compares, on the examples' own findings -------------------


@cache
def _jobs(example: str) -> dict[str, object]:
    result = analyze(ROOT / "examples" / example)
    report = build_report(result, charts=True, date="2026-01-01")
    return {job.name: job for job in report.charts}


def _figure(example: str, chart: str, lang: str = "en"):
    fig = figures.job_figure(_jobs(example)[chart], lang)
    assert fig is not None
    fig.canvas.draw()
    return fig


def _labels(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def _line(ax, label: str):
    found = [line for line in ax.get_lines() if line.get_label() == label]
    assert found, f"no line {label!r} in {_labels(ax)}"
    return found[0]


def test_student_score_chart_shows_the_teacher_and_the_gap():
    fig = _figure("critic_warmup", "student_score.png")
    ax = fig.axes[0]
    assert {"student_score", "teacher_score"} <= set(_labels(ax))
    teacher = _line(ax, "teacher_score").get_ydata()
    assert 2.4 < float(np.median(teacher)) < 2.8  # the teacher's level, not the student's
    gaps = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_label() == "gap"]
    assert gaps, "the student-teacher gap is not shaded"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"student_score", "teacher_score", "gap"} <= set(legend)


def test_eval_loss_chart_shows_the_train_loss_and_the_best_step():
    fig = _figure("sft_overfit", "eval_loss.png")
    ax = fig.axes[0]
    assert {"eval_loss", "loss"} <= set(_labels(ax))
    assert len(_line(ax, "loss").get_xdata()) > len(_line(ax, "eval_loss").get_xdata())
    best = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [600, 600]]
    assert best, "no vertical line at the best step (600)"


def test_eval_score_chart_marks_its_best_step():
    fig = _figure("degrading_runs", "qwen3_8b-eval_score.png")
    ax = fig.axes[0]
    assert "best" in _labels(ax)
    assert any(list(ln.get_xdata()) == [115, 115] for ln in ax.get_lines())
    assert "loss" not in _labels(ax)  # a score is not drawn with the train loss


def test_spike_chart_shows_the_rolling_baseline_and_the_limit():
    job = _jobs("grpo_kl_episodes")["kl.png"]
    fig = _figure("grpo_kl_episodes", "kl.png")
    ax = fig.axes[0]
    rolling = _line(ax, "rolling median (50 points before)")
    limit = _line(ax, "limit 10")
    assert set(limit.get_ydata()) == {10.0}
    spike = next(f for f in job.findings if f.rule == "kl_spike" and f.start_step == 2800)
    at = list(rolling.get_xdata()).index(2800)
    assert rolling.get_ydata()[at] == pytest.approx(spike.baseline)  # the detector's baseline


def test_spike_chart_without_a_limit_shows_the_rule_threshold():
    job = _jobs("critic_warmup")["grad_norm.png"]
    fig = _figure("critic_warmup", "grad_norm.png")
    ax = fig.axes[0]
    base = _line(ax, "rolling median (50 points before)").get_ydata()
    threshold = _line(ax, "10× rolling median").get_ydata()
    np.testing.assert_allclose(threshold, 10 * base)
    (spike,) = [f for f in job.findings if f.rule == "grad_explosion"]
    assert spike.peak_value > 10 * spike.baseline
    assert not any(ln.get_label().startswith("limit") for ln in ax.get_lines())


def test_bound_chart_shows_the_rule_bound():
    fig = _figure("critic_warmup", "hard_sample_ratio.png")
    assert set(_line(fig.axes[0], "lower bound 5").get_ydata()) == {5.0}


def test_short_event_on_a_long_run_gets_a_zoomed_panel():
    fig = _figure("grpo_kl_episodes", "kl.png")
    assert len(fig.axes) == 2
    lo, hi = fig.axes[1].get_xlim()
    assert lo < 2800 < hi and hi - lo < 0.1 * 6000  # around the strongest spike, not the run
    assert len(_figure("critic_warmup", "grad_norm.png").axes) == 1  # 60 steps: no zoom


def test_zoom_range_needs_a_short_event_and_a_long_run():
    steps = np.arange(0, 6000, 5)
    long = Panel("kl", steps, np.zeros(len(steps)), windows=(Window(2800, 2805),))
    assert charts.zoom_range(long) == (2700.0, 2905.0)
    wide = Panel("kl", steps, np.zeros(len(steps)), windows=(Window(1000, 4000),))
    assert charts.zoom_range(wide) is None
    assert charts.zoom_range(panel()) is None  # 300 points, a 20-step window: 7% of the run


def test_spike_baseline_is_the_detector_rolling_median():
    values = np.r_[np.ones(10), 100.0, np.ones(5)]
    base = spike_baseline(values, window=5, min_periods=3, log=True)
    assert np.isnan(base[:3]).all() and base[10] == pytest.approx(1.0)


# --- layout: no overlapping titles --------------------------------------------------------


def _titles(fig) -> list[Text]:
    """Every axes' title texts (the charts use the left-aligned one: matplotlib keeps it as
    ``_left_title``)."""
    return [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]


def _assert_titles_clear(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [t for t in _titles(fig) if t.get_text() and t.axes.get_visible()]
    assert titles
    boxes = [t.get_window_extent(renderer) for t in titles]
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b), "two titles overlap"
    others = [
        t
        for t in fig.findobj(Text)
        if t not in titles and t.get_visible() and t.get_text().strip() and t.axes is not None
    ]
    for text in others:  # fixed margins: no tick label is cut at the figure's edge
        box = text.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1, f"{text.get_text()!r} is cut off"
        assert box.x1 <= fig.bbox.x1 + 1 and box.y1 <= fig.bbox.y1 + 1, text.get_text()
    for title, box in zip(titles, boxes):
        assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, f"{title.get_text()!r} leaves the figure"
        for other_text in others:  # tick labels, a "1e-5" multiplier, a peak's label
            assert not box.overlaps(other_text.get_window_extent(renderer)), (
                f"title {title.get_text()!r} overlaps {other_text.get_text()!r}"
            )
        for other in fig.axes:
            if other is title.axes or not other.get_visible():
                continue
            assert not box.overlaps(other.get_tightbbox(renderer)), (
                f"title {title.get_text()!r} overlaps another panel"
            )


LONG = "val-core/math/some_dataset_with_a_long_name/reward/mean@1/extra"


def test_overview_titles_never_overlap():
    panels = [
        Panel(f"metric_{i} ({LONG})", np.arange(300), np.sin(np.arange(300) / (i + 3)))
        for i in range(7)
    ]
    fig = overview_figure(panels, LABELS)
    _assert_titles_clear(fig)
    assert all("…" in ax.get_title(loc="left") for ax in fig.axes if ax.get_visible())


@pytest.mark.parametrize(
    ("example", "chart"),
    [
        ("critic_warmup", "overview.png"),
        ("degrading_runs", "qwen3_8b-overview.png"),
        ("grpo_kl_episodes", "kl.png"),
        ("grpo_kl_episodes", "overview.png"),
    ],
)
def test_example_chart_titles_never_overlap(example, chart):
    _assert_titles_clear(_figure(example, chart))


def test_small_values_get_no_multiplier_under_the_title():
    steps = np.arange(200)
    p = Panel("learning_rate", steps, 1e-5 * (1 + np.sin(steps / 9.0)), windows=(Window(50, 60),))
    fig = metric_figure(p, LABELS)
    _assert_titles_clear(fig)
    assert not fig.axes[0].yaxis.get_offset_text().get_text()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert any("e-5" in label or "e-05" in label for label in labels), labels


def test_wide_tick_labels_fit_the_margin():
    steps = np.arange(300)
    panels = [
        Panel("negative", steps, -0.000123 * (1 + np.sin(steps / 7.0))),
        Panel("large", steps, 1.23e7 * (1 + np.sin(steps / 5.0))),
        Panel("log", steps, np.r_[np.full(299, 1e-3), 1e4]),
    ]
    _assert_titles_clear(overview_figure(panels, LABELS))
    _assert_titles_clear(metric_figure(panels[0], LABELS))


def test_zoomed_metric_titles_never_overlap():
    steps = np.arange(0, 6000, 5)
    values = np.ones(len(steps))
    values[560] = 30.0
    p = Panel(f"kl ({LONG})", steps, values, windows=(Window(2800, 2800),))
    _assert_titles_clear(metric_figure(p, LABELS))


# --- Chinese labels -----------------------------------------------------------------------


def _zh_chart_strings() -> list[str]:
    catalog = yaml.safe_load((ROOT / "templates" / "strings.yaml").read_text(encoding="utf-8"))
    return [entry["zh"] for entry in catalog["chart"].values()]


def test_bundled_font_covers_every_chinese_chart_label():
    assert charts.BUNDLED_FONT.is_file()
    assert (charts.BUNDLED_FONT.parent / "OFL.txt").is_file()
    assert charts.BUNDLED_FONT.stat().st_size < 5_000_000
    for text in _zh_chart_strings():
        hanzi = "".join(c for c in text if ord(c) > 0x7F)
        assert charts._covers(str(charts.BUNDLED_FONT), hanzi), text
    assert charts.bundled_font() == "Trainlens CJK SC"


def test_zh_charts_draw_chinese_with_a_cjk_font():
    from matplotlib import font_manager

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font warns
        fig = _figure("grpo_kl_episodes", "kl.png", lang="zh")
        fig.canvas.draw()
    legend = [t for t in fig.axes[0].get_legend().get_texts()]
    assert "滚动中位数（前 50 个点）" in [t.get_text() for t in legend]
    assert any("异常区间" == t.get_text() for t in legend)
    font = font_manager.findfont(legend[0].get_fontproperties(), fallback_to_default=False)
    assert charts._covers(font, "滚动中位数")
    assert fig.axes[1].get_title(loc="left").startswith("第 ")


def test_english_labels_when_no_cjk_font_loads(monkeypatch, tmp_path):
    assert charts.bundled_font(tmp_path / "missing.otf") is None
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    t, labels, cjk = figures.chart_text("zh")
    assert not cjk and labels["step"] == "step" and t.lang == "en"
