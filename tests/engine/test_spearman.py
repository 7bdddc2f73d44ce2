"""The numpy Spearman correlation agrees with scipy's (ties, constants, NaN)."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.engine.stats import average_ranks, spearman

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("seed", range(20))
def test_matches_scipy_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    x = np.arange(n, dtype=float)
    y = np.round(rng.normal(size=n).cumsum(), int(rng.integers(0, 3)))  # rounding makes ties
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert np.array_equal(average_ranks(y), stats.rankdata(y))


def test_constant_short_or_nan_is_nan() -> None:
    assert np.isnan(spearman(np.arange(5.0), np.ones(5)))
    assert np.isnan(spearman(np.array([1.0]), np.array([2.0])))
    assert np.isnan(spearman(np.arange(3.0), np.array([1.0, np.nan, 2.0])))
    assert spearman(np.arange(4.0), np.array([4.0, 3.0, 2.0, 1.0])) == -1.0
