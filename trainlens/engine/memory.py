"""Build a Run from in-memory series (tests, benchmarks, notebooks, replay)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainlens.discover import Checkpoint
from trainlens.merge import merge_tables
from trainlens.metrics import AliasTable
from trainlens.readers._frame import make_frame
from trainlens.run import Restart, Run, RunMeta


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, pd.Series):
        return np.asarray(data.index, dtype=np.int64), data.to_numpy(dtype=np.float64)
    if isinstance(data, Mapping):
        return (
            np.fromiter(data.keys(), dtype=np.int64, count=len(data)),
            np.fromiter(data.values(), dtype=np.float64, count=len(data)),
        )
    steps, values = data
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


def run_from_series(
    series: Mapping[str, Any],
    *,
    name: str = "run",
    path: Path | str = ".",
    config: Mapping[str, Any] | None = None,
    framework: str | None = None,
    restarts: Iterable[Restart] = (),
    checkpoints: Iterable[int] = (),
    max_steps: int | None = None,
    aliases: AliasTable | None = None,
) -> Run:
    """A Run from ``{key: series}``; a series is a ``pd.Series`` indexed by step, a
    ``{step: value}`` dict or a ``(steps, values)`` pair. ``checkpoints`` are step numbers of
    saved ``checkpoint-N`` folders under ``path``."""
    keys, steps, values = [], [], []
    for key, data in series.items():
        s, v = _arrays(data)
        keys.append(np.full(len(s), key, dtype=object))
        steps.append(s)
        values.append(v)
    frame = make_frame(
        pd.Categorical(np.concatenate(keys)) if keys else [],
        np.concatenate(steps) if steps else np.empty(0, np.int64),
        np.concatenate(values) if values else np.empty(0),
    )
    table, _ = merge_tables([("memory", frame)])
    root = Path(path)
    meta = RunMeta(
        framework=framework,
        config=dict(config or {}),
        max_steps=max_steps,
        restarts=list(restarts),
        checkpoints=[Checkpoint(int(s), root / f"checkpoint-{int(s)}") for s in checkpoints],
    )
    return Run(name, root, "memory", table, meta, aliases or AliasTable.load())
