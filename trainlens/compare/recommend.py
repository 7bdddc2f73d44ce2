"""The checkpoint to keep in one run: the saved one nearest the best step and not after the
degradation onset, else the best step itself."""

from __future__ import annotations

import os

import numpy as np

from trainlens.checkpoints import Degradation, recommend_checkpoint
from trainlens.compare.model import Note, RecommendedCheckpoint
from trainlens.run import Run


def recommend(
    run: Run, key: str, deg: Degradation, steps: np.ndarray, values: np.ndarray
) -> RecommendedCheckpoint:
    """The recommendation for ``run`` whose score ``key`` (``steps``, ``values``: finite points)
    degraded as ``deg`` says, with the reason as a :class:`Note`."""
    ckpts = run.meta.checkpoints
    chosen = recommend_checkpoint(ckpts, deg.best_step, deg.onset_step)
    if chosen is not None:
        value, at = _value_at(steps, values, chosen.step)
        code = "ckpt_at_best" if chosen.step == deg.best_step else "ckpt_nearest_best"
        reason = Note(
            code,
            {
                "step": chosen.step,
                "best": deg.best_step,
                "offset": chosen.step - deg.best_step,
                "onset": deg.onset_step,
                "saved": len(ckpts),
                "key": key,
                "value": value,
                "value_step": at,
            },
        )
        return RecommendedCheckpoint(
            step=chosen.step,
            path=_relpath(chosen.path, run.path),
            source="checkpoint",
            value=value,
            value_step=at,
            reason=reason,
        )
    if ckpts:
        reason = Note(
            "no_ckpt_before_onset",
            {"best": deg.best_step, "onset": deg.onset_step, "saved": [c.step for c in ckpts]},
        )
    else:
        reason = Note("no_ckpt_visible", {"best": deg.best_step})
    value, at = _value_at(steps, values, deg.best_step)  # logged there (best may be smoothed)
    return RecommendedCheckpoint(
        step=deg.best_step,
        path=None,
        source="best_step",
        value=value,
        value_step=at,
        reason=reason,
    )


def _value_at(steps: np.ndarray, values: np.ndarray, step: int) -> tuple[float | None, int | None]:
    """The score logged at ``step`` or last before it (None when logging started later)."""
    i = int(np.searchsorted(steps, step, side="right")) - 1
    if i < 0:
        return None, None
    return float(values[i]), int(steps[i])


def _relpath(path: os.PathLike[str] | str, start: os.PathLike[str] | str) -> str:
    return os.path.relpath(os.fspath(path), os.fspath(start)).replace(os.sep, "/")
