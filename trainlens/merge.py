"""Merge reader tables of one run: keep the last value of a re-logged step, record restarts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from trainlens.readers._frame import empty_frame
from trainlens.run import Restart


def _columns(
    parts: list[tuple[str, pd.DataFrame]],
) -> tuple[pd.Categorical, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Concatenated columns (no copy for a single part) and the per-row source codes."""
    named = [(s, f) for s, f in parts if len(f)]
    sources = [s for s, _ in named]
    frames = [f for _, f in named]
    lengths = [len(f) for f in frames]
    source_codes = np.repeat(np.arange(len(frames), dtype=np.int16), lengths)
    if len(frames) == 1:
        f = frames[0]
        return (
            f["key"].array,
            f["step"].to_numpy(),
            f["value"].to_numpy(),  # type: ignore
            f["wall_time"].to_numpy(),
            source_codes,
            sources,
        )
    keys = union_categoricals([f["key"] for f in frames], ignore_order=True)
    return (
        keys,
        np.concatenate([f["step"].to_numpy() for f in frames]),
        np.concatenate([f["value"].to_numpy() for f in frames]),
        np.concatenate([f["wall_time"].to_numpy() for f in frames]),
        source_codes,
        sources,
    )


def _restarts(
    codes: np.ndarray,
    steps: np.ndarray,
    by_key: np.ndarray,
    source_codes: np.ndarray,
    sources: list[str],
) -> list[Restart]:
    """Restarts seen in the most-logged key: places where its step goes backwards in file order."""
    counts = np.bincount(codes)
    k_codes, k_steps = codes[by_key], steps[by_key]
    back = (k_codes[1:] == k_codes[:-1]) & (k_steps[1:] < k_steps[:-1])
    # the key with most backward jumps, ties broken by most points: the run's main metric
    jumps = np.bincount(k_codes[1:][back], minlength=len(counts))
    main = int(np.lexsort((counts, jumps))[-1])
    sel = by_key[k_codes == main]  # file positions of the main key, in file order
    s = steps[sel]
    out: list[Restart] = []
    running_max = np.maximum.accumulate(s)
    for i in np.flatnonzero(s[1:] < s[:-1]) + 1:
        before = s[:i]
        prev_max = int(running_max[i - 1])
        new_step = int(s[i])
        overwritten = int(np.unique(before[(before >= new_step) & (before <= prev_max)]).size)
        out.append(
            Restart(
                step=new_step,
                previous_step=prev_max,
                source=sources[int(source_codes[sel[i]])],
                overwritten=overwritten,
            )
        )
    return out


def merge_frames(parts: list[tuple[str, pd.DataFrame]]) -> tuple[pd.DataFrame, list[Restart]]:
    """Concatenate ``(source, frame)`` parts in the given (file) order into one run table sorted
    by key then step, where a step logged again (a resumed job, a duplicated line) keeps its last
    value; also return the restarts found. Memory: one gathered copy of each column."""
    if not any(len(f) for _, f in parts):
        out = empty_frame()
        out.insert(0, "source", pd.Categorical([]))
        return out, []
    keys, steps, values, walls, source_codes, sources = _columns(parts)
    codes = np.asarray(keys.codes, dtype=np.int32)
    by_key = np.argsort(codes, kind="stable")  # file order kept within each key
    k_steps = steps[by_key]
    same_key = codes[by_key[1:]] == codes[by_key[:-1]]
    restarts: list[Restart] = []
    if np.any(same_key & (k_steps[1:] < k_steps[:-1])):
        restarts = _restarts(codes, steps, by_key, source_codes, sources)
        by_key = np.lexsort((np.arange(len(steps)), steps, codes))  # key, step, file order
        k_steps = steps[by_key]
        same_key = codes[by_key[1:]] == codes[by_key[:-1]]
    last = np.ones(len(by_key), dtype=bool)
    last[:-1] = ~same_key | (k_steps[1:] != k_steps[:-1])
    del k_steps, same_key
    keep = by_key[last]
    del by_key, last
    key_col = pd.Categorical.from_codes(codes[keep], categories=keys.categories)
    table = pd.DataFrame(
        {
            "source": pd.Categorical.from_codes(source_codes[keep], categories=sources),
            "key": key_col.remove_unused_categories(),  # codes stay sorted: Run slices rely on it
            "step": steps[keep],
            "value": values[keep],
            "wall_time": walls[keep],
        },
        copy=False,
    )
    return table, restarts
