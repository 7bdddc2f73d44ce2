"""Small pure detectors: one or more step-indexed series plus keyword parameters → Windows.

Detectors know no rule ids, severities, languages or files. Every one is vectorised (numpy /
pandas rolling windows); loops run over found segments, never over points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
import pandas as pd

from trainlens.engine.registry import (
    Correlation,
    Count,
    Count0,
    Fraction,
    NonNegative,
    NotApplicable,
    OneOf,
    Positive,
    Range,
    Real,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win
from trainlens.engine.stats import (
    as_percent,
    centered_median,
    forward_median,
    future_extreme,
    knee,
    rolling_median,
    running_max,
    runs_to_end,
    segments,
    shifted,
    spearman,
    trailing_median,
    trailing_noise_at,
    trailing_quantile_at,
)

_TINY = 1e-12


def _floor(scale: np.ndarray, level: np.ndarray, rel: float = 0.01) -> np.ndarray:
    """Robust scale, floored so a flat stretch (scale 0) does not make every wiggle infinite."""
    return np.fmax(scale, np.fmax(rel * np.abs(level), _TINY))


def _spike_baseline(
    v: np.ndarray, window: int, min_periods: int, log: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values as judged, their trailing median, that median back in the values' units)."""
    x = np.log(np.maximum(v, _TINY)) if log else v
    med = trailing_median(x, window, min_periods)
    return x, med, np.exp(med) if log else med


def spike_baseline(
    values: np.ndarray, *, window: int = 50, min_periods: int = 5, log: bool = False
) -> np.ndarray:
    """The rolling baseline :func:`spike` compares each point with (median of the ``window``
    points before it, on log values with ``log``), in the values' units; NaN before
    ``min_periods`` points. Charts draw it from a finding's own parameters."""
    return _spike_baseline(np.asarray(values, dtype=np.float64), window, min_periods, log)[2]


def spike_lookback(params: Mapping[str, Any]) -> int:
    """Points of context a spike verdict needs: the rolling ``window`` several times over, so
    that "everything logged before" (``history_factor``) and the run's usual level
    (``informative``) are measured on a long stretch too."""
    return 8 * int(params["window"]) + int(params["min_periods"])


@detector(
    outputs=(
        "ratio",
        "z",
        "n_points",
        "share",
        "level",
        "from_start",
        "surge",
        "clip",
        "clipped",
        "unbounded",
    ),
    lookback=spike_lookback,
)
def spike(
    s: Trace,
    *,
    window: Count = 50,
    min_periods: Count = 5,
    k: Positive = 6.0,
    factor: NonNegative = 0.0,
    history_factor: NonNegative = 0.0,
    tail_factor: NonNegative = 0.0,
    tail_q: Share = 0.9,
    min_delta: NonNegative = 0.0,
    limit: Real | None = None,
    log: bool = False,
    gap: Count0 = 2,
    require_positive: bool = False,
    informative: Share = 0.0,
    max_quiet: Count = 12,
    clipping: bool = False,
    clip_threshold: float | None = None,
    sure_factor: NonNegative = 0.0,
) -> list[Window]:
    """Points far above the median of the ``window`` points before them: a robust z ≥ ``k``
    (scale: IQR of the point-to-point differences over that window, so a trend does not
    inflate it), ≥ ``factor`` × that median, ≥ ``history_factor`` × the median of everything
    logged before (a value the run saw routinely earlier is no spike), ≥ ``tail_factor`` × the
    ``tail_q`` quantile of the window (a value the recent noise reaches now and then is no
    spike) and ≥ ``min_delta`` above the recent median (``log``: all of it on log values, so
    the test is scale-free); or above the hard ``limit``. Flagged points ``gap`` points apart
    or closer form one window. Numbers: ``n_points`` flagged in it, ``share`` (of all logged
    points), ``level`` (the window's median) and ``from_start`` (true when the window begins
    before ``min_periods`` points exist to compare with, unless the few points before it were
    at or below ``limit``: a limit exceeded from the start has no rolling median, i.e. it is a
    chronic level, not a surge) and ``surge`` (true when the window rose from a rolling median,
    or the median of those few points, at or below ``limit``, or from any rolling median
    without a limit: a rise, not the continuation of a level that was already too high).

    ``informative`` > 0: the baselines are those of the steps that carried a signal. A point at
    or below 0, or below ``informative`` × the run's 75th percentile in a run of at most
    ``max_quiet`` such points, is a near-zero step (sparse rewards: a batch whose groups all
    tied) and takes no part in any baseline, so the steps that learn something are not
    "spikes" over the empty ones. ``clipping``: the windows also carry
    ``clip`` (``clip_threshold``, the run's gradient-clipping norm; None when unknown),
    ``clipped`` (the peak exceeded it: clipping bounded the update) and ``unbounded`` (no
    clipping is known to bound the update: threshold unknown or off); without it all three
    are None. ``sure_factor`` > 0: a candidate at least that many times the rolling median and
    3× the largest of the ``window`` points before it is a spike whatever the local noise (a
    35× jump in a run whose points wander 0.6–5 misses z ≥ ``k`` but is no noise)."""
    v = s.values
    if require_positive and (v < 0).any():
        raise NotApplicable("negative_loss")
    quiet = _near_zero(v, informative, max_quiet) if informative > 0 else None
    if quiet is not None and quiet.any():  # the baselines are made of the other points
        x = np.log(np.maximum(v, _TINY)) if log else v
        xb, vb = np.where(quiet, np.nan, x), np.where(quiet, np.nan, v)
        med = trailing_median(xb, window, min_periods)
        base = np.exp(med) if log else med
    else:
        x, med, base = _spike_baseline(v, window, min_periods, log)
        xb, vb = x, v
    with np.errstate(invalid="ignore", divide="ignore"):
        cand = np.isfinite(med) & (x > med)  # cheap tests first, the local noise only where needed
        if factor > 0:
            cand &= (v >= factor * base) | (base <= 0)
        if history_factor > 0:
            hist = pd.Series(vb).expanding(min_periods).median().shift(1).to_numpy()
            cand &= v >= history_factor * hist
        if min_delta > 0:
            cand &= v - base >= min_delta
        if tail_factor > 0:
            at = np.flatnonzero(cand)
            cand[at] &= v[at] >= tail_factor * trailing_quantile_at(
                v, at, window, tail_q, min_periods
            )
        idx = np.flatnonzero(cand)
        scale = np.full(len(v), np.nan)  # point-to-point noise: a trend does not inflate it
        local = trailing_noise_at(xb, idx, window, min_periods)
        scale[idx] = np.fmax(local, 0.05) if log else _floor(local, med[idx])
        z = (x - med) / scale
        flag = cand & (z >= k)
        if sure_factor > 0:
            for i in idx[~flag[idx]]:
                if v[i] >= sure_factor * base[i]:
                    recent = vb[max(0, i - window) : i]
                    top = np.nanmax(recent) if np.isfinite(recent).any() else np.inf
                    flag[i] = v[i] >= 8 * top
        if limit is not None:
            flag |= v > limit
    out = []
    for a, b in segments(flag, gap):
        p = a + int(np.argmax(v[a : b + 1]))
        b0 = base[a]
        early = not np.isfinite(b0)  # before ``min_periods`` points: no rolling median yet
        if early and a > 0 and limit is not None and np.median(v[:a]) <= limit:
            b0, early = float(np.median(v[:a])), False  # the few points before were normal
        ratio = v[p] / b0 if np.isfinite(b0) and b0 > 0 else float("inf")
        zp = (x[p] - med[a]) / scale[a] if np.isfinite(med[a]) else float("inf")
        n_flagged = int(flag[a : b + 1].sum())
        clip: dict[str, Any] = {"clip": None, "clipped": None, "unbounded": None}
        if clipping:
            on = clip_threshold is not None and clip_threshold > 0
            clip = {
                "clip": clip_threshold if on else None,
                "clipped": bool(on and v[p] > clip_threshold),
                "unbounded": not on,
            }
        out.append(
            win(
                s,
                a,
                b,
                p,
                b0,
                ratio=ratio,
                z=zp,
                n_points=n_flagged,
                share=n_flagged / (len(v) + s.offset),
                level=float(np.median(v[a : b + 1])),
                from_start=early,
                surge=bool(not early and (limit is None or b0 <= limit)),
                **clip,
            )
        )
    return out


def _near_zero(v: np.ndarray, informative: float, max_quiet: int) -> np.ndarray:
    """Steps that carried (almost) no signal: at or below 0, or below ``informative`` × the
    series' 75th percentile in a run of at most ``max_quiet`` consecutive such points. Empty
    steps come interleaved with the ones that learn; a longer low stretch is the series' own
    level (the points before a lasting rise), not a dip, and stays in the baseline, unless it
    opens the run and the series keeps falling to that level later (a run that started with
    empty steps)."""
    positive = v[v > 0]
    if not len(positive):
        return v <= 0
    low = v < informative * float(np.percentile(positive, 75))
    runs = segments(low)
    for n, (a, b) in enumerate(runs):
        if b - a + 1 > max_quiet and not (a == 0 and n + 1 < len(runs)):
            low[a : b + 1] = False
    return (v <= 0) | low


@detector(
    outputs=(
        "change",
        "change_pct",
        "level_after",
        "settled_points",
        "start_value",
        "peak_pct",
        "recovered",
        "back_step",
        "back_value",
        "n_points",
        "base_points",
    )
)
def level_shift(
    s: Trace,
    *,
    toward: Annotated[str, OneOf(("up", "down"))] = "down",
    window: Count = 20,
    after: Count = 3,
    horizon: Count = 1,
    sustain: Count0 = 0,
    min_periods: Count = 5,
    k: Positive = 8.0,
    k_long: Positive = 4.0,
    rel: NonNegative = 0.25,
    min_delta: NonNegative = 0.0,
    noise_floor: NonNegative = 1.0,
) -> list[Window]:
    """A step change that holds. The running level is the median of the ``window`` points
    before (the highest/lowest such median over the last ``horizon`` points, so a fall spread
    over a few points is still measured from where it began). A shift is the median of the next
    ``after`` points differing from it by ≥ ``k`` × the point-to-point noise (never below
    ``noise_floor`` × the whole series' noise), ≥ ``rel`` × the level and ≥ ``min_delta``
    (``toward``: "down" or "up"); a blip shorter than ``after`` points is not one. With
    ``sustain`` > 0 the median of the next ``sustain`` points also counts when it differs by
    ≥ ``k_long`` standard errors of two medians (a long-lasting shift out of a noisy level).
    The window runs from where the smoothed series first passed half the required change to
    where it came back. Numbers: ``start_value`` (the value at the window's start),
    ``level_after`` (where it settled: the median of the window's last ``window`` points, over
    ``settled_points``), ``change`` / ``change_pct`` (from the running level to that),
    ``peak_pct`` (to the extreme point), and, when the series came back before the end of the
    log (``recovered``), the first point back (``back_step``, ``back_value``)."""
    if toward not in ("up", "down"):
        raise ValueError("toward must be 'up' or 'down'")
    v = s.values
    if len(v) < max(min_periods, after) + 1:
        return []
    down = toward == "down"
    sign = -1.0 if down else 1.0
    rolled = rolling_median(v, window, min_periods)  # one pass serves `before` and `sustain`
    before = shifted(rolled, 1)
    level = future_extreme(before[::-1], horizon, lowest=not down)[::-1]  # past extreme
    floor = noise_floor * _overall_noise(v)
    short = rolling_median(v, after, 1)  # one pass serves the forward and the centred medians
    fwd = shifted(short, -(after - 1))
    fwd[len(v) - after + 1 :] = np.nan
    if sustain == window:
        long_fwd = shifted(rolled, -(sustain - 1))
    else:
        long_fwd = forward_median(v, sustain) if sustain > 0 else np.full(len(v), np.nan)
    se = 1.25 * np.sqrt(1.0 / window + 1.0 / max(sustain, 1))
    if after % 2:  # the centred median, from the same pass; the last points by hand
        sm = shifted(short, -(after // 2))
        for i in range(len(v) - after // 2, len(v)):
            sm[i] = np.median(v[i - after // 2 :])
    else:
        sm = centered_median(v, after)
    with np.errstate(invalid="ignore"):
        base_need = np.fmax(np.fmax(rel * np.abs(level), min_delta), _TINY)
        # cheap tests first; the local noise is computed only where they pass
        cand = np.isfinite(level) & (
            (sign * (fwd - level) >= np.fmax(k * floor, base_need))
            | (sign * (long_fwd - level) >= np.fmax(k_long * se * floor, base_need))
        )
        idx = np.flatnonzero(cand)
        noise = np.full(len(v), np.nan)
        noise[idx] = np.fmax(
            _floor(trailing_noise_at(v, idx, window, min_periods), level[idx]), floor
        )
        need_s = np.fmax(k * noise, base_need)
        need_l = np.fmax(k_long * se * noise, base_need)
        ok = cand & ((sign * (fwd - level) >= need_s) | (sign * (long_fwd - level) >= need_l))
    last = len(v) - 1

    def holds(x: int, y: int, ref: float, ns: float, nl: float) -> bool:
        """Whether the run x..y is a shift: the short test with at least half of ``after``
        points, or the long test with at least half of ``sustain`` points (or to the end)."""
        n_run = y - x + 1
        quick = sign * (fwd[x] - ref) >= ns and n_run >= (after + 1) // 2
        lasting = sign * (long_fwd[x] - ref) >= nl and (n_run >= (sustain + 1) // 2 or y == last)
        return bool(quick or lasting)

    out = []
    taken = -1
    for a, b in segments(ok, after):
        if a <= taken:
            continue
        ref = level[a]
        runs = segments(sign * (sm - ref) >= need_s[a] / 2)
        runs = runs[(runs[:, 1] >= a) & (runs[:, 0] <= b + after)]
        good = [
            (int(x), int(y)) for x, y in runs if holds(int(x), int(y), ref, need_s[a], need_l[a])
        ]
        if not good:
            continue
        start, end = good[0]
        taken = max(end, b)
        p = start + int(np.argmax(sign * v[start : end + 1]))
        tail = v[max(start, end - window + 1) : end + 1]  # where it settled: the window's end
        settled = float(np.median(tail))
        change = sign * (settled - ref)
        scale = abs(ref) if abs(ref) > _TINY else 0.0
        recovered = end < last
        # how many points the running level was the median of (fewer than ``window`` early on)
        js = np.arange(max(0, a - horizon + 1), a + 1)
        hits = js[before[js] == ref]
        j = int(hits[-1]) if len(hits) else a
        out.append(
            win(
                s,
                start,
                end,
                p,
                ref,
                change=change,
                change_pct=abs(change) / scale if scale else float("inf"),
                level_after=settled,
                settled_points=len(tail),
                start_value=float(v[start]),
                peak_pct=abs(float(v[p]) - ref) / scale if scale else float("inf"),
                recovered=recovered,
                back_step=int(s.steps[end + 1]) if recovered else None,
                back_value=float(v[end + 1]) if recovered else None,
                n_points=end - start + 1,
                base_points=min(window, j),
            )
        )
    return out


def _overall_noise(v: np.ndarray) -> float:
    """Point-to-point noise of a whole series: the larger of the IQR- and the mean-absolute-
    deviation estimates of the first differences (the latter stays > 0 for a series that is
    mostly flat with occasional moves)."""
    d = np.diff(v)
    if not len(d):
        return 0.0
    iqr = float(np.subtract(*np.percentile(d, [75, 25]))) / 1.349
    mad = float(np.mean(np.abs(d - np.median(d)))) * np.sqrt(np.pi / 2)
    return max(iqr, mad) / np.sqrt(2.0)


@detector(
    outputs=(
        "drop_pct",
        "before_value",
        "end_value",
        "top_value",
        "top_step",
        "before_from",
        "before_to",
        "n_points",
    )
)
def collapse_from_peak(
    s: Trace,
    *,
    drop: Fraction = 0.5,
    smooth: Count = 5,
    min_points: Count = 3,
    min_share: Share = 0.0,
    until_end: bool = True,
    end_points: Count0 = 0,
) -> list[Window]:
    """The smoothed series (centred rolling median over ``smooth`` points) falls ≥ ``drop``
    (a fraction) below its running peak and stays there: through the end of the log when
    ``until_end``, else for ≥ ``min_points`` points; either way for ≥ ``min_share`` of the
    logged points (a dip in the last few points of a long run is not a collapse). With
    ``end_points`` > 0, a fall still under way at the last logged point needs only that many
    points (the log ends there: it is where the run is now). The window
    starts at the change point: the knee where the level turns into the fall, searched from
    ``2 × smooth`` points before the smoothed series crossed the line to ``smooth`` points after
    it, and never later than the crossing; ``before_value`` is the median of the points just
    before the knee."""
    v = s.values
    sm = centered_median(v, smooth)
    ref = running_max(sm)
    with np.errstate(invalid="ignore"):
        cond = (ref > 0) & (sm <= (1.0 - drop) * ref)
    if until_end:
        onset = runs_to_end(cond)
        segs = [] if onset is None else [(onset, len(v) - 1)]
    else:
        segs = [tuple(x) for x in segments(cond)]
    w = max(smooth, 2)
    out = []
    need = max(min_points, int(np.ceil(min_share * len(v))))
    for a, b in segs:
        if b - a + 1 < (min(need, end_points) if end_points and b == len(v) - 1 else need):
            continue
        # the knee of the fall: searched from 2w points before the crossing to w points after
        # it (a centred median crosses at the first low point of a step, so the fall itself
        # lies on both sides), and never after the crossing
        lo, hi = max(0, a - 2 * w), min(b, a + w) + 1
        cp = min(lo + knee(v[lo:hi]), a) if hi - lo >= 4 else a
        before = float(np.median(v[max(0, cp - w) : cp])) if cp > 0 else float(sm[a])
        r = int(np.argmax(v[: cp + 1]))  # the highest point before the fall, as logged
        level = float(sm[b]) if until_end else float(np.min(sm[a : b + 1]))
        p = cp + int(np.argmin(v[cp : b + 1]))
        out.append(
            win(
                s,
                cp,
                b,
                p,
                before,
                drop_pct=1.0 - level / before if before else 0.0,
                before_value=before,
                end_value=level,
                top_value=float(v[r]),
                top_step=int(s.steps[r]),
                before_from=int(s.steps[max(0, cp - w)]) if cp > 0 else int(s.steps[a]),
                before_to=int(s.steps[cp - 1]) if cp > 0 else int(s.steps[a]),
                n_points=b - cp + 1,
            )
        )
    return out


@detector(
    outputs=(
        "growth",
        "start_level",
        "end_level",
        "rho",
        "first_value",
        "last_value",
        "late",
        "from_step",
    )
)
def magnitude_growth(
    s: Trace,
    *,
    factor: Annotated[float, Range(1, lo_open=True)] = 100.0,
    edge: Annotated[float, Range(0, 0.5, lo_open=True)] = 0.2,
    rho: Correlation = 0.8,
    min_points: Count = 8,
) -> list[Window]:
    """|value| grows steadily by ``factor`` or more, over the whole log or over its last part
    (a growth that starts mid-run): over the points from ``from_step`` to the end, the median of
    |value| over their last ``edge`` share (``end_level``) is ≥ ``factor`` × that over their first
    share (``start_level``) and ≥ ``factor`` × the median |value| of as many points before them,
    and |value| rises with the step there (Spearman ρ ≥ ``rho``). The tested spans are the whole
    log, then the last 80 %, 64 %, ... of it down to ``min_points`` points; the longest that
    passes is reported (``late`` when it is not the whole log). Works whatever the sign (a
    loss diverging to −1e6). The window starts where the growth does: the last point, before
    the largest |value|, at the lowest |value| logged up to it, within 4× the noise of
    log |value| (from its second differences before |value| passed √``factor`` × the start
    level; a steady growth has none): the first point when the series grows from the start.
    ``first_value`` / ``last_value`` are the signed values at the window's start and at the
    last point."""
    n = len(s)
    if n < min_points:
        return []
    a = np.abs(s.values)
    found = None
    length = n
    while length >= min_points:
        i = n - length
        found = _steady_growth(s.steps[i:], a[i:], a[max(0, i - length) : i], factor, edge, rho)
        if found is not None:
            break
        nxt = int(length * 0.8)
        length = nxt if nxt < length else length - 1
    if found is None:
        return []
    s0, s1, r = found
    p = int(np.argmax(a))
    x = np.log(np.maximum(a[: p + 1], _TINY))
    took_off = int(np.argmax(a > np.sqrt(factor) * s0))  # well into the growth by then
    d2 = np.diff(x[: max(took_off, 3) + 1], 2)  # a steady (geometric) growth has none
    noise = 1.4826 * float(np.median(np.abs(d2 - np.median(d2)))) / np.sqrt(6) if len(d2) else 0
    near_low = np.flatnonzero(x <= np.fmin.accumulate(x) + 4 * noise)
    start = int(near_low[-1])
    return [
        win(
            s,
            start,
            n - 1,
            p,
            float(s.values[start]),
            growth=s1 / s0,
            start_level=s0,
            end_level=s1,
            rho=r,
            first_value=float(s.values[start]),
            last_value=float(s.values[-1]),
            late=i > 0,
            from_step=int(s.steps[i]),
        )
    ]


def _steady_growth(
    steps: np.ndarray, a: np.ndarray, before: np.ndarray, factor: float, edge: float, rho: float
) -> tuple[float, float, float] | None:
    """(start level, end level, ρ) when |value| ``a`` grows by ``factor`` from its first to its
    last ``edge`` share, and from the level of the points ``before`` it, steadily; else None."""
    e = max(2, round(edge * len(a)))
    s0, s1 = float(np.median(a[:e])), float(np.median(a[-e:]))
    ref = max(s0, float(np.median(before))) if len(before) else s0
    if s0 <= 0 or s1 < factor * ref:
        return None
    r = spearman(steps, a)
    return (s0, s1, r) if r >= rho else None


@detector(outputs=("n_points", "share", "extreme", "first", "last"))
def bound(
    s: Trace,
    *,
    above: Real | None = None,
    below: Real | None = None,
    inclusive: bool = False,
    smooth: Count = 1,
    min_points: Count = 1,
    gap: Count0 = 0,
    percent: bool = False,
) -> list[Window]:
    """Stretches of ≥ ``min_points`` points (after a centred rolling median over ``smooth``)
    above ``above`` or below ``below`` (``inclusive``: at the bound counts too). ``percent``:
    the series may be a fraction or a percent; bounds are in percent."""
    v = as_percent(s.values) if percent else s.values
    sm = centered_median(v, smooth)
    flag = np.zeros(len(v), dtype=bool)
    if above is not None:
        flag |= (sm >= above) if inclusive else (sm > above)
    if below is not None:
        flag |= (sm <= below) if inclusive else (sm < below)
    out = []
    for a, b in segments(flag, gap):
        if b - a + 1 < min_points:
            continue
        seg = sm[a : b + 1]
        hi = above is not None and (below is None or np.nanmax(seg) > above)
        p = a + int(np.argmax(seg) if hi else np.argmin(seg))
        prior = s.values[max(0, a - 20) : a]
        base = float(np.median(prior)) if len(prior) else None
        out.append(
            win(
                s,
                a,
                b,
                p,
                base,
                n_points=b - a + 1,
                share=(b - a + 1) / len(v),
                extreme=float(v[p]),
                first=float(v[0]),
                last=float(v[-1]),
            )
        )
    return out


@detector(outputs=("count", "nan_count", "inf_count"), raw=True, lookback=lambda params: 0)
def non_finite(s: Trace) -> list[Window]:
    """Any NaN or ±Inf value: one window from the first to the last such point."""
    bad = ~np.isfinite(s.values)
    if not bad.any():
        return []
    idx = np.flatnonzero(bad)
    a, b = int(idx[0]), int(idx[-1])
    rows = tuple(sorted({*range(max(0, a - 2), a), *idx[:6].tolist(), b}))
    nan = int(np.isnan(s.values).sum())
    return [
        win(s, a, b, a, None, rows=rows, count=len(idx), nan_count=nan, inf_count=len(idx) - nan)
    ]
