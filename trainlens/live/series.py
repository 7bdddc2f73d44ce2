"""What a live run has logged so far: growable columns per raw key, turned into a Run on demand.

Appending one point is a few ``array.array`` appends (no numpy per point); numpy arrays are made
only when a policy is evaluated in full or the rules run. Raw keys are resolved to canonical
names through the alias table once, when a key first appears.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.discover import Checkpoint
from trainlens.framework import guess_framework
from trainlens.merge import merge_tables
from trainlens.metrics import AliasTable
from trainlens.readers._frame import frame_from_codes
from trainlens.run import Run, RunMeta


class Column:
    """One raw key's logged points, in log order. ``push_step`` / ``push_value`` are the
    arrays' bound ``append`` (the hot path of :meth:`Monitor.log` calls them directly)."""

    __slots__ = ("steps", "values", "last", "ordered", "push_step", "push_value")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.push_step = self.steps.append
        self.push_value = self.values.append
        self.last: int | None = None  # the step logged last
        self.ordered = True  # steps strictly increase (else: a re-logged or earlier step)

    def add(self, step: int, value: float) -> bool:
        """Append a point; False when its step is not after the last one."""
        later = self.last is None or step > self.last
        self.ordered &= later
        self.last = step
        self.push_step(step)
        self.push_value(value)
        return later

    def __len__(self) -> int:
        return len(self.steps)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` in step order, one point per step (the last one logged), as a
        run's table holds them."""
        steps = np.array(self.steps, dtype=np.int64)
        values = np.array(self.values, dtype=np.float64)
        if self.ordered:
            return steps, values
        order = np.lexsort((np.arange(len(steps)), steps))
        steps, values = steps[order], values[order]
        last = np.ones(len(steps), dtype=bool)
        last[:-1] = steps[1:] != steps[:-1]
        return steps[last], values[last]


class SeriesStore:
    """Columns by raw key (first-appearance order) and each canonical name's keys by rank."""

    def __init__(self, aliases: AliasTable) -> None:
        self.aliases = aliases
        self.columns: dict[str, Column] = {}
        self._by_canonical: dict[str, list[tuple[tuple[int, int, int], str]]] = {}

    def column(self, key: str) -> tuple[Column, bool]:
        """The column of ``key`` and whether it is new."""
        col = self.columns.get(key)
        if col is not None:
            return col, False
        col = self.columns[key] = Column()
        res = self.aliases.resolve(key)
        if res is not None:
            ranked = self._by_canonical.setdefault(res.canonical, [])
            ranked.append((res.rank, key))
            ranked.sort()
        return col, True

    def resolve(self, name: str) -> str | None:
        """The raw key a canonical or raw ``name`` reads (canonical wins), as in a Run."""
        ranked = self._by_canonical.get(name)
        if ranked:
            return ranked[0][1]
        return name if name in self.columns else None

    def names(self) -> list[str]:
        """Raw keys and canonical names logged so far (for "did you mean")."""
        return sorted({*self.columns, *self._by_canonical})

    @property
    def points(self) -> int:
        return sum(len(c) for c in self.columns.values())

    def run(
        self,
        name: str,
        path: Path,
        *,
        config: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
        checkpoints: Iterable[int] = (),
        framework: str | None = None,
    ) -> Run:
        """A Run of everything logged so far, built as the loader builds one (same merge);
        ``framework`` is used when the keys and config do not tell."""
        names = [k for k, c in self.columns.items() if len(c)]
        cols = [self.columns[k] for k in names]
        lengths = [len(c) for c in cols]
        codes = np.repeat(np.arange(len(cols), dtype=np.int32), lengths)

        def cat(kind: str, dtype: type) -> np.ndarray:
            parts: list[np.ndarray] = [np.frombuffer(getattr(c, kind), dtype=dtype) for c in cols]
            return np.concatenate(parts) if parts else np.empty(0, dtype)

        frame = frame_from_codes(names, codes, cat("steps", np.int64), cat("values", np.float64))
        table, restarts = merge_tables([("live", frame)])
        cfg = dict(config or {})
        guessed = guess_framework("live", names, cfg)
        meta = RunMeta(
            framework=framework if guessed == "unknown" and framework else guessed,
            config=cfg,
            max_steps=max_steps,
            restarts=restarts,
            checkpoints=[Checkpoint(int(s), path / f"checkpoint-{int(s)}") for s in checkpoints],
        )
        return Run(name, path, "live", table, meta, self.aliases)
