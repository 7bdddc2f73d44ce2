"""Detectors of a training that stops moving: a series stuck at 0 (KL), gradients that vanish
for good or collapse at isolated steps, rollouts that teach nothing, and resumes read from the
run's metadata.

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlens.engine.detectors import _TINY, collapse_from_peak
from trainlens.engine.registry import (
    Count,
    Fraction,
    NonNegative,
    NotApplicable,
    Positive,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win
from trainlens.engine.stats import align_last, centered_median, running_max, segments

#: MAD × 1.4826 estimates a normal distribution's standard deviation.
_MAD_TO_SIGMA = 1.4826


@detector(outputs=("stuck_share", "n_points", "max_abs"))
def stuck_at_zero(
    s: Trace,
    lr: Trace | None = None,
    *,
    eps: NonNegative = 1e-6,
    min_points: Count = 10,
    min_share: Share = 0.1,
    kl_coef: float | None = None,
) -> list[Window]:
    """Stretches of consecutive points with |value| ≤ ``eps`` once the model has been
    updating: ≥ ``min_points`` of their points at or after the first step with a learning rate
    (when logged) above 0 (a KL does not return to 0 when a decayed schedule reaches a learning
    rate of 0: the policy stays where it went), covering ≥ ``min_share`` of the series unless
    the stretch lasts to the end of the log (a value that went to 0 and stayed there). A short
    log (fewer than 2 × ``min_points`` points) needs half of its points. The window holds the
    stretch's points at a learning rate above 0 (``n_points`` of them) when it has any. A run
    whose KL coefficient (``kl_coef``, from its config) is 0 is not judged: its KL may be
    logged as 0 by design."""
    if kl_coef == 0:
        raise NotApplicable("kl_off")
    v = s.values
    n = len(v)
    zero = np.abs(v) <= eps
    live = np.ones(n, dtype=bool)
    if lr is not None and len(lr):
        live = align_last(s.steps, lr.steps, lr.values) > 0
    updated = np.maximum.accumulate(live)  # the model has been updating by then
    need = min(min_points, max(2, int(np.ceil(n / 2))))
    need_share = int(np.ceil(min_share * n))
    out = []
    for a, b in segments(zero, 0):
        n_updated = int(updated[a : b + 1].sum())
        if n_updated < need or (b < n - 1 and b - a + 1 < need_share):
            continue
        at = a + np.flatnonzero(live[a : b + 1])
        if not len(at):
            at = a + np.flatnonzero(updated[a : b + 1])
        a, b = int(at[0]), int(at[-1])
        out.append(
            win(
                s,
                a,
                b,
                b,
                None,
                stuck_share=(b - a + 1) / n,
                n_points=len(at),
                max_abs=float(np.max(np.abs(v[a : b + 1]))),
            )
        )
    return out


@detector(outputs=("ref_value", "n_points", "level", "from_start"))
def vanishing(
    s: Trace,
    loss: Trace | None = None,
    *,
    ratio: Fraction = 1e-3,
    eps: NonNegative = 1e-8,
    window: Count = 20,
    min_points: Count = 5,
    loss_ratio: Fraction = 0.1,
) -> list[Window]:
    """≥ ``min_points`` consecutive points at ~0: ≤ ``eps``, or ≤ ``ratio`` × the series' earlier
    level (running peak of its rolling median over ``window``) while the loss, when it is
    a positive loss, has not shrunk to ≤ ``loss_ratio`` × its own earlier level (a gradient
    that vanishes because the loss did is convergence, not a fault)."""
    v = s.values
    ref = running_max(centered_median(v, window))
    small = v <= ratio * ref
    if loss is not None and len(loss) and not (loss.values < 0).any():
        lv = centered_median(loss.values, window)
        lref = running_max(lv)
        loss_here = align_last(s.steps, loss.steps, lv)
        lref_here = align_last(s.steps, loss.steps, lref)
        small &= loss_here > loss_ratio * lref_here
    flag = (v <= eps) | small
    out = []
    for a, b in segments(flag, 0):
        if b - a + 1 < min_points:
            continue
        r = float(ref[a]) if np.isfinite(ref[a]) else None
        out.append(
            win(
                s,
                a,
                b,
                a,
                r,
                ref_value=r if r is not None else float("nan"),
                n_points=b - a + 1,
                level=float(np.median(v[a : b + 1])),
                # ~0 from the first logged point: there is no earlier level to quote
                from_start=bool(a == 0 or not (r is not None and r > eps)),
            )
        )
    return out


@detector(outputs=("level", "ref_value", "n_points", "all_groups"))
def no_signal(
    frac_zero: Trace | None = None,
    reward_std: Trace | None = None,
    *,
    limit: Share = 0.5,
    smooth: Count = 5,
    min_points: Count = 5,
    std_drop: Fraction = 0.9,
) -> list[Window]:
    """Rollouts that teach nothing: the share of groups with zero reward variance stays above
    ``limit`` (rolling median over ``smooth`` points, ≥ ``min_points`` points); without that
    series, the reward std falls ≥ ``std_drop`` below its running peak and stays there."""
    if frac_zero is not None:
        sm = centered_median(frac_zero.values, smooth)
        out = []
        for a, b in segments(sm > limit, 0):
            if b - a + 1 < min_points:
                continue
            prior = frac_zero.values[max(0, a - 20) : a]
            base = float(np.median(prior)) if len(prior) else None
            p = a + int(np.argmax(frac_zero.values[a : b + 1]))
            level = float(np.median(sm[a : b + 1]))
            out.append(
                win(
                    frac_zero,
                    a,
                    b,
                    p,
                    base,
                    level=level,
                    ref_value=limit,
                    n_points=b - a + 1,
                    all_groups=level >= 1.0,
                )
            )
        return out
    if reward_std is None:
        raise NotApplicable("needs_inputs", needs="frac_reward_zero_std or reward_std")
    found = collapse_from_peak(reward_std, drop=std_drop, smooth=smooth, min_points=min_points)
    return [
        Window(
            w.start_step,
            w.end_step,
            w.peak_step,
            w.peak_value,
            w.baseline,
            {
                "level": w.numbers["end_value"],
                "ref_value": w.numbers["before_value"] * (1.0 - std_drop),  # the alarm level
                "n_points": w.numbers["n_points"],
                "all_groups": False,
            },
            1,
            w.start,
            w.end,
            w.peak,
        )
        for w in found
    ]


@detector(outputs=("n_points", "at_steps", "lowest", "ref_value", "z"))
def collapsed_points(
    s: Trace,
    *,
    ratio: Fraction = 1e-2,
    k: Positive = 10.0,
    window: Count = 11,
    scale_window: Count = 51,
    max_points: Count = 4,
    max_listed: Count = 10,
) -> list[Window]:
    """Isolated points at ~0, far below anything the series' own noise reaches: ≤ ``ratio`` ×
    the local level (the centred rolling median over ``window`` points, which a few low points
    do not move while ``max_points`` < ``window`` / 2) and ≥ ``k`` robust standard deviations
    below it on log values (scale: MAD of the log values over ``scale_window`` centred points,
    so a series whose norm routinely swings by orders of magnitude does not count), in runs of
    at most ``max_points`` consecutive points; longer runs are a vanishing series, not isolated
    points. One window from the first to the last of them: ``n_points``, ``at_steps`` (the
    first ``max_listed`` of their steps, then "…"), ``lowest``, ``ref_value`` (the median local
    level around them) and ``z`` (the smallest robust z, negative)."""
    v = s.values
    if len(v) < 3:
        return []
    x = np.log(np.maximum(v, _TINY))
    local = centered_median(x, window)
    spread = _MAD_TO_SIGMA * centered_median(
        np.abs(x - centered_median(x, scale_window)), scale_window
    )
    z = (x - local) / np.fmax(spread, 0.05)
    flag = (v <= ratio * np.exp(local)) & (z <= -k)
    runs = segments(flag)
    runs = runs[runs[:, 1] - runs[:, 0] + 1 <= max_points]
    if not len(runs):
        return []
    idx = np.concatenate([np.arange(a, b + 1) for a, b in runs])  # a loop over found runs
    low = int(idx[np.argmin(v[idx])])
    ref = float(np.median(np.exp(local[idx])))
    listed: list[Any] = [int(x) for x in s.steps[idx[:max_listed]]]
    if len(idx) > max_listed:
        listed.append("…")
    rows = tuple(sorted({int(j) for i in idx for j in (i - 1, i, i + 1) if 0 <= j < len(v)}))
    return [
        win(
            s,
            int(idx[0]),
            int(idx[-1]),
            low,
            ref,
            rows=rows,
            n_points=len(idx),
            at_steps=tuple(listed),
            lowest=float(v[low]),
            ref_value=ref,
            z=float(np.min(z[idx])),
        )
    ]


@detector(outputs=("previous_step", "overwritten", "n_restarts", "restart_steps", "summarised"))
def restarted(*, restarts: tuple[Any, ...] = (), max_findings: Count = 3) -> list[Window]:
    """Each resume from a checkpoint: logging went back from ``previous_step`` to a step already
    logged, and ``overwritten`` logged steps were logged again. A restart reported twice (the
    same step and previous step) counts once. More than ``max_findings`` restarts are
    summarised in one window from the first restart step to the last previous step
    (``summarised``; ``n_restarts``, ``restart_steps``: the first 10 steps, ``overwritten``: the
    total): a log that goes back that often interleaves attempts or is not ordered by step."""
    unique: dict[tuple[int, int], Any] = {}
    for r in restarts:
        unique.setdefault((int(r["step"]), int(r["previous_step"])), r)
    found = list(unique.values())
    if len(found) <= max_findings:
        return [
            Window(
                start_step=int(r["step"]),
                end_step=int(r["previous_step"]),
                peak_step=int(r["step"]),
                numbers={
                    "previous_step": int(r["previous_step"]),
                    "overwritten": int(r["overwritten"]),
                    "n_restarts": 1,
                    "restart_steps": (int(r["step"]),),
                    "summarised": False,
                },
                series=None,
            )
            for r in found
        ]
    steps = [int(r["step"]) for r in found]
    listed: list[Any] = steps[:10] + (["…"] if len(steps) > 10 else [])
    last = max(int(r["previous_step"]) for r in found)
    return [
        Window(
            start_step=min(steps),
            end_step=max(last, min(steps)),
            peak_step=steps[0],
            numbers={
                "previous_step": last,
                "overwritten": sum(int(r["overwritten"]) for r in found),
                "n_restarts": len(found),
                "restart_steps": tuple(listed),
                "summarised": True,
            },
            series=None,
        )
    ]
