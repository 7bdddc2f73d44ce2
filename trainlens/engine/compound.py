"""Detectors that combine several series (student vs teacher, eval vs train loss, length vs
score) or read run facts (a metric's direction), and the ones made for one kind of metric
(accuracies, correlations). Stalls (stuck, vanishing, restarts) are in ``stalls``.

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from trainlens.checkpoints import best_then_degrade
from trainlens.engine.detectors import _TINY
from trainlens.engine.registry import (
    MAX_COUNT,
    Correlation,
    Count,
    NonNegative,
    NotApplicable,
    Positive,
    Range,
    Share,
    Trace,
    Window,
    detector,
)
from trainlens.engine.registry import window as win
from trainlens.engine.stats import (
    align_last,
    as_percent,
    centered_median,
    knee,
    rolling_median,
    segments,
    shifted,
    spearman,
)


@detector(outputs=("from_pct", "to_pct", "jump_pts"))
def accuracy_jump(
    s: Trace,
    *,
    jump: Positive = 20.0,
    saturate: Annotated[float, Range(0, 100)] = 95.0,
    early: Share = 0.2,
    settle: Annotated[int, Range(1, 50)] = 3,
) -> list[Window]:
    """An accuracy (fraction or percent) rising ≥ ``jump`` points between consecutive logged
    points, or between the medians of the (up to) ``settle`` points before and from a point
    (a step the point-to-point noise hides); or reaching ``saturate`` % within the first
    ``early`` share of the logged steps, unless a jump before already explains it (one event,
    one finding)."""
    p = as_percent(s.values)
    if len(p) < 2:
        return []
    d = np.diff(p)
    flag = np.zeros(len(p), dtype=bool)
    flag[1:] = d >= jump
    if settle > 1 and len(p) > 2:
        before = shifted(rolling_median(p, settle, 1), 1)
        after = rolling_median(p[::-1], settle, 1)[::-1]  # median of p[i : i + settle]
        with np.errstate(invalid="ignore"):
            # the point itself is past half the step: the step is at it, not before it
            step_up = (after - before >= jump) & (p - before >= jump / 2)
        step_up[0] = False
        flag |= step_up & ~np.r_[False, step_up[:-1]]  # the first point of each such stretch
    span = s.steps[-1] - s.steps[0]
    early_mask = s.steps <= s.steps[0] + early * span
    sat = np.flatnonzero((p >= saturate) & early_mask)
    if len(sat) and not flag[: sat[0]].any():
        flag[sat[0]] = True
    out = []
    for a, b in segments(flag, 0):
        i = a + int(np.argmax(p[a : b + 1]))
        prev = max(a - 1, 0)
        out.append(
            win(
                s,
                prev,
                b,
                i,
                s.values[prev],
                from_pct=float(p[prev]),
                to_pct=float(p[i]),
                jump_pts=float(p[i] - p[prev]),
                rows=tuple(range(max(0, prev - 2), min(len(p), b + 3))),
            )
        )
    return out


@detector(
    outputs=(
        "student_start",
        "student_end",
        "student_first",
        "student_last",
        "teacher_start",
        "teacher_end",
        "drop",
        "rho",
        "settled",
        "from_step",
    )
)
def diverging_scores(
    student: Trace,
    teacher: Trace,
    *,
    edge: Annotated[float, Range(0, 0.5, lo_open=True)] = 0.2,
    rho: Correlation = -0.6,
    k: NonNegative = 3.0,
    teacher_ratio: NonNegative = 0.3,
    min_points: Annotated[int, Range(2, MAX_COUNT)] = 8,
    stay: Share = 0.8,
) -> list[Window]:
    """The first series falls while the second stays level, over the whole log or over its
    last part (a fall that starts late): over the points from ``from_step`` to the end, the
    drop of the medians of their first/last ``edge`` share is ≥ ``k`` × the first series'
    point-to-point noise (over the whole log), the fall is steady (Spearman ρ with step ≤
    ``rho``) or for good (``settled``: ≥ ``stay`` of the points after the first ``edge`` share
    lie below the midpoint of the two levels, a fall that rebounds a little, as a short warm-up
    does), and the second series' own change over the same points is ≤ ``teacher_ratio`` ×
    that drop. The tested spans are the whole log, then the last 80 %, 64 %, ... of it down to
    ``min_points`` points; the longest that passes is reported. The window starts at the
    highest smoothed point of the first half (whole log) or where the level turns into the
    fall (a knee; last part)."""
    n = len(student)
    if n < min_points:
        return []
    v = student.values
    t = align_last(student.steps, teacher.steps, teacher.values)
    diffs = np.diff(v)
    noise = float(np.subtract(*np.percentile(diffs, [75, 25]))) / 1.349 / np.sqrt(2.0)
    length = n
    found = None
    while length >= min_points:
        i = n - length
        found = _student_falls(
            student.steps[i:], v[i:], t[i:], noise, edge, rho, k, teacher_ratio, stay
        )
        if found is not None:
            break
        nxt = int(length * 0.8)
        length = nxt if nxt < length else length - 1
    if found is None:
        return []
    s0, s1, t0, t1, r, settled = found
    if i == 0:  # the whole log falls: from its highest (smoothed) point in the first half
        sm = centered_median(v, 5)
        a = int(np.argmax(sm[: n // 2 + 1]))
    else:  # a late fall: from where the level turns into the fall
        a = i + knee(v[i:])
    p = a + int(np.argmin(v[a:]))
    return [
        win(
            student,
            a,
            n - 1,
            p,
            s0,
            student_start=s0,
            student_end=s1,
            student_first=float(v[i]),
            student_last=float(v[-1]),
            teacher_start=t0,
            teacher_end=t1,
            drop=s0 - s1,
            rho=r,
            settled=settled,
            from_step=int(student.steps[i]),
        )
    ]


def _late_correlation(corr: Trace, limit: float, min_points: int, k: float) -> list[Window]:
    """The window of a correlation that turned late (see ``length_correlation``), or none."""
    r = corr.values
    n = len(r)
    noise = _point_noise(r)
    length = int(n * 0.8)
    while length >= min_points:
        tail = r[n - length :]
        m = float(np.mean(tail))
        if abs(m) > limit and abs(m) >= k * noise / np.sqrt(length):
            i = n - length
            cusum = np.abs(np.cumsum(r - np.mean(r)))
            a = max(int(np.argmax(cusum[i - 1 : n - 1])) + i, i) if i > 0 else 0
            a = min(a, n - 1)
            p = a + int(np.argmax(np.abs(r[a:])))
            return [
                win(
                    corr,
                    a,
                    n - 1,
                    p,
                    None,
                    mean_r=float(np.mean(r[a:])),
                    mean_abs_r=float(np.mean(np.abs(r[a:]))),
                    n_points=n - a,
                    late=True,
                    from_step=int(corr.steps[a]),
                )
            ]
        nxt = int(length * 0.8)
        length = nxt if nxt < length else length - 1
    return []


def _point_noise(v: np.ndarray) -> float:
    """Point-to-point noise: the IQR of the first differences, as a standard deviation."""
    if len(v) < 3:
        return 0.0
    return float(np.subtract(*np.percentile(np.diff(v), [75, 25]))) / 1.349 / np.sqrt(2.0)


def _student_falls(
    steps: np.ndarray,
    v: np.ndarray,
    t: np.ndarray,
    noise: float,
    edge: float,
    rho: float,
    k: float,
    teacher_ratio: float,
    stay: float,
) -> tuple[float, float, float, float, float, bool] | None:
    """(student start/end levels, teacher start/end levels, ρ, settled) when ``v`` falls and
    ``t`` stays level over these points (see ``diverging_scores``); else None."""
    e = max(2, round(edge * len(v)))
    s0, s1 = float(np.median(v[:e])), float(np.median(v[-e:]))
    t0, t1 = float(np.median(t[:e])), float(np.median(t[-e:]))
    drop = s0 - s1
    if not (drop > 0 and drop >= k * max(noise, _TINY) and abs(t1 - t0) <= teacher_ratio * drop):
        return None
    r = spearman(steps, v)
    steady = r <= rho
    settled = bool(np.mean(v[e:] < (s0 + s1) / 2) >= stay) and r < 0
    if not (steady or settled):
        return None
    return s0, s1, t0, t1, r, bool(settled and not steady)


@detector(outputs=("mean_r", "mean_abs_r", "n_points", "late", "from_step"))
def length_correlation(
    corr: Trace | None = None,
    length: Trace | None = None,
    score: Trace | None = None,
    *,
    limit: Share = 0.15,
    min_points: Annotated[int, Range(2, MAX_COUNT)] = 5,
    k: Positive = 4.0,
) -> list[Window]:
    """Length–reward correlation: the mean |r| of a logged correlation series above ``limit``
    over the whole log; or, when it is not, a correlation that turned late: over the last
    80 %, 64 %, ... of the points (down to ``min_points``), the longest span whose mean r is
    beyond ``limit`` in absolute value and beyond ``k`` standard errors (the series'
    point-to-point noise / √points), its window from where the mean changed (``late``,
    ``from_step``). Without a logged correlation, Pearson r between per-sample length and
    score series (aligned on their common steps) above ``limit`` in absolute value."""
    if corr is not None:
        r = corr.values
        if len(r) < min_points:
            return []
        mean_abs = float(np.mean(np.abs(r)))
        if mean_abs > limit:
            p = int(np.argmax(np.abs(r)))
            return [
                win(
                    corr,
                    0,
                    len(r) - 1,
                    p,
                    None,
                    mean_r=float(np.mean(r)),
                    mean_abs_r=mean_abs,
                    n_points=len(r),
                    late=False,
                    from_step=int(corr.steps[0]),
                )
            ]
        return _late_correlation(corr, limit, min_points, k)
    if length is None or score is None:
        raise NotApplicable(
            "needs_inputs", needs="length_reward_corr, or both sample_length and sample_score"
        )
    common, li, si = np.intersect1d(length.steps, score.steps, return_indices=True)
    if len(common) < min_points:
        return []
    lv, sv = length.values[li], score.values[si]
    if np.ptp(lv) == 0 or np.ptp(sv) == 0:
        return []
    r_val = float(np.corrcoef(lv, sv)[0, 1])
    if abs(r_val) <= limit:
        return []
    p = int(li[np.argmax(lv)])
    return [
        win(
            length,
            int(li[0]),
            int(li[-1]),
            p,
            None,
            series=1,
            mean_r=r_val,
            mean_abs_r=abs(r_val),
            n_points=len(common),
        )
    ]


@detector(outputs=("best_step", "best_value", "drop_pct", "onset_step", "final_value"))
def best_then_worse(
    s: Trace,
    *,
    direction: str | None = None,
    drop: Positive = 0.2,
    sustain: Count = 2,
    smooth: Count = 1,
    min_points: Count = 3,
) -> list[Window]:
    """The best point (highest, or lowest when ``direction`` is "down") and a later sustained
    worsening by more than ``drop`` of the best's magnitude (``sustain`` points in a row)."""
    if direction not in ("up", "down"):
        raise NotApplicable("direction_unknown")
    if len(s) < min_points:
        return []
    d = best_then_degrade(
        s.steps,
        s.values,
        higher_is_better=direction == "up",
        drop=drop,
        sustain=sustain,
        window=smooth,
    )
    if d is None or d.onset_step is None:
        return []
    a = int(np.searchsorted(s.steps, d.onset_step))
    b_idx = int(np.searchsorted(s.steps, d.best_step))
    w = int(np.searchsorted(s.steps, d.worst_step)) if d.worst_step is not None else a
    scale = abs(d.best_value) or 1.0
    worst = float(s.values[w])
    rows = tuple(sorted({max(0, b_idx - 1), b_idx, min(len(s) - 1, b_idx + 1), a, w, len(s) - 1}))
    return [
        win(
            s,
            a,
            len(s) - 1,
            w,
            d.best_value,
            rows=rows,
            best_step=d.best_step,
            best_value=d.best_value,
            drop_pct=abs(worst - d.best_value) / scale,
            onset_step=d.onset_step,
            final_value=d.final_value,
        )
    ]


def _rise_above_noise(v: np.ndarray, b: int, k: float, points: int, min_rise: float) -> bool:
    """Whether the points after index ``b`` (the minimum) all sit clearly above it: each ≥
    k/2 and their mean ≥ k × the series' noise (median |second difference| / 0.6745 / √6),
    and the mean ≥ ``min_rise`` × the minimum above it."""
    after = v[b + 1 :] - v[b]
    if len(after) < points or len(v) < 4:
        return False
    noise = float(np.median(np.abs(np.diff(v, 2)))) / 0.6745 / np.sqrt(6.0)
    if not noise > 0:
        return False
    mean = float(after.mean())
    return bool(after.min() >= k / 2 * noise and mean >= k * noise and mean >= min_rise * v[b])


@detector(outputs=("best_step", "best_value", "rise_pct", "train_at_best", "train_end"))
def overfit(
    eval_loss: Trace,
    train_loss: Trace,
    *,
    rise: Positive = 0.1,
    min_points: Count = 2,
    smooth: Count = 5,
    k: NonNegative = 4.0,
    k_points: Count = 3,
    min_rise: NonNegative = 0.01,
) -> list[Window]:
    """Eval loss turns up: ≥ ``min_points`` eval points follow its minimum, the last is ≥
    ``rise`` (relative) above it and their mean ≥ ``rise``/2 above it (a rise, not one noisy
    point); or, for an eval loss with little noise, ≥ ``k_points`` points follow it, every one
    ≥ ``k``/2 × the eval's noise above it and their mean ≥ ``k`` × the noise and ≥
    ``min_rise`` (relative) above it (noise: the robust scale of its second differences, so a
    falling trend is not counted as noise; ``k`` = 0 turns this test off). Meanwhile the train
    loss (rolling median over ``smooth`` points) kept falling."""
    v = eval_loss.values
    if len(v) < min_points + 1:
        return []
    b = int(np.argmin(v))
    best = float(v[b])
    after = v[b + 1 :]
    if best <= 0 or len(after) < min_points:
        return []
    relative = after[-1] >= best * (1 + rise) and after.mean() >= best * (1 + rise / 2)
    if not (relative or (k > 0 and _rise_above_noise(v, b, k, k_points, min_rise))):
        return []
    tl = centered_median(train_loss.values, smooth)
    at = align_last(eval_loss.steps[[b, -1]], train_loss.steps, tl)
    if not at[1] < at[0]:
        return []
    p = b + 1 + int(np.argmax(after))
    rows = tuple(range(max(0, b - 2), len(v)))
    if len(rows) > 10:
        rows = rows[:4] + rows[-6:]
    return [
        win(
            eval_loss,
            b + 1,
            len(v) - 1,
            p,
            best,
            rows=rows,
            best_step=int(eval_loss.steps[b]),
            best_value=best,
            rise_pct=float(v[p]) / best - 1.0,
            train_at_best=float(at[0]),
            train_end=float(at[1]),
        )
    ]
