"""The one shape every reader returns: a long scalar table in file order, plus metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainlens.diagnostics import ReadWarning

#: Columns of a reader's table, in order. ``key`` is categorical, ``step`` int64,
#: ``value`` and ``wall_time`` float64 (``wall_time`` is NaN when the format has none).
COLUMNS = ("key", "step", "value", "wall_time")


@dataclass
class ReadResult:
    """What a reader got out of one file.

    ``frame`` keeps the file's record order (restart detection relies on it). ``end_offset`` is the
    byte offset just after the last complete record, so a follower (``watch``) can resume there.
    ``meta`` holds format-specific run metadata (``max_steps``, ``best_metric``, ``train_summary``
    ...); :func:`trainlens.load.apply_meta` copies what the run model keeps.
    """

    frame: pd.DataFrame
    warnings: list[ReadWarning] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    end_offset: int = 0


def empty_frame() -> pd.DataFrame:
    """A table with the reader columns and no rows."""
    return make_frame([], np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.float64))


def make_frame(
    keys: list[str] | np.ndarray | pd.Categorical,
    steps: np.ndarray,
    values: np.ndarray,
    wall_times: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build a reader table from parallel columns (``keys`` may be strings or a Categorical)."""
    n = len(steps)
    key_col = keys if isinstance(keys, pd.Categorical) else pd.Categorical(keys)
    return pd.DataFrame(
        {
            "key": key_col,
            "step": np.asarray(steps, dtype=np.int64),
            "value": np.asarray(values, dtype=np.float64),
            "wall_time": (
                np.full(n, np.nan) if wall_times is None else np.asarray(wall_times, np.float64)
            ),
        },
        copy=False,  # the arrays are fresh: a copy would double a big file's memory
    )


def frame_from_codes(
    names: list[str],
    codes: np.ndarray,
    steps: np.ndarray,
    values: np.ndarray,
    wall_times: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build a reader table from integer key codes into ``names`` (fast path for big files).
    Names that repeat (two raw keys given one name) share one category."""
    codes = np.asarray(codes, dtype=np.int32)
    if len(set(names)) != len(names):
        unique, lut = np.unique(np.asarray(names, dtype=object), return_inverse=True)
        first = [names.index(n) for n in unique.tolist()]
        order = np.argsort(first)  # categories in order of first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes = rank[lut][codes].astype(np.int32)
        names = [str(unique[i]) for i in order]
    cat = pd.Categorical.from_codes(codes, categories=list(names))
    return make_frame(cat, steps, values, wall_times)
