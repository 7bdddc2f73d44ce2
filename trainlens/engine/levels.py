"""Detectors of a level that is wrong, not a jump: a KL that sits far above its healthy range
or drifts up out of it, and a trainer whose log-probs part from the rollout engine's.

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

import numpy as np

from trainlens.engine.registry import (
    Correlation,
    Count,
    NotApplicable,
    Positive,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win
from trainlens.engine.stats import centered_median, knee, segments, spearman


def kl_ceiling(limit: float, beta_ref: float, kl_coef: float | None) -> float:
    """The highest per-token KL a healthy run sits at: ``limit`` nats per token at the usual
    coefficient ``beta_ref`` or below it, lower in proportion when the run's coefficient is
    larger (the penalty ``beta * KL`` it pays stays the same)."""
    if kl_coef is None or kl_coef <= beta_ref:
        return limit
    return limit * beta_ref / kl_coef


@detector(outputs=("ceiling", "level", "n_points", "share", "drift", "rho", "growth"))
def kl_level(
    s: Trace,
    *,
    limit: Positive = 0.3,
    beta_ref: Positive = 0.04,
    window: Count = 5,
    min_points: Count = 4,
    min_share: Share = 0.2,
    drift_points: Count = 12,
    drift_rho: Correlation = 0.8,
    drift_growth: Positive = 5.0,
    kl_coef: float | None = None,
) -> list[Window]:
    """A KL that sits above ``kl_ceiling`` (its centred median over ``window`` points, or 5 %
    of the run when more, for at least ``min_points`` logged points and ``min_share`` of the
    run), or a KL that drifts up out of it (reported instead when the climb began first):
    from the point where a flat stretch turns into a trend (``knee``) to the end, at least
    ``drift_points`` points with a Spearman ρ ≥ ``drift_rho`` against the step, ending above
    the ceiling (the smoothed KL at its last ``min_points`` points) and ≥ ``drift_growth`` ×
    where it started. A run whose KL coefficient is 0 is not judged (no penalty holds the
    policy near the reference)."""
    if kl_coef == 0:
        raise NotApplicable("kl_off")
    v = s.values
    n = len(v)
    ceiling = kl_ceiling(limit, beta_ref, kl_coef)
    w = max(1, min(max(window, n // 20), n // 4 or 1))
    m = centered_median(v, w)
    need = max(min_points, int(np.ceil(min_share * n)))
    best: tuple[int, int] | None = None
    for a, b in segments(m > ceiling, gap=max(1, w // 2)):
        if b - a + 1 >= need and (best is None or b - a > best[1] - best[0]):
            best = (int(a), int(b))
    drift = _drift(s, m, ceiling, drift_points, drift_rho, drift_growth, min_points)
    if drift and (best is None or drift[0].start is not None and drift[0].start < best[0]):
        return drift  # it climbed there: the trend is the finding
    if best is not None:
        a, b = best
        peak = a + int(np.argmax(v[a : b + 1]))
        return [
            win(
                s,
                a,
                b,
                peak,
                ceiling,
                ceiling=ceiling,
                level=float(np.median(v[a : b + 1])),
                n_points=b - a + 1,
                share=(b - a + 1) / n,
                drift=False,
                rho=float("nan"),
                growth=float("nan"),
            )
        ]
    return []


def _drift(
    s: Trace,
    m: np.ndarray,
    ceiling: float,
    points: int,
    rho_min: float,
    growth_min: float,
    last: int,
) -> list[Window]:
    """The KL's trend from its knee to the end, when it rose steadily out of its range: the
    smoothed KL ``m`` above the ceiling at its ``last`` points (one noisy value is no drift)."""
    v = s.values
    n = len(v)
    if n < points or not (m[-last:] > ceiling).all():
        return []
    a = min(knee(m), n - points)
    tail = max(3, (n - a) // 10)
    start_level = float(np.median(v[a : a + tail]))
    end_level = float(np.median(v[n - tail :]))  # a few points: one noisy last value is no drift
    rho = spearman(s.steps[a:].astype(float), m[a:])
    growth = end_level / max(start_level, ceiling * 1e-3)
    if not (end_level > ceiling and rho >= rho_min and growth >= growth_min):
        return []
    return [
        win(
            s,
            a,
            n - 1,
            a + int(np.argmax(v[a:])),
            start_level,
            ceiling=ceiling,
            level=end_level,
            n_points=n - a,
            share=(n - a) / n,
            drift=True,
            rho=rho,
            growth=growth,
        )
    ]


@detector(
    outputs=("grown", "low_ess", "level", "early_level", "limit", "n_points", "ess_min", "growth")
)
def rollout_mismatch(
    kl: Trace | None = None,
    logp_diff: Trace | None = None,
    ess: Trace | None = None,
    *,
    kl_limit: Positive = 0.1,
    diff_limit: Positive = 0.02,
    ess_limit: Share = 0.3,
    growth: Positive = 10.0,
    gap_floor: Positive = 0.01,
    early_share: Share = 0.2,
    window: Count = 5,
    min_points: Count = 3,
) -> list[Window]:
    """Training-inference mismatch: the gap between the trainer's and the rollout engine's
    log-probs per token (``kl``, else ``logp_diff``: mean |Δ log p|, each with its own limit)
    whose centred median over ``window`` points grows to ≥ ``growth`` × its level over the
    first ``early_share`` of the run while above ``gap_floor``, or (when it did not grow)
    stays above ``kl_limit`` / ``diff_limit``, for ``min_points`` points; or the
    importance-sampling effective sample size (``ess``, a share of the batch) below
    ``ess_limit`` as long. An ESS stretch inside a reported gap stretch is not reported
    again (one event, one finding)."""
    gap, gap_limit, series = (kl, kl_limit, 0) if kl is not None else (logp_diff, diff_limit, 1)
    out: list[Window] = []
    if gap is not None and len(gap):
        v = np.abs(gap.values)
        m = centered_median(v, _width(len(v), window))
        k = max(1, int(np.ceil(early_share * len(v))))
        early = float(np.median(v[:k]))
        # an early level below gap_floor / growth counts as that (0 early: growth is finite)
        base = max(early, gap_floor / growth)
        high = m > gap_limit
        grown = (m > gap_floor) & (m >= growth * base)
        grown[:k] = False
        # a gap that grew is reported from where it grew; else one that is high from the start
        for flag, kind, limit in ((grown, "growth", growth * base), (high, "high", gap_limit)):
            seg = _longest(flag, min_points)
            if seg is not None:
                a, b = seg
                out.append(
                    win(
                        gap,
                        a,
                        b,
                        a + int(np.argmax(v[a : b + 1])),
                        early,
                        series=series,
                        grown=kind == "growth",
                        low_ess=False,
                        level=float(np.median(v[a : b + 1])),
                        early_level=early,
                        limit=float(limit),
                        n_points=b - a + 1,
                        ess_min=_ess_min(ess, gap.steps[a], gap.steps[b]),
                        growth=float(np.median(v[a : b + 1])) / base,
                    )
                )
                break
    if ess is not None and len(ess):
        e = ess.values
        seg = _longest(centered_median(e, _width(len(e), window)) < ess_limit, min_points)
        if seg is not None:
            a, b = seg
            lo, hi = int(ess.steps[a]), int(ess.steps[b])
            if not any(w.start_step <= hi and w.end_step >= lo for w in out):
                early = float(np.median(e[: max(1, int(np.ceil(early_share * len(e))))]))
                out.append(
                    win(
                        ess,
                        a,
                        b,
                        a + int(np.argmin(e[a : b + 1])),
                        early,
                        series=2,
                        grown=False,
                        low_ess=True,
                        level=float(np.median(e[a : b + 1])),
                        early_level=early,
                        limit=ess_limit,
                        n_points=b - a + 1,
                        ess_min=float(np.min(e[a : b + 1])),
                        growth=float("nan"),
                    )
                )
    return out


def _width(n: int, window: int) -> int:
    return max(1, min(window, n // 4 or 1))


def _longest(flag: np.ndarray, min_points: int) -> tuple[int, int] | None:
    """The first of the longest stretches of ``flag`` (one point's gap bridged) of at least
    ``min_points`` points."""
    best: tuple[int, int] | None = None
    for a, b in segments(flag, gap=1):
        if b - a + 1 >= min_points and (best is None or b - a > best[1] - best[0]):
            best = (int(a), int(b))
    return best


def _ess_min(ess: Trace | None, lo: int, hi: int) -> float:
    if ess is None or not len(ess):
        return float("nan")
    inside = (ess.steps >= lo) & (ess.steps <= hi)
    return float(np.min(ess.values[inside])) if inside.any() else float("nan")
