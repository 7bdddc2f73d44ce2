"""Merge reader tables of one run: keep the last value of a re-logged step, record restarts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from trainlens.readers._frame import empty_frame
from trainlens.run import Restart


def _concat(parts: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    frames = [f for _, f in parts if len(f)]
    if not frames:
        out = empty_frame()
        out.insert(0, "source", pd.Categorical([]))
        return out
    keys = union_categoricals([f["key"] for f in frames], ignore_order=True)
    sources = [s for s, f in parts if len(f)]
    lengths = [len(f) for f in frames]
    return pd.DataFrame({
        "source": pd.Categorical.from_codes(np.repeat(np.arange(len(sources)), lengths),
                                            categories=sources),
        "key": keys,
        "step": np.concatenate([f["step"].to_numpy() for f in frames]),
        "value": np.concatenate([f["value"].to_numpy() for f in frames]),
        "wall_time": np.concatenate([f["wall_time"].to_numpy() for f in frames]),
    })


def _restarts(codes: np.ndarray, steps: np.ndarray, order: np.ndarray,
              sources: pd.Categorical) -> list[Restart]:
    """Restarts seen in the most-logged key: places where its step goes backwards in file order."""
    counts = np.bincount(codes)
    k_codes, k_steps = codes[order], steps[order]
    back = (k_codes[1:] == k_codes[:-1]) & (k_steps[1:] < k_steps[:-1])
    if not back.any():
        return []
    # the key with most backward jumps, ties broken by most points: the run's main metric
    jumps = np.bincount(k_codes[1:][back], minlength=len(counts))
    main = int(np.lexsort((counts, jumps))[-1])
    sel = order[codes[order] == main]  # file positions of the main key, in file order
    s = steps[sel]
    out: list[Restart] = []
    running_max = np.maximum.accumulate(s)
    for i in np.flatnonzero(s[1:] < s[:-1]) + 1:
        before = s[:i]
        prev_max = int(running_max[i - 1])
        new_step = int(s[i])
        overwritten = int(np.unique(before[(before >= new_step) & (before <= prev_max)]).size)
        out.append(Restart(step=new_step, previous_step=prev_max,
                           source=str(sources[sel[i]]), overwritten=overwritten))
    return out


def merge_frames(parts: list[tuple[str, pd.DataFrame]]) -> tuple[pd.DataFrame, list[Restart]]:
    """Concatenate ``(source, frame)`` parts in the given (file) order into one run table sorted
    by key then step, where a step logged again (a resumed job, a duplicated line) keeps its last
    value; also return the restarts found."""
    table = _concat(parts)
    if not len(table):
        return table, []
    codes = table["key"].cat.codes.to_numpy().astype(np.int64)
    steps = table["step"].to_numpy()
    by_key = np.argsort(codes, kind="stable")  # file order kept within each key
    k_codes, k_steps = codes[by_key], steps[by_key]
    same_key = k_codes[1:] == k_codes[:-1]
    if np.any(same_key & (k_steps[1:] < k_steps[:-1])):
        restarts = _restarts(codes, steps, by_key, table["source"].array)
        positions = np.arange(len(table))
        order = np.lexsort((positions, steps, codes))  # key, step, then file order
    else:
        restarts, order = [], by_key
    o_codes, o_steps = codes[order], steps[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (o_codes[1:] != o_codes[:-1]) | (o_steps[1:] != o_steps[:-1])
    keep = order[last]
    merged = table.iloc[keep].reset_index(drop=True)
    # rows are sorted by key code; dropping unused categories keeps that order (Run relies on it)
    merged["key"] = merged["key"].cat.remove_unused_categories()
    return merged, restarts
