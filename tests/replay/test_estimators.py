"""KL estimators and the sampler mismatch on known values (numpy only: no torch needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlens.replay.estimators import blowup_mask, kl_estimates, mismatch


def test_estimators_on_known_values() -> None:
    logp_policy = np.log([0.5, 0.5, 0.25, 0.01, 0.2])
    logp_ref = np.log([0.5, 0.25, 0.5, 0.01 * math.e**3, 0.2 * math.e**-2])
    est = kl_estimates(logp_policy, logp_ref)
    delta = logp_ref - logp_policy  # Δ = log p_ref − log p_policy
    np.testing.assert_allclose(est.delta, [0.0, -math.log(2), math.log(2), 3.0, -2.0])
    np.testing.assert_allclose(est.k1, -delta)
    np.testing.assert_allclose(est.k2, 0.5 * delta**2)
    np.testing.assert_allclose(est.k3, np.exp(delta) - delta - 1, atol=1e-12)
    assert est.k3[3] == pytest.approx(math.exp(3) - 4)  # ≈ 16.09, the GRPO bug hunt's value
    assert est.k1[0] == est.k2[0] == est.k3[0] == 0.0
    assert (est.k3 >= 0).all() and (est.k2 >= 0).all()


def test_identical_models_give_exactly_zero() -> None:
    lp = np.log([0.3, 0.9, 1e-6])
    est = kl_estimates(lp, lp.copy())
    assert not est.k1.any() and not est.k2.any() and not est.k3.any()


def test_blowup_is_where_k3_exceeds_k2_tenfold() -> None:
    est = kl_estimates(np.zeros(5), np.array([0.0, 3.0, 4.5, 5.0, -8.0]))
    # k3/k2 at Δ=3: 16.09/4.5 ≈ 3.6; Δ=4.5: ≈ 8.3; Δ=5: ≈ 11.4; Δ=-8: ≈ 0.22
    assert blowup_mask(est, 10.0).tolist() == [False, False, False, True, False]


def test_mismatch_mean_max_and_sequence_ratio() -> None:
    policy = [np.array([-1.0, -2.0]), np.array([-0.5])]
    sampler = [np.array([-1.1, -2.0]), np.array([-0.2])]
    m = mismatch(list(zip(sampler, policy)))
    assert m is not None
    assert m.n_samples == 2 and m.n_tokens == 3
    assert m.mean_abs == pytest.approx((0.1 + 0.0 + 0.3) / 3)
    assert m.max_abs == pytest.approx(0.3)
    # ratio = exp(Σ log p_policy − Σ log p_sampler)
    assert m.ratios == pytest.approx((math.exp(0.1), math.exp(-0.3)))
    assert (m.ratio_min, m.ratio_max) == pytest.approx((math.exp(-0.3), math.exp(0.1)))
    assert m.worst == 1
    assert mismatch([]) is None
