"""The vectorised helpers the detectors rely on."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainlens.engine.stats import (
    align_last,
    as_percent,
    forward_median,
    future_extreme,
    knee,
    runs_to_end,
    segments,
    trailing_median,
    trailing_noise,
)


@given(st.lists(st.booleans(), max_size=60), st.integers(0, 3))
def test_segments_cover_exactly_the_true_points(mask: list[bool], gap: int) -> None:
    m = np.array(mask, dtype=bool)
    segs = segments(m, gap)
    covered = np.zeros(len(m), dtype=bool)
    for a, b in segs:
        covered[a : b + 1] = True
        assert m[a] and m[b]
    assert (covered | ~m).all()  # every True point is inside a segment
    if gap == 0:
        assert (covered == m).all()
    assert all(segs[i + 1][0] - segs[i][1] - 1 > gap for i in range(len(segs) - 1))


def test_runs_to_end() -> None:
    assert runs_to_end(np.array([1, 0, 1, 1], bool)) == 2
    assert runs_to_end(np.array([1, 1], bool)) == 0
    assert runs_to_end(np.array([1, 0], bool)) is None
    assert runs_to_end(np.array([], bool)) is None


def test_trailing_and_forward_windows_exclude_or_start_at_the_point() -> None:
    v = np.array([1.0, 2, 3, 100, 5])
    assert np.isnan(trailing_median(v, 3, 2)[:2]).all()
    assert trailing_median(v, 3, 2)[3] == 2.0  # 1, 2, 3: the 100 itself excluded
    fwd = forward_median(v, 2)
    assert fwd[0] == 1.5 and np.isnan(fwd[-1])
    assert future_extreme(np.array([3.0, 1, 2, 0]), 2, lowest=True).tolist() == [1, 1, 0, 0]


def test_trailing_noise_ignores_a_trend() -> None:
    trend = np.arange(100.0)  # differences all 1: no noise at all
    assert np.nanmax(trailing_noise(trend, 20, 5)) == 0.0


def test_knee_finds_where_a_flat_level_starts_falling() -> None:
    v = np.r_[np.full(12, 10.0), 10 - 2.0 * np.arange(1, 9)]
    assert knee(v) in (11, 12)


def test_align_last_and_percent() -> None:
    lr_steps, lr = np.array([0, 10, 20]), np.array([0.0, 1.0, 2.0])
    assert align_last(np.array([5, 10, 25]), lr_steps, lr).tolist() == [0.0, 1.0, 2.0]
    assert as_percent(np.array([0.5, 0.95])).tolist() == [50.0, 95.0]
    assert as_percent(np.array([50.0, 95.2])).tolist() == [50.0, 95.2]


@pytest.mark.parametrize("window, min_periods", [(1, 1), (2, 1), (3, 1), (4, 2), (20, 5), (60, 60)])
def test_bottleneck_medians_match_pandas(window, min_periods):
    import pandas as pd

    from trainlens.engine import stats

    rng = np.random.default_rng(window)
    v = rng.normal(size=50)
    v[rng.integers(0, 50, 6)] = np.nan
    s = pd.Series(v)
    expect = s.rolling(window, min_periods=min_periods).median().to_numpy()
    np.testing.assert_allclose(stats.rolling_median(v, window, min_periods), expect)
    np.testing.assert_allclose(
        stats.trailing_median(v, window, min_periods), pd.Series(expect).shift(1).to_numpy()
    )
    rev = pd.Series(v[::-1]).rolling(window, min_periods=window).median().to_numpy()[::-1]
    np.testing.assert_allclose(stats.forward_median(v, window), rev)
    if window > 1:
        centred = s.rolling(window, center=True, min_periods=1).median().to_numpy()
        np.testing.assert_allclose(stats.centered_median(v, window), centred)


@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6),
            st.sampled_from([0.0, -0.0, 1.0, 1.0, np.nan, np.inf, -np.inf, 1e308, -1e308]),
        ),
        max_size=90,
    ),
    st.integers(1, 80),
    st.integers(0, 81),
    st.sampled_from([(0.75, 0.25), (0.5,), (0.0, 1.0), (0.1, 0.9, 0.33)]),
)
def test_rolling_quantiles_are_pandas_bit_for_bit(
    values: list[float], window: int, min_periods: int, qs: tuple[float, ...]
) -> None:
    """Sorted windows (and pandas past SORTED_WINDOW): the same numbers, NaN where pandas has
    it; ties, signed zeros (equal, whatever their sign), ±inf (missing to pandas) and short
    series included."""
    import pandas as pd

    from trainlens.engine.stats import rolling_quantiles

    v = np.array(values, dtype=np.float64)
    min_periods = min(min_periods, window)  # pandas refuses more
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # quiet where pandas is (overflow to inf included)
        got = rolling_quantiles(v, window, qs, min_periods)
    roll = pd.Series(v, dtype=np.float64).rolling(window, min_periods=min_periods)
    for q, out in zip(qs, got, strict=True):
        assert np.array_equal(out, roll.quantile(q).to_numpy(), equal_nan=True)


def test_rolling_quantiles_sort_a_long_series_in_blocks(monkeypatch) -> None:
    import pandas as pd

    from trainlens.engine import stats

    monkeypatch.setattr(stats, "_SORT_BLOCK", 7 * 20)  # 7 windows of 20 per block
    rng = np.random.default_rng(3)
    v = np.round(rng.normal(size=1000), 2)  # ties
    v[rng.integers(0, 1000, 80)] = np.nan
    q75, q25 = stats.rolling_quantiles(v, 20, (0.75, 0.25), 4)
    roll = pd.Series(v).rolling(20, min_periods=4)
    assert np.array_equal(q75, roll.quantile(0.75).to_numpy(), equal_nan=True)
    assert np.array_equal(q25, roll.quantile(0.25).to_numpy(), equal_nan=True)


def test_trailing_noise_is_the_shifted_iqr_of_the_differences() -> None:
    import pandas as pd

    rng = np.random.default_rng(5)
    v = np.cumsum(rng.normal(size=400))
    v[[10, 200, 201]] = np.nan
    roll = pd.Series(np.r_[np.nan, np.diff(v)]).rolling(20, min_periods=4)
    want = (roll.quantile(0.75) - roll.quantile(0.25)).shift(1).to_numpy() / (1.349 * np.sqrt(2))
    assert np.array_equal(trailing_noise(v, 20, 5), want, equal_nan=True)


@given(
    st.lists(
        st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0.0, 2.5, np.nan, np.inf, -np.inf])),
        min_size=1,
        max_size=80,
    ),
    st.integers(1, 30),
    st.integers(1, 12),
    st.data(),
)
def test_quantiles_at_a_few_indices_are_those_of_the_whole_series(
    values: list[float], window: int, min_periods: int, data: st.DataObject
) -> None:
    """``trailing_noise_at`` / ``trailing_quantile_at`` over a few indices (windows sorted
    there) give the bits of the whole-series pass: ±inf missing in both, one formula."""
    from trainlens.engine.stats import rolling_quantiles, trailing_noise_at, trailing_quantile_at

    v = np.array(values, dtype=np.float64)
    n = len(v)
    idx = np.array(
        sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=max(1, n // 8))))
    )
    if len(idx) * 8 > n:  # the whole-series branch: nothing to compare
        return
    full_noise = trailing_noise(v, window, min_periods)[idx]
    got = trailing_noise_at(v, idx, window, min_periods)
    assert np.array_equal(got, full_noise, equal_nan=True)
    (roll,) = rolling_quantiles(v, window, (0.9,), min(min_periods, window))
    want = np.r_[np.nan, roll[:-1]][idx]
    got = trailing_quantile_at(v, idx, window, 0.9, min(min_periods, window))
    assert np.array_equal(got, want, equal_nan=True)
