"""One run's row: the score's best, degradation onset and final value, the recommended checkpoint,
the trends, and the notes that explain them."""

from __future__ import annotations

import numpy as np

from trainlens.checkpoints import Degradation, best_then_degrade
from trainlens.compare.model import Note, RunComparison
from trainlens.compare.recommend import recommend
from trainlens.compare.selection import (
    EVAL_CANDIDATES,
    SCORE_CANDIDATES,
    SCORE_ORDER,
    Candidate,
    candidate_key,
    resolve_score,
)
from trainlens.compare.trends import run_trends
from trainlens.run import Run

#: In a degraded run, a trend moving at least this much (relative) from the best step to the end
#: is called out as part of the explanation.
CHANGE_THRESHOLD = 0.25


def score_run(
    run: Run,
    metric: str | None,
    higher: bool,
    drop: float,
    window: int | None,
    sustain: int,
    candidate: Candidate | None = None,
) -> RunComparison:
    """Compare one run on ``metric`` (see :func:`trainlens.compare.compare_runs` for the
    parameters; ``candidate``: the default candidate chosen, which says which of the metric's
    keys to read); a run without a finite value of it gets status ``missing`` or ``empty``. The
    other evaluation metrics the run logs are checked too, each summed up in an ``also_checked``
    note."""
    ckpts = tuple(c.step for c in run.meta.checkpoints)
    notes: list[Note] = []

    def empty(status: str, key: str | None = None) -> RunComparison:
        return RunComparison(
            name=run.name,
            status=status,
            metric=metric,
            key=key,
            higher_is_better=higher,
            window=1,
            points=0,
            first_step=None,
            last_step=None,
            degradation=None,
            recommended=None,
            checkpoints=ckpts,
            trends=run_trends(run, None),
            notes=tuple(notes),
        )

    if metric is None:
        logged = [c.label for c in SCORE_ORDER if candidate_key(run, c)]
        notes.append(Note("not_compared", {"logged": logged}))
        return empty("missing")
    if candidate is not None:
        key, fallback = candidate_key(run, candidate), None
    else:
        key, fallback = resolve_score(run, metric)
    if key is None:
        score_like = [c for c in SCORE_CANDIDATES if c in run.canonical_names]
        notes.insert(0, Note("metric_missing", {"metric": metric, "available": score_like}))
        return empty("missing")
    if fallback is not None:
        notes.append(fallback)
    arrays = run.arrays(key)
    assert arrays is not None
    steps_all, values_all = arrays
    finite = np.isfinite(values_all)
    steps, values = steps_all[finite].astype(np.int64), values_all[finite].astype(np.float64)
    if len(steps_all) > len(steps):
        notes.append(Note("non_finite_skipped", {"key": key, "count": int((~finite).sum())}))
    if not len(steps):
        notes.insert(0, Note("metric_empty", {"key": key}))
        return empty("empty", key)
    canonical = run.canonical(key)
    family = run.info(canonical).family if canonical else "other"
    win = window if window is not None else _auto_window(family, len(steps))
    win = min(win, len(steps)) if win > 1 else 1
    if win > 1:
        notes.append(Note("smoothed", {"key": key, "window": win, "points": len(steps)}))
    deg = best_then_degrade(
        steps, values, higher_is_better=higher, drop=drop, sustain=sustain, window=win
    )
    assert deg is not None  # finite values exist
    if deg.scale_basis == "range":
        notes.append(
            Note("drop_vs_range", {"key": key, "best": deg.best_value, "range": deg.scale})
        )
    other = tuple(k for k in run.keys_for(canonical) if k != key) if canonical else ()
    if other:
        notes.append(
            Note("other_keys", {"key": key, "canonical": canonical, "others": list(other)})
        )
    if len(steps) == 1:
        notes.append(Note("single_point", {"step": int(steps[0])}))
    elif deg.onset_step is not None:
        notes.append(
            Note(
                "degraded",
                {
                    "onset": deg.onset_step,
                    "onset_value": deg.onset_value,
                    "best": deg.best_step,
                    "best_value": deg.best_value,
                    "drop": drop,
                    "basis": deg.scale_basis,
                    "worst": deg.worst_step,
                    "worst_value": deg.worst_value,
                },
            )
        )
    elif deg.best_step == deg.final_step:
        notes.append(Note("still_improving", {"step": deg.best_step}))
    else:
        notes.append(Note("no_degradation", {"drop": drop, "basis": deg.scale_basis}))
    notes += _also_checked(run, key, drop, sustain)
    trends = run_trends(run, deg.best_step)
    for t in trends if deg.onset_step is not None else ():
        change = t.change_after_best
        if change is not None and abs(change) >= CHANGE_THRESHOLD:
            notes.append(
                Note(
                    "changed_after_best",
                    {
                        "metric": t.metric,
                        "best": deg.best_step,
                        "from": t.at_best,
                        "to": t.last,
                        "change": change,
                    },
                )
            )
    rec = recommend(run, key, deg, steps, values)
    return RunComparison(
        name=run.name,
        status="ok",
        metric=metric,
        key=key,
        higher_is_better=higher,
        window=win,
        points=len(steps),
        first_step=int(steps[0]),
        last_step=int(steps[-1]),
        degradation=deg,
        recommended=rec,
        checkpoints=ckpts,
        trends=trends,
        notes=tuple(notes),
        other_keys=other,
        steps=steps,
        values=values,
    )


def _also_checked(run: Run, compared: str, drop: float, sustain: int) -> list[Note]:
    """One ``also_checked`` note per other evaluation metric the run logs (eval score, eval
    loss, eval accuracy) that is not constant: its best, and where it degraded (if it did)."""
    out = []
    seen = {compared}
    for cand in EVAL_CANDIDATES:
        key = candidate_key(run, cand)
        if key is None or key in seen:
            continue
        seen.add(key)
        arrays = run.arrays(key)
        assert arrays is not None
        steps, values = arrays
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        if len(values) < 2 or np.ptp(values) == 0:
            continue
        higher = run.info(cand.name).direction != "down"
        d = best_then_degrade(steps, values, higher_is_better=higher, drop=drop, sustain=sustain)
        assert d is not None
        out.append(Note("also_checked", _verdict(key, d, drop)))
    return out


def _verdict(key: str, d: Degradation, drop: float) -> dict[str, object]:
    return {
        "key": key,
        "best": d.best_step,
        "best_value": d.best_value,
        "onset": d.onset_step,
        "onset_value": d.onset_value,
        "final_value": d.final_value,
        "drop": drop,
        "basis": d.scale_basis,
        "degraded": d.onset_step is not None,
    }


def _auto_window(family: str, points: int) -> int:
    """No smoothing for evaluation series (sparse, already averaged); ~5% of the points (odd,
    5..51) for dense training series."""
    if family == "eval" or points < 30:
        return 1
    return max(5, min(51, points // 20)) | 1
