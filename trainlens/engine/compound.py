"""Detectors that combine several series (student vs teacher, eval vs train loss, KL vs learning
rate) or read run facts, and the ones made for one kind of metric (accuracies, correlations).

Like those in ``detectors``: pure, vectorised, no rule ids, severities, languages or files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sstats

from trainlens.checkpoints import best_then_degrade
from trainlens.engine.detectors import _TINY, collapse_from_peak
from trainlens.engine.registry import NotApplicable, Trace, Window, detector
from trainlens.engine.registry import window as win
from trainlens.engine.stats import align_last, as_percent, centered_median, running_max, segments


@detector(outputs=("from_pct", "to_pct", "jump_pts"))
def accuracy_jump(
    s: Trace, *, jump: float = 20.0, saturate: float = 95.0, early: float = 0.2
) -> list[Window]:
    """An accuracy (fraction or percent) rising ≥ ``jump`` points between consecutive logged
    points, or reaching ``saturate`` % within the first ``early`` share of the logged steps."""
    p = as_percent(s.values)
    if len(p) < 2:
        return []
    d = np.diff(p)
    flag = np.zeros(len(p), dtype=bool)
    flag[1:] = d >= jump
    span = s.steps[-1] - s.steps[0]
    early_mask = s.steps <= s.steps[0] + early * span
    sat = np.flatnonzero((p >= saturate) & early_mask)
    if len(sat):
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
    )
)
def diverging_scores(
    student: Trace,
    teacher: Trace,
    *,
    edge: float = 0.2,
    rho: float = -0.6,
    k: float = 3.0,
    teacher_ratio: float = 0.3,
    min_points: int = 8,
) -> list[Window]:
    """The first series falls steadily (Spearman ρ with step ≤ ``rho``; start-to-end drop of the
    medians of the first/last ``edge`` share ≥ ``k`` × its point-to-point noise) while the
    second stays level (its own change ≤ ``teacher_ratio`` × that drop)."""
    n = len(student)
    if n < min_points:
        return []
    e = max(2, round(edge * n))
    v = student.values
    s0, s1 = float(np.median(v[:e])), float(np.median(v[-e:]))
    drop = s0 - s1
    diffs = np.diff(v)
    noise = float(np.subtract(*np.percentile(diffs, [75, 25]))) / 1.349 / np.sqrt(2.0)
    r = float(sstats.spearmanr(student.steps, v).statistic)
    t = align_last(student.steps, teacher.steps, teacher.values)
    t0, t1 = float(np.median(t[:e])), float(np.median(t[-e:]))
    if not (
        drop > 0
        and r <= rho
        and drop >= k * max(noise, _TINY)
        and abs(t1 - t0) <= teacher_ratio * drop
    ):
        return []
    sm = centered_median(v, 5)
    a = int(np.argmax(sm[: n // 2 + 1]))
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
            student_first=float(v[0]),
            student_last=float(v[-1]),
            teacher_start=t0,
            teacher_end=t1,
            drop=drop,
            rho=r,
        )
    ]


@detector(outputs=("mean_r", "mean_abs_r", "n_points"))
def length_correlation(
    corr: Trace | None = None,
    length: Trace | None = None,
    score: Trace | None = None,
    *,
    limit: float = 0.15,
    min_points: int = 5,
) -> list[Window]:
    """Length–reward correlation: the mean |r| of a logged correlation series above ``limit``;
    without one, Pearson r between per-sample length and score series (aligned on their common
    steps) above ``limit`` in absolute value."""
    if corr is not None:
        r = corr.values
        if len(r) < min_points:
            return []
        mean_abs = float(np.mean(np.abs(r)))
        if mean_abs <= limit:
            return []
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
            )
        ]
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
    drop: float = 0.2,
    sustain: int = 2,
    smooth: int = 1,
    min_points: int = 3,
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


@detector(outputs=("best_step", "best_value", "rise_pct", "train_at_best", "train_end"))
def overfit(
    eval_loss: Trace, train_loss: Trace, *, rise: float = 0.1, min_points: int = 2, smooth: int = 5
) -> list[Window]:
    """Eval loss turns up: ≥ ``min_points`` eval points follow its minimum, the last is ≥
    ``rise`` (relative) above it and their mean ≥ ``rise``/2 above it (a rise, not one noisy
    point); meanwhile the train loss (rolling median over ``smooth`` points) kept falling."""
    v = eval_loss.values
    if len(v) < min_points + 1:
        return []
    b = int(np.argmin(v))
    best = float(v[b])
    after = v[b + 1 :]
    if best <= 0 or len(after) < min_points:
        return []
    if not (after[-1] >= best * (1 + rise) and after.mean() >= best * (1 + rise / 2)):
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


@detector(outputs=("stuck_share", "n_points", "max_abs"))
def stuck_at_zero(
    s: Trace,
    lr: Trace | None = None,
    *,
    eps: float = 1e-6,
    min_points: int = 10,
    min_share: float = 0.1,
    kl_coef: float | None = None,
) -> list[Window]:
    """Stretches of ≥ ``min_points`` consecutive points (and ≥ ``min_share`` of the series)
    with |value| ≤ ``eps``, at steps where the learning rate (when logged) is above 0, i.e.
    where the model is meant to be updating. A run whose KL coefficient (``kl_coef``, from its
    config) is 0 is not judged: its KL may be logged as 0 by design."""
    if kl_coef == 0:
        raise NotApplicable("kl_off")
    v = s.values
    flag = np.abs(v) <= eps
    if lr is not None and len(lr):
        flag &= align_last(s.steps, lr.steps, lr.values) > 0
    need = max(min_points, int(np.ceil(min_share * len(v))))
    out = []
    for a, b in segments(flag, 0):
        if b - a + 1 < need:
            continue
        out.append(
            win(
                s,
                a,
                b,
                b,
                None,
                stuck_share=(b - a + 1) / len(v),
                n_points=b - a + 1,
                max_abs=float(np.max(np.abs(v[a : b + 1]))),
            )
        )
    return out


@detector(outputs=("ref_value", "n_points", "level"))
def vanishing(
    s: Trace,
    loss: Trace | None = None,
    *,
    ratio: float = 1e-3,
    eps: float = 1e-8,
    window: int = 20,
    min_points: int = 5,
    loss_ratio: float = 0.1,
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
            )
        )
    return out


@detector(outputs=("level", "ref_value", "n_points"))
def no_signal(
    frac_zero: Trace | None = None,
    reward_std: Trace | None = None,
    *,
    limit: float = 0.5,
    smooth: int = 5,
    min_points: int = 5,
    std_drop: float = 0.9,
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
            out.append(
                win(
                    frac_zero,
                    a,
                    b,
                    p,
                    base,
                    level=float(np.median(sm[a : b + 1])),
                    ref_value=limit,
                    n_points=b - a + 1,
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
            },
            1,
            w.start,
            w.end,
            w.peak,
        )
        for w in found
    ]


@detector(outputs=("previous_step", "overwritten"))
def restarted(*, restarts: tuple[Any, ...] = ()) -> list[Window]:
    """Each resume from a checkpoint: logging went back from ``previous_step`` to a step already
    logged, and ``overwritten`` logged steps were logged again."""
    return [
        Window(
            start_step=int(r["step"]),
            end_step=int(r["previous_step"]),
            peak_step=int(r["step"]),
            numbers={
                "previous_step": int(r["previous_step"]),
                "overwritten": int(r["overwritten"]),
            },
            series=None,
        )
        for r in restarts
    ]
