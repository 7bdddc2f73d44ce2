"""A level that changed for good: ``level_shift``'s step changes, plus a change point tested
against the whole stretch after it (a series that settles at a new level and stays there to the
end of the log, however short the stretch before it, however noisy the level it left).

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from scipy.stats import rankdata

from trainlens.engine.detectors import _TINY, level_shift
from trainlens.engine.registry import (
    Count,
    Count0,
    NonNegative,
    OneOf,
    Positive,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win

_OUTPUTS = (
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


@detector(outputs=_OUTPUTS)
def lasting_shift(
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
    separation: Share = 0.95,
    min_z: Positive = 2.0,
    min_before: Count = 3,
    min_after: Count = 3,
    step_share: Share = 0.5,
) -> list[Window]:
    """``level_shift`` (same parameters, same numbers), plus a change to a level that lasts to
    the end of the log: at the most likely change point of the mean (the CUSUM extreme, with
    ≥ ``min_before`` points before and ≥ ``min_after`` after), the points after it all lie
    beyond those before it (as many before as after, at least ``window``) in ≥ ``separation``
    of the pairs (a rank test; its z ≥ ``min_z``), their medians differ by ≥ ``rel`` × the
    level before and ≥ ``min_delta``, and ≥ ``step_share`` of that change happens at the
    change point (the medians of the few points on either side: a step, not a slow trend).
    Such a window (from the change point to the end, never recovered) is added when no
    ``level_shift`` window overlaps it. This finds a reward that rose for 3 points and is 0
    ever after, or one noisy around a high level that settled far lower, where a running
    level and the point-to-point noise do not."""
    out = level_shift(
        s,
        toward=toward,
        window=window,
        after=after,
        horizon=horizon,
        sustain=sustain,
        min_periods=min_periods,
        k=k,
        k_long=k_long,
        rel=rel,
        min_delta=min_delta,
        noise_floor=noise_floor,
    )
    w = _settled_change(
        s,
        down=toward == "down",
        window=window,
        rel=rel,
        min_delta=min_delta,
        separation=separation,
        min_z=min_z,
        min_before=min_before,
        min_after=min_after,
        step_share=step_share,
    )
    if w is not None and not any(o.start <= w.end and o.end >= w.start for o in out):
        out = sorted([*out, w], key=lambda o: o.start)
    return out


def _settled_change(
    s: Trace,
    *,
    down: bool,
    window: int,
    rel: float,
    min_delta: float,
    separation: float,
    min_z: float,
    min_before: int,
    min_after: int,
    step_share: float,
) -> Window | None:
    """The change-point window of ``lasting_shift``, or None."""
    v = s.values
    n = len(v)
    if n < min_before + min_after:
        return None
    sign = -1.0 if down else 1.0
    cusum = np.cumsum(v - v.mean())[:-1]  # cusum[c - 1]: the points before c, minus the mean
    c = min_before + int(np.argmax(-sign * cusum[min_before - 1 : n - min_after]))
    post = v[c:]
    pre = v[max(0, c - max(len(post), window)) : c]
    ref, settled_all = float(np.median(pre)), float(np.median(post))
    change = sign * (settled_all - ref)
    if change <= max(rel * abs(ref), min_delta, _TINY):
        return None
    n1, n2 = len(pre), len(post)
    ranks = rankdata(np.r_[pre, post])
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2  # pairs with the point before the larger
    if not down:
        u = n1 * n2 - u
    z = (u - n1 * n2 / 2) / np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    if u / (n1 * n2) < separation or z < min_z:
        return None
    w = min(5, n1, n2)  # a step: most of the change between the points either side of it
    local = sign * (float(np.median(v[c : c + w])) - float(np.median(v[c - w : c])))
    if local < step_share * change:
        return None
    tail = v[max(c, n - window) :]
    settled = float(np.median(tail))
    p = c + int(np.argmax(sign * post))
    scale = abs(ref) if abs(ref) > _TINY else 0.0
    moved = sign * (settled - ref)
    return win(
        s,
        c,
        n - 1,
        p,
        ref,
        change=moved,
        change_pct=abs(moved) / scale if scale else float("inf"),
        level_after=settled,
        settled_points=len(tail),
        start_value=float(v[c]),
        peak_pct=abs(float(v[p]) - ref) / scale if scale else float("inf"),
        recovered=False,
        back_step=None,
        back_value=None,
        n_points=n - c,
        base_points=n1,
    )
