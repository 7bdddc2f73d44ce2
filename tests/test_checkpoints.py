"""Best point, sustained degradation onset, and the checkpoint to keep."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.checkpoints import best_then_degrade, recommend_checkpoint, smooth
from trainlens.discover import Checkpoint


def test_score_best_then_collapse():
    steps = np.arange(0, 200, 5)
    values = np.where(steps <= 115, 1.0 + steps / 115 * 1.34, 2.34 - (steps - 115) * 0.05)
    values = np.maximum(values, 0.3)  # stays positive: the drop is relative to the best
    d = best_then_degrade(steps, values)
    assert d.scale_basis == "best" and d.scale == pytest.approx(2.34)
    assert (d.best_step, d.best_value) == (115, pytest.approx(2.34))
    # 20% below 2.34 is 1.872: 2.34 - 0.05 * (s - 115) < 1.872 once s > 124.4 → step 125
    assert d.onset_step == 125 and d.onset_value == pytest.approx(1.84)
    assert d.drop_from_best > 0.2


def test_loss_direction_and_single_blip_is_not_an_onset():
    steps = np.arange(100, 1600, 100)
    loss = np.array(
        [2.0, 1.8, 1.6, 1.55, 1.52, 1.53, 1.6, 1.7, 1.8, 1.95, 2.0, 2.1, 2.2, 2.25, 2.28]
    )
    loss_blip = loss.copy()
    loss_blip[5] = 2.0  # one bad eval, then recovery: not sustained
    d = best_then_degrade(steps, loss, higher_is_better=False)
    assert (d.best_step, d.best_value, d.final_value) == (500, 1.52, 2.28)
    assert d.onset_step == 1000  # first point above 1.52 * 1.2 = 1.824 that stays there
    assert d.drop_from_best == pytest.approx(0.5)
    blip = best_then_degrade(steps, loss_blip, higher_is_better=False)
    assert blip.onset_step == 1000


def test_improving_series_has_no_onset_and_negative_drop():
    d = best_then_degrade(np.arange(10), np.linspace(0, 1, 10) + 1)
    assert d.onset_step is None and d.best_step == 9 and d.drop_from_best == 0
    assert best_then_degrade(np.arange(3), np.array([np.nan] * 3)) is None


def test_smoothing_reports_the_smoothed_curve():
    rng = np.random.default_rng(0)
    steps = np.arange(300)
    values = np.sin(steps / 95) + rng.normal(0, 0.05, 300)
    d = best_then_degrade(steps, values, window=15)
    smoothed = smooth(values, 15)
    assert d.smoothed and d.best_value == smoothed[d.best_step]
    assert d.final_value == smoothed[-1] and d.worst_value == smoothed[d.worst_step]
    assert 130 <= d.best_step <= 170


@pytest.mark.parametrize("higher", [True, False])
@pytest.mark.parametrize("window", [1, 5, 17])
def test_best_is_never_worse_than_onset_or_worst(higher: bool, window: int) -> None:
    """Noisy series (the bug: best read raw at the smoothed argmax, worst raw too, so the
    "worst" could beat the "best"). Whatever the noise, best >= onset and best >= worst."""
    sign = 1.0 if higher else -1.0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        steps = np.arange(0, 400, 5)
        trend = np.interp(steps, [0, 120, 400], [0.2, 0.9, -0.4])
        values = sign * (trend + rng.normal(0, 0.25, len(steps)))
        d = best_then_degrade(steps, values, higher_is_better=higher, window=window)
        assert d.smoothed is (window > 1)
        assert sign * d.best_value >= sign * d.worst_value, seed
        if d.onset_step is not None:
            assert sign * d.best_value > sign * d.onset_value, seed
            assert sign * (d.best_value - d.onset_value) > 0.2 * d.scale, seed
        assert sign * d.best_value >= sign * d.final_value, seed


def test_series_crossing_zero_measure_drops_against_the_range():
    # a reward that peaks at 0.8 and ends at -0.5: "161% below the best" means nothing
    steps = np.arange(0, 200, 5)
    values = np.interp(steps, [0, 60, 195], [-0.1, 0.8, -0.5])
    d = best_then_degrade(steps, values)
    assert d.scale_basis == "range" and d.scale == pytest.approx(1.3)
    assert d.drop_from_best == pytest.approx(1.0)  # all of the range lost
    # 20% of the range (0.26) below 0.8 is 0.54: first reached after step 60
    assert d.onset_value < 0.54 < d.best_value and d.onset_step == 90
    # a policy loss around zero (lower is better)
    loss = np.interp(steps, [0, 80, 195], [0.05, -0.3, 0.06])
    d = best_then_degrade(steps, loss, higher_is_better=False)
    assert d.scale_basis == "range" and 0 < d.drop_from_best <= 1


def test_best_near_zero_measures_drops_against_the_range():
    # a train loss from 5 down to 2e-5 and back up to 7e-3: ×340 the best, 0.1% of the range
    steps = np.arange(0, 100)
    loss = np.interp(steps, [0, 10, 60, 99], [5.0, 0.01, 2e-5, 7e-3])
    d = best_then_degrade(steps, loss, higher_is_better=False)
    assert d.scale_basis == "range" and d.scale == pytest.approx(5.0 - 2e-5)
    assert d.onset_step is None and d.drop_from_best == pytest.approx(0.0014, abs=1e-4)
    # far from zero: relative to the best, as before (eval loss 1.52 → 2.28 is +50%)
    eval_loss = np.array([2.0, 1.8, 1.6, 1.52, 1.7, 1.9, 2.28])
    d = best_then_degrade(np.arange(7), eval_loss, higher_is_better=False)
    assert d.scale_basis == "best" and d.drop_from_best == pytest.approx(0.5)


def test_recommend_checkpoint():
    ckpts = [Checkpoint(s, f"global_step_{s}") for s in (25, 50, 75, 100, 125, 150, 175)]
    assert recommend_checkpoint(ckpts, 115, 135).step == 125
    assert recommend_checkpoint(ckpts, 75, 125).step == 75
    assert recommend_checkpoint(ckpts, 140, 150).step == 125  # 150 is the onset: already degraded
    assert recommend_checkpoint(ckpts, 60, None).step == 50  # tie 50/75 → the earlier
    assert recommend_checkpoint(ckpts, 10, 20) is None
    assert recommend_checkpoint([], 10, None) is None
