"""Best point, sustained degradation onset, and the checkpoint to keep."""

from __future__ import annotations

import numpy as np
import pytest

from trainlens.checkpoints import best_then_degrade, recommend_checkpoint
from trainlens.discover import Checkpoint


def test_score_best_then_collapse():
    steps = np.arange(0, 200, 5)
    values = np.where(steps <= 115, 1.0 + steps / 115 * 1.34, 2.34 - (steps - 115) * 0.05)
    d = best_then_degrade(steps, values)
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


def test_smoothing_picks_points_but_reports_raw_values():
    rng = np.random.default_rng(0)
    steps = np.arange(300)
    values = np.sin(steps / 95) + rng.normal(0, 0.05, 300)
    d = best_then_degrade(steps, values, window=15)
    assert d.best_value == values[d.best_step]
    assert 130 <= d.best_step <= 170


def test_recommend_checkpoint():
    ckpts = [Checkpoint(s, f"global_step_{s}") for s in (25, 50, 75, 100, 125, 150, 175)]
    assert recommend_checkpoint(ckpts, 115, 135).step == 125
    assert recommend_checkpoint(ckpts, 75, 125).step == 75
    assert recommend_checkpoint(ckpts, 140, 150).step == 125  # 150 is the onset: already degraded
    assert recommend_checkpoint(ckpts, 60, None).step == 50  # tie 50/75 → the earlier
    assert recommend_checkpoint(ckpts, 10, 20) is None
    assert recommend_checkpoint([], 10, None) is None
