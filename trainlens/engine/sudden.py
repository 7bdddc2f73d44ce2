"""Spikes judged against what the series did just around them: ``spike``'s windows, less those
that only a lagging rolling median makes look high (a steep ramp, such as KL growing from 0 in
the first steps), plus spikes in the first logged points, before a rolling median exists,
judged against the points after them.

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trainlens.engine.detectors import _TINY, spike, spike_lookback
from trainlens.engine.registry import (
    Count,
    Count0,
    NonNegative,
    Positive,
    Real,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win

_SPIKE_ONLY = frozenset({"surge", "clip", "clipped", "unbounded"})


@detector(
    outputs=("ratio", "z", "n_points", "share", "level", "from_start", "early", "n_after"),
    lookback=spike_lookback,
)
def sudden_spike(
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
    recent: Count0 = 0,
    early: bool = False,
) -> list[Window]:
    """``spike`` (same parameters, same numbers), where a window also has to reach ≥ ``factor``
    × and ≥ ``min_delta`` above the median of the ``recent`` points just before it (0: no such
    test; a hard ``limit`` still counts): a series climbing steeply is far above its rolling
    median at every point, without any spike. ``early``: a point among the first
    ``min_periods`` (no rolling median yet) that is higher than every point before it (not the
    high first value of a falling curve) and ≥ ``factor`` × the median of the ``min_periods``
    points after it, by a robust z ≥ ``k`` against their point-to-point noise (on log values
    with ``log``), is a spike too (``early``, judged against ``n_after`` points after it)."""
    out = spike(
        s,
        window=window,
        min_periods=min_periods,
        k=k,
        factor=factor,
        history_factor=history_factor,
        tail_factor=tail_factor,
        tail_q=tail_q,
        min_delta=min_delta,
        limit=limit,
        log=log,
        gap=gap,
        require_positive=require_positive,
    )
    v = s.values
    if recent:
        out = [w for w in out if _above_recent(v, w, recent, factor, min_delta, limit)]
    # spike's own numbers about a rise from the limit and gradient clipping are not this one's
    out = [
        replace(w, numbers={k: x for k, x in w.numbers.items() if k not in _SPIKE_ONLY})
        for w in out
    ]
    out = [_with(w, early=False, n_after=0) for w in out]
    if early:
        w = _early_spike(s, min_periods=min_periods, k=k, factor=factor, log=log)
        if w is not None and not any(o.start <= w.end and o.end >= w.start for o in out):
            out = sorted([*out, w], key=lambda o: o.start)
    return out


def _with(w: Window, **numbers: object) -> Window:
    return replace(w, numbers={**w.numbers, **numbers})


def _above_recent(
    v: np.ndarray, w: Window, recent: int, factor: float, min_delta: float, limit: float | None
) -> bool:
    """Whether the window's peak is far above the points just before it too (or over the
    hard limit)."""
    peak = float(v[w.peak]) if w.peak is not None else float(w.peak_value or 0.0)
    if limit is not None and peak > limit:
        return True
    start = int(w.start or 0)
    before = v[max(0, start - recent) : start]
    if not len(before):
        return True
    ref = float(np.median(before))
    return peak - ref >= min_delta and (ref <= 0 or peak >= factor * ref)


def _early_spike(
    s: Trace, *, min_periods: int, k: float, factor: float, log: bool
) -> Window | None:
    """The highest point among the first ``min_periods`` that is a spike against the points
    after it (see ``sudden_spike``), or None."""
    v = s.values
    n = len(v)
    best = None
    for i in range(1, min(min_periods, n - min_periods)):
        if not v[i] > np.max(v[:i]) or v[i] <= 0:
            continue
        after = v[i + 1 : i + 1 + min_periods]
        ref = float(np.median(after))
        if ref <= 0 or v[i] < factor * ref:
            continue
        x = np.log(np.maximum(after, _TINY)) if log else after
        d = np.diff(x)
        noise = float(np.subtract(*np.percentile(d, [75, 25]))) / 1.349 if len(d) > 1 else 0.0
        noise = max(noise, 0.05) if log else max(noise, 0.01 * abs(ref), _TINY)
        z = ((np.log(v[i]) - np.log(ref)) if log else (v[i] - ref)) / noise
        if z >= k and (best is None or v[i] > v[best[0]]):
            best = (i, ref, z)
    if best is None:
        return None
    i, ref, z = best
    return win(
        s,
        i,
        i,
        i,
        ref,
        ratio=float(v[i]) / ref,
        z=float(z),
        n_points=1,
        share=1 / (n + s.offset),
        level=float(v[i]),
        from_start=False,
        early=True,
        n_after=min_periods,
    )
