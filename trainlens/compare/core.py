"""``compare_runs``: check the parameters, pick the score metric, score every run, and add the
notes about the comparison as a whole (step scales, single run, best run)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from trainlens.compare.configdiff import config_differences
from trainlens.compare.model import Comparison, Note, RunComparison
from trainlens.compare.scoring import score_run
from trainlens.compare.selection import select_metric
from trainlens.errors import TrainlensError
from trainlens.run import Run

#: Runs whose score step ranges differ by this factor or more are on different step scales.
STEP_SCALE_RATIO = 5.0


def compare_runs(
    runs: Sequence[Run],
    *,
    metric: str | None = None,
    drop: float = 0.2,
    window: int | None = None,
    sustain: int = 2,
) -> Comparison:
    """Compare ``runs`` on ``metric`` (canonical or raw name; default: the first of
    :data:`~trainlens.compare.SCORE_ORDER` that the runs share, never a training loss; see
    :mod:`trainlens.compare.selection`). A best run is named only when every run logs the metric.

    ``drop`` is the worsening below the best that counts as degradation when it lasts
    ``sustain`` points: a share of ``|best|``, or of the series' range when the series crosses
    zero or its best lies near it. ``window`` smooths the score with a rolling median first
    (the values reported are then the smoothed curve's); None picks it per run: none for
    evaluation metrics (sparse), about 5% of the points for dense training series.
    Raises :class:`TrainlensError` for bad parameters or a ``metric`` no run has.
    """
    if not runs:
        raise TrainlensError("compare: no runs to compare")
    if not (0 < drop < 10) or not math.isfinite(drop):
        raise TrainlensError(f"compare: drop must be a fraction above 0 (got {drop})")
    if window is not None and window < 0:
        raise TrainlensError(
            f"compare: window must be 0 (auto) or a positive number of points (got {window})"
        )
    if sustain < 1:
        raise TrainlensError(f"compare: sustain must be at least 1 (got {sustain})")
    window = window or None
    selection = select_metric(runs, metric)
    chosen, higher, notes = selection.metric, selection.higher, selection.notes
    rows = tuple(
        score_run(run, chosen, higher, drop, window, sustain, selection.candidate) for run in runs
    )
    comparable = _steps_comparable(rows)
    if not comparable:
        notes.append(
            Note(
                "step_scales_differ",
                {
                    "ranges": {
                        r.name: [r.first_step, r.last_step] for r in rows if r.last_step is not None
                    }
                },
            )
        )
    if len(runs) == 1:
        notes.append(Note("single_run", {}))
    best = _best_row(rows, higher) if selection.shared else None
    if best is not None and best.degradation is not None:
        notes.append(
            Note(
                "best_run",
                {
                    "run": best.name,
                    "value": best.degradation.best_value,
                    "step": best.degradation.best_step,
                },
            )
        )
    return Comparison(
        metric=chosen,
        higher_is_better=higher,
        drop=drop,
        rows=rows,
        config=config_differences(runs),
        notes=tuple(notes),
        steps_comparable=comparable,
    )


def _best_row(rows: Sequence[RunComparison], higher: bool) -> RunComparison | None:
    """The run with the best best value (None with fewer than two runs, or when one of them has
    no value to compare)."""
    scored = [r for r in rows if r.degradation is not None]
    if len(scored) < 2 or len(scored) < len(rows):
        return None
    sign = 1.0 if higher else -1.0
    return max(scored, key=lambda r: sign * r.degradation.best_value)  # type: ignore[union-attr]


def _steps_comparable(rows: Sequence[RunComparison]) -> bool:
    spans = [r.last_step for r in rows if r.last_step is not None and r.last_step > 0]
    return len(spans) < 2 or max(spans) / min(spans) < STEP_SCALE_RATIO
