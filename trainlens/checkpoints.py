"""Best value, degradation onset and the checkpoint to keep (rules, reports and compare)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlens.discover import Checkpoint

#: Below this share of the series' range, ``|best|`` is too close to zero to measure a drop
#: against: the drop is measured against the range instead (see :func:`drop_scale`).
NEAR_ZERO = 0.1


@dataclass(frozen=True)
class Degradation:
    """A score's best point and, when it worsened for good, where that started.

    Every value is read from the curve the points were found on: the smoothed one when
    ``smoothed`` (a rolling median), else the logged values. So the best is never worse than the
    onset or the worst, whatever the noise. ``scale`` is what a drop is measured against:
    ``|best|`` (``scale_basis`` "best") or, for a series that crosses zero or whose best lies
    near it, the series' range (``scale_basis`` "range")."""

    best_step: int
    best_value: float
    final_step: int
    final_value: float
    onset_step: int | None  # first step of a sustained drop beyond ``drop`` of the scale
    onset_value: float | None
    worst_step: int | None  # the worst point after the best
    worst_value: float | None
    higher_is_better: bool = True
    scale: float = 0.0  # 0: |best| (or 1 when the best is 0), for hand-made instances
    scale_basis: str = "best"  # "best" | "range"
    smoothed: bool = False

    @property
    def drop_from_best(self) -> float:
        """Change from best to final as a share of ``scale``: positive = worse than the best
        (either direction)."""
        scale = self.scale or abs(self.best_value) or 1.0
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.best_value - self.final_value) / scale


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centered rolling median (NaN-aware); ``window`` <= 1 returns the input."""
    if window <= 1 or len(values) < window:
        return values
    from trainlens.engine.stats import centered_median  # lazy: the engine imports this module

    return centered_median(values, window)


def drop_scale(values: np.ndarray, best: float) -> tuple[float, str]:
    """What a drop from ``best`` is measured against: ``(|best|, "best")`` for a series that
    stays on one side of zero with its best at least :data:`NEAR_ZERO` of its range away from
    it; else ``(range, "range")`` (a relative drop means nothing for a series that crosses zero:
    0.8 → -0.5 is not a 160% drop). A constant series gives ``|best|`` (or 1)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo
    crosses = lo < 0 < hi
    if span > 0 and (crosses or abs(best) < NEAR_ZERO * span):
        return span, "range"
    return (abs(best) or 1.0), "best"


def best_then_degrade(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    higher_is_better: bool = True,
    drop: float = 0.2,
    sustain: int = 2,
    window: int = 1,
) -> Degradation | None:
    """Find the best point and the first sustained worsening by more than ``drop`` of the
    scale (``|best|``, or the range for a series crossing or near zero: :func:`drop_scale`)
    after it. ``sustain`` consecutive points must all be that bad (fewer if the series ends
    sooner). ``window`` smooths noisy series with a rolling median first; the values reported
    (best, onset, worst, final) are then those of the smoothed curve, so that best, onset and
    worst are consistent. Returns None for a series with no finite value."""
    steps = np.asarray(steps)
    raw = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(raw)
    if not finite.any():
        return None
    steps, raw = steps[finite], raw[finite]
    vals = smooth(raw, window)
    smoothed = vals is not raw
    sign = 1.0 if higher_is_better else -1.0
    score = sign * vals  # higher is better from here on
    b = int(np.argmax(score))
    best = float(vals[b])
    scale, basis = drop_scale(vals, best)
    threshold = sign * best - drop * scale
    bad = score < threshold
    bad[: b + 1] = False
    onset = None
    for i in np.flatnonzero(bad).tolist():
        k = min(sustain, len(bad) - i)
        if bad[i : i + k].all():
            onset = int(i)
            break
    after = score[b + 1 :]
    worst = b + 1 + int(np.argmin(after)) if after.size else None
    return Degradation(
        best_step=int(steps[b]),
        best_value=best,
        final_step=int(steps[-1]),
        final_value=float(vals[-1]),
        onset_step=int(steps[onset]) if onset is not None else None,
        onset_value=float(vals[onset]) if onset is not None else None,
        worst_step=int(steps[worst]) if worst is not None else None,
        worst_value=float(vals[worst]) if worst is not None else None,
        higher_is_better=higher_is_better,
        scale=scale,
        scale_basis=basis,
        smoothed=smoothed,
    )


def recommend_checkpoint(
    checkpoints: list[Checkpoint], best_step: int, onset_step: int | None
) -> Checkpoint | None:
    """The saved checkpoint nearest the best step and saved before the degradation onset (the
    onset step itself is already degraded); any checkpoint when there is no onset; None when
    none qualifies."""
    usable = [c for c in checkpoints if onset_step is None or c.step < onset_step]
    if not usable:
        return None
    return min(usable, key=lambda c: (abs(c.step - best_step), c.step))
