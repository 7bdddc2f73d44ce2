"""Best value, degradation onset and the checkpoint to keep (rules, reports and compare)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlens.discover import Checkpoint


@dataclass(frozen=True)
class Degradation:
    """A score's best point and, when it worsened for good, where that started."""

    best_step: int
    best_value: float
    final_step: int
    final_value: float
    onset_step: int | None  # first step of a sustained drop beyond ``drop`` of the best
    onset_value: float | None
    worst_step: int | None  # the worst point after the best
    worst_value: float | None
    higher_is_better: bool = True

    @property
    def drop_from_best(self) -> float:
        """Relative change from best to final: positive = worse than the best (either direction)."""
        scale = abs(self.best_value) or 1.0
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.best_value - self.final_value) / scale


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centered rolling median (NaN-aware); ``window`` <= 1 returns the input."""
    if window <= 1 or len(values) < window:
        return values
    import pandas as pd

    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def best_then_degrade(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    higher_is_better: bool = True,
    drop: float = 0.2,
    sustain: int = 2,
    window: int = 1,
) -> Degradation | None:
    """Find the best point and the first sustained worsening by more than ``drop`` (relative to
    the best's magnitude) after it. ``sustain`` consecutive points must all be that bad (fewer
    if the series ends sooner). ``window`` smooths noisy series with a rolling median first.
    Values reported are the raw ones at the chosen points (smoothing only chooses the points).
    Returns None for a series with no finite value."""
    steps = np.asarray(steps)
    raw = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(raw)
    if not finite.any():
        return None
    steps, raw = steps[finite], raw[finite]
    vals = smooth(raw, window)
    sign = 1.0 if higher_is_better else -1.0
    score = sign * vals  # higher is better from here on
    b = int(np.argmax(score))
    best = float(vals[b])
    scale = abs(best) if abs(best) > 1e-12 else float(np.ptp(vals)) or 1.0
    threshold = sign * best - drop * scale
    bad = score < threshold
    bad[: b + 1] = False
    onset = None
    for i in np.flatnonzero(bad):
        k = min(sustain, len(bad) - i)
        if bad[i : i + k].all():
            onset = int(i)
            break
    after = score[b + 1 :]
    worst = b + 1 + int(np.argmin(after)) if after.size else None
    return Degradation(
        best_step=int(steps[b]),
        best_value=float(raw[b]),
        final_step=int(steps[-1]),
        final_value=float(raw[-1]),
        onset_step=int(steps[onset]) if onset is not None else None,
        onset_value=float(raw[onset]) if onset is not None else None,
        worst_step=int(steps[worst]) if worst is not None else None,
        worst_value=float(raw[worst]) if worst is not None else None,
        higher_is_better=higher_is_better,
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
