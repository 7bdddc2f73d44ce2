"""Charts: valid, deterministic PNGs, downsampled with extremes kept, CJK only with a font."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.render import charts
from trainlens.render.charts import Mark, Panel, Window, downsample, metric_chart, overview_chart
from trainlens.report import figures

PNG = b"\x89PNG\r\n\x1a\n"
LABELS = {
    "step": "step",
    "window": "anomaly window",
    "peak": "peak",
    "low": "lowest",
    "best": "best",
    "baseline": "baseline",
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
    if font is None:
        pytest.skip("no CJK font installed here: the English fallback is in use")
    from matplotlib import font_manager

    assert font in {f.name for f in font_manager.fontManager.ttflist}
