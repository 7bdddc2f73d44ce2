"""How the explanatory metrics (entropy, response length, grad norm, KL, throughput, MFU) moved in
one run: first, last, range and the value at the best step of the score."""

from __future__ import annotations

import numpy as np

from trainlens.compare.model import Trend
from trainlens.run import Run

#: Metrics whose first → last trend explains why runs differ.
TREND_METRICS = ("entropy", "response_length_mean", "grad_norm", "kl", "throughput", "mfu")


def run_trends(run: Run, best_step: int | None) -> tuple[Trend, ...]:
    """One :class:`Trend` per metric of :data:`TREND_METRICS` the run logs with a finite value;
    ``at_best`` is filled when ``best_step`` is given."""
    out = []
    for name in TREND_METRICS:
        key = run.resolve(name)
        if key is None:
            continue
        arrays = run.arrays(key)
        assert arrays is not None
        steps, values = arrays
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        if not len(values):
            continue
        k = max(1, min(5, len(values) // 40))  # first / last 2.5% of the points, 1..5 of them
        at_best = None
        if best_step is not None:
            i = int(np.clip(np.searchsorted(steps, best_step), 0, len(steps) - 1))
            lo = max(0, i - k // 2)
            at_best = _median(values[lo : lo + k])
        out.append(
            Trend(
                metric=name,
                key=key,
                points=len(values),
                first=_median(values[:k]),
                last=_median(values[-k:]),
                minimum=float(values.min()),
                maximum=float(values.max()),
                at_best=at_best,
            )
        )
    return tuple(out)


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None
