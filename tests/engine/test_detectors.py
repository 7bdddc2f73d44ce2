"""Detectors on their own: pure functions of series and keyword parameters."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlens.engine.compound import best_then_worse, overfit
from trainlens.engine.detectors import bound, collapse_from_peak, level_shift, non_finite, spike
from trainlens.engine.registry import DETECTORS, NotApplicable, Trace
from trainlens.engine.stalls import collapsed_points, restarted, stuck_at_zero


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


def test_collapse_from_peak_starts_at_the_first_low_point() -> None:
    """A step from 0.1 to 0.04 at step 100 (index 99): the window starts at 100, not 99, for
    any smoothing; the knee search also looks past the crossing of the centred median."""
    v = np.r_[np.full(99, 0.1), np.full(101, 0.04)]
    for smooth in (1, 3, 5, 9):
        (w,) = collapse_from_peak(tr(v), drop=0.3, smooth=smooth, min_points=10, until_end=False)
        assert (w.start_step, w.numbers["n_points"]) == (100, 101), smooth
        assert w.numbers["before_value"] == 0.1
    # a gradual fall: the window starts where the level turns into the fall
    ramp = np.r_[np.full(50, 100.0), np.linspace(100.0, 20.0, 11)[1:], np.full(40, 20.0)]
    (w,) = collapse_from_peak(tr(ramp), drop=0.5)
    assert 50 <= w.start_step <= 52


def test_magnitude_growth_window_starts_where_the_growth_does() -> None:
    grows = tr(-2.37 * 1.3 ** np.arange(40), start=1)
    (w,) = DETECTORS["magnitude_growth"].fn(grows)
    assert w.start_step == 1 and w.numbers["first_value"] == pytest.approx(-2.37)
    assert w.numbers["last_value"] == pytest.approx(-2.37 * 1.3**39)
    assert w.baseline == pytest.approx(-2.37)
    rng = np.random.default_rng(0)
    flat_then = np.r_[1.0 + rng.normal(0, 0.05, 30), 1.4 ** np.arange(1, 31)]
    (w,) = DETECTORS["magnitude_growth"].fn(tr(flat_then))
    assert 20 <= w.start_step <= 31  # the last low point of the flat stretch (ends at 30)


def test_magnitude_growth_finds_a_growth_that_starts_late() -> None:
    rng = np.random.default_rng(1)
    flat = 1.0 + rng.normal(0, 0.05, 90)
    late = np.r_[flat, 1.0 * 10 ** (np.arange(1, 11) * 0.4)]  # 4 decades over the last 10 points
    (w,) = DETECTORS["magnitude_growth"].fn(tr(late))
    assert w.numbers["late"] and w.numbers["from_step"] > 1
    assert 80 <= w.start_step <= 91 and w.numbers["growth"] >= 100
    flat_then_10x = np.r_[flat, 10 * (1.0 + rng.normal(0, 0.05, 10))]  # a lasting 10x: no
    assert DETECTORS["magnitude_growth"].fn(tr(flat_then_10x)) == []
    (w,) = DETECTORS["magnitude_growth"].fn(tr(-2.37 * 1.3 ** np.arange(40)))
    assert not w.numbers["late"]  # the whole log grows


def test_level_shift_quotes_the_value_at_the_start_and_where_it_settled() -> None:
    rng = np.random.default_rng(2)
    crash = np.full(100, 0.93) + rng.normal(0, 0.01, 100)
    crash[60:62] = [0.10, 0.48]  # a crash that recovers
    (w,) = level_shift(tr(crash), rel=0.4, window=20, horizon=10, sustain=20)
    n = w.numbers
    assert w.start_step == 61 and n["start_value"] == 0.10 and w.peak_value == 0.10
    assert n["recovered"] and n["back_step"] == 63 and n["back_value"] == pytest.approx(0.93, 0.05)
    assert n["peak_pct"] == pytest.approx(0.89, abs=0.02)
    lasting = np.r_[np.full(60, 2.3), np.linspace(2.3, 0.9, 11)[1:], np.full(40, 0.93)]
    lasting = lasting + rng.normal(0, 0.02, len(lasting))
    (w,) = level_shift(tr(lasting), rel=0.4, window=20, horizon=10, sustain=20)
    n = w.numbers
    assert not n["recovered"] and n["back_step"] is None and n["settled_points"] == 20
    assert n["level_after"] == pytest.approx(0.93, abs=0.03)  # the last 20 points
    assert n["change_pct"] == pytest.approx(0.6, abs=0.03)
    assert n["start_value"] == pytest.approx(lasting[w.start_step - 1])


def test_lasting_shift_finds_a_settled_change_level_shift_misses() -> None:
    from trainlens.engine.drops import lasting_shift

    params = dict(rel=0.4, window=20, horizon=10, sustain=20)
    early = np.r_[0.2, 0.4, 0.6, np.zeros(30)]  # no running level before the fall
    assert level_shift(tr(early), **params) == []
    (w,) = lasting_shift(tr(early), **params)
    assert w.start_step == 4 and w.baseline == pytest.approx(0.4)
    assert not w.numbers["recovered"] and w.numbers["base_points"] == 3
    assert w.numbers["level_after"] == 0 and w.numbers["change_pct"] == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    noisy = np.r_[rng.normal(1.2, 0.25, 1500), rng.normal(0.45, 0.02, 1500)]
    (w,) = lasting_shift(tr(noisy), **params)
    assert 1495 <= w.start_step <= 1505 and w.numbers["n_points"] == 3001 - w.start_step
    trend = 1.0 - 0.7 * np.arange(600) / 600 + rng.normal(0, 0.08, 600)  # no step: quiet
    assert lasting_shift(tr(trend), **params) == level_shift(tr(trend), **params)


def test_restarts_are_deduplicated_and_a_flood_is_summarised() -> None:
    one = {"step": 5, "previous_step": 9, "overwritten": 4}
    assert len(restarted(restarts=(one, dict(one)))) == 1
    many = tuple({"step": s, "previous_step": s + 1, "overwritten": 1} for s in range(10, 60, 10))
    assert len(restarted(restarts=many[:3])) == 3
    (w,) = restarted(restarts=many)
    assert (w.start_step, w.end_step) == (10, 51)
    assert w.numbers["n_restarts"] == 5 and w.numbers["overwritten"] == 5
    assert w.numbers["summarised"] and w.numbers["restart_steps"] == (10, 20, 30, 40, 50)
    assert len(restarted(restarts=many, max_findings=10)) == 5


def test_collapsed_points_are_isolated_and_far_below_the_noise() -> None:
    rng = np.random.default_rng(4)
    g = np.exp(rng.normal(np.log(0.3), 0.2, 200))
    g[[50, 120, 121]] = [2e-4, 5e-4, 3e-4]
    (w,) = collapsed_points(tr(g))
    assert w.numbers["at_steps"] == (51, 121, 122) and w.numbers["n_points"] == 3
    assert (w.start_step, w.end_step, w.peak_step) == (51, 122, 51)
    assert w.numbers["z"] < -10
    assert w.rows is not None and {50, 51, 52} <= {int(s) + 1 for s in w.rows}
    long = g.copy()
    long[150:160] = 0.0  # a vanishing stretch is not isolated
    assert collapsed_points(tr(long))[0].numbers["n_points"] == 3
    wild = np.exp(rng.normal(np.log(5.0), 1.6, 400))  # swings by orders of magnitude
    assert collapsed_points(tr(wild)) == []
    listed = g.copy()
    listed[10:200:15] = 1e-5
    (w,) = collapsed_points(tr(listed), max_listed=4)
    assert w.numbers["at_steps"][-1] == "…" and len(w.numbers["at_steps"]) == 5


def test_spike_tells_a_chronic_level_from_a_surge() -> None:
    (w,) = spike(tr([0.9, 0.5, 0.8, 0.95, 1.0, 0.95]), limit=0.3)
    assert w.numbers["from_start"] and w.baseline is None
    assert w.numbers["share"] == 1.0 and w.numbers["level"] == 0.925
    v = np.r_[np.full(60, 0.02), 0.9, np.full(20, 0.02)]
    (w,) = spike(tr(v), limit=0.3)
    assert not w.numbers["from_start"] and w.baseline == 0.02
    assert w.numbers["share"] == pytest.approx(1 / 81)


def test_level_shift_counts_the_points_its_running_level_is_the_median_of() -> None:
    v = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0] + [1.0] * 30
    (w,) = level_shift(tr(v), toward="down", window=20, after=3, horizon=1, min_periods=5)
    # the points before the fall (at most 8 here), not the window's 20
    assert 5 <= w.numbers["base_points"] <= 8


def test_collapse_from_peak_quotes_the_logged_peak_and_the_level_before_the_fall() -> None:
    v = [0.20, 0.21, 0.22, 0.20, 0.19, 0.21, 0.20, 0.25, 0.20, 0.20] + [0.19] * 10 + [0.08] * 20
    (w,) = collapse_from_peak(tr(v), drop=0.3, smooth=5, min_points=5)
    n = w.numbers
    assert (n["top_value"], n["top_step"]) == (0.25, 8)  # the highest logged point, its step
    assert n["before_from"] <= n["before_to"] < w.start_step
    assert abs(n["before_value"] - 0.19) < 1e-9


def test_no_signal_says_when_every_group_is_wasted() -> None:
    from trainlens.engine.stalls import no_signal

    (w,) = no_signal(tr([0.1] * 10 + [1.0] * 10))
    assert w.numbers["all_groups"] is True
    (w,) = no_signal(tr([0.1] * 10 + [0.8] * 10))
    assert w.numbers["all_groups"] is False


GRAD = {"log": True, "factor": 10.0, "history_factor": 10.0, "k": 5.0, "window": 50}


def test_spike_sure_factor_catches_a_huge_jump_in_a_noisy_run() -> None:
    """A huge jump where the points wander over a decade misses the robust z but is no
    noise."""
    rng = np.random.default_rng(5)
    v = np.exp(rng.normal(np.log(1.8), 0.8, 200))
    v[150] = 80.0
    recent_top = v[100:150].max()
    assert v[150] >= 8 * recent_top and v[150] >= 20 * np.median(v[100:150])
    plain = spike(tr(v), **GRAD)
    assert not [w for w in plain if w.start <= 150 <= w.end]  # the z test alone misses it
    hits = spike(tr(v), **GRAD, sure_factor=20.0)
    assert [w for w in hits if w.start <= 150 <= w.end]
    quiet = np.exp(rng.normal(np.log(1.8), 0.8, 2000))  # the same noise without a jump
    assert spike(tr(quiet), **GRAD, sure_factor=20.0) == spike(tr(quiet), **GRAD)
