"""Detectors on their own: pure functions of series and keyword parameters."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlens.engine.compound import best_then_worse, overfit, restarted, stuck_at_zero
from trainlens.engine.detectors import bound, collapse_from_peak, level_shift, non_finite, spike
from trainlens.engine.registry import DETECTORS, NotApplicable, Trace


def tr(values, start: int = 1) -> Trace:
    v = np.asarray(values, dtype=float)
    return Trace(np.arange(start, start + len(v)), v)


def test_registry_signatures_are_series_then_keyword_params() -> None:
    for info in DETECTORS.values():
        sig = inspect.signature(info.fn)
        kinds = [p.kind for p in sig.parameters.values()]
        assert kinds == sorted(kinds, key=lambda k: k.value)  # positional inputs first
        assert all(
            p.default is not p.empty for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY
        )


@pytest.mark.parametrize("name", [n for n, i in DETECTORS.items() if i.arity == 1 and not i.post])
@pytest.mark.parametrize("values", [[], [1.0], [0.0] * 50, [5.0] * 3])
def test_single_series_detectors_cope_with_tiny_and_flat_series(name: str, values: list) -> None:
    info = DETECTORS[name]
    try:
        out = info.fn(tr(values), **({"direction": "up"} if "direction" in info.defaults else {}))
    except NotApplicable:
        return
    assert isinstance(out, list)


def test_spike_scale_free_in_log_space() -> None:
    rng = np.random.default_rng(0)
    for scale in (1.0, 3e4):
        v = np.exp(rng.normal(0, 0.3, 200)) * scale
        v[150] = 30 * scale
        found = spike(tr(v), log=True, factor=10, history_factor=10, k=4, min_periods=4)
        assert [w.peak_step for w in found] == [151]
        assert found[0].numbers["ratio"] > 20


def test_spike_hard_limit_needs_no_history_and_negative_guard() -> None:
    assert spike(tr([0.9, 0.9, 0.9]), limit=0.3)[0].start_step == 1
    with pytest.raises(NotApplicable) as err:
        spike(tr([0.1, -0.2, 0.1]), require_positive=True)
    assert err.value.code == "negative_loss"


def test_level_shift_needs_the_new_level_to_hold() -> None:
    base = np.full(60, 1.0) + np.random.default_rng(1).normal(0, 0.02, 60)
    blip = base.copy()
    blip[40] = 0.1  # one bad point: not a shift
    assert level_shift(tr(blip), rel=0.4) == []
    crash = base.copy()
    crash[40:42] = [0.1, 0.4]  # two of three points low
    w = level_shift(tr(crash), rel=0.4)
    assert [x.start_step for x in w] == [41] and w[0].peak_value == 0.1


def test_collapse_from_peak_must_last_to_the_end() -> None:
    v = np.r_[np.full(50, 100.0), np.full(20, 20.0), np.full(30, 100.0)]
    assert collapse_from_peak(tr(v), drop=0.5) == []
    v = np.r_[np.full(50, 100.0), np.full(50, 20.0)]
    w = collapse_from_peak(tr(v), drop=0.5)
    assert w[0].start_step in (50, 51) and w[0].numbers["before_value"] == 100.0


def test_bound_percent_and_inclusive() -> None:
    w = bound(tr([0.2, 0.1, 0.03, 0.02, 0.01]), below=5.0, percent=True, min_points=3)
    assert w[0].start_step == 3 and w[0].numbers["first"] == 20.0
    assert bound(tr([2.0, 2.0]), below=2.0) == []
    assert len(bound(tr([2.0, 2.0]), below=2.0, inclusive=True)) == 1


def test_best_then_worse_is_direction_aware() -> None:
    s = Trace(
        np.arange(100, 1600, 100), np.r_[np.linspace(1.8, 1.52, 6), np.linspace(1.6, 2.28, 9)]
    )
    w = best_then_worse(s, direction="down")
    assert w[0].numbers["best_step"] == 600 and w[0].numbers["best_value"] == 1.52
    assert best_then_worse(s, direction="up") == []
    with pytest.raises(NotApplicable):
        best_then_worse(s, direction=None)


def test_overfit_needs_the_train_loss_to_keep_falling() -> None:
    ev = Trace(np.array([100, 200, 300, 400]), np.array([1.6, 1.5, 1.7, 1.8]))
    falling = Trace(np.arange(1, 401), np.linspace(2.0, 0.5, 400))
    rising = Trace(np.arange(1, 401), np.linspace(0.5, 2.0, 400))
    assert overfit(ev, falling)[0].numbers["best_step"] == 200
    assert overfit(ev, rising) == []


def test_stuck_at_zero_respects_the_learning_rate() -> None:
    kl = tr(np.zeros(30))
    assert stuck_at_zero(kl)[0].numbers["n_points"] == 30
    assert stuck_at_zero(kl, tr(np.zeros(30))) == []


def test_non_finite_and_restarts() -> None:
    w = non_finite(tr([1.0, np.nan, 2.0, np.inf]))
    assert (w[0].start_step, w[0].end_step) == (2, 4)
    assert w[0].numbers == {"count": 2, "nan_count": 1, "inf_count": 1}
    r = restarted(restarts=({"step": 5, "previous_step": 9, "overwritten": 4},))
    assert r[0].start_step == 5 and r[0].series is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=120),
    st.sampled_from(sorted(n for n, i in DETECTORS.items() if i.arity == 1 and not i.post)),
)
def test_detectors_never_crash_and_stay_inside_the_series(values: list[float], name: str) -> None:
    info = DETECTORS[name]
    s = tr(values)
    try:
        out = info.fn(s, **({"direction": "down"} if "direction" in info.defaults else {}))
    except NotApplicable:
        return
    for w in out:
        assert s.steps[0] <= w.start_step <= w.end_step <= s.steps[-1]
        assert w.peak_step is None or s.steps[0] <= w.peak_step <= s.steps[-1]
        assert set(w.numbers) == set(info.outputs)
