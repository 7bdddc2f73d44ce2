"""The tidy run model every downstream piece reads: a long scalar table plus metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlens.discover import Checkpoint
from trainlens.metrics import AliasTable, MetricInfo
from trainlens.readers._frame import Table, as_table
from trainlens.settings import RunSettings

if TYPE_CHECKING:
    import pandas as pd

    from trainlens.cache import ResultCache


@dataclass(frozen=True)
class Restart:
    """A resume from a checkpoint: logging went back from ``previous_step`` to ``step``."""

    step: int
    previous_step: int
    source: str
    overwritten: int  # logged points of the main metric that the resumed run logged again

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "previous_step": self.previous_step,
            "source": self.source,
            "overwritten": self.overwritten,
        }


@dataclass(frozen=True)
class SourceInfo:
    """One file (or TensorBoard directory) that fed a run, with its step range."""

    path: str
    format: str
    points: int
    first_step: int | None
    last_step: int | None
    #: "history": its scalars are the run's table; "metadata": only its meta was used; "extra":
    #: TensorBoard tags the history lacks were added; "duplicate": it repeats the history.
    role: str = "history"
    repeated: int = 0  # records that re-logged a step (a resumed job, lines written twice)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunMeta:
    """What is known about a run besides its scalars."""

    framework: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    config_path: str | None = None
    max_steps: int | None = None
    best_metric: float | None = None
    best_step: int | None = None
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    restarts: list[Restart] = field(default_factory=list)
    train_summary: dict[str, float] = field(default_factory=dict)
    sources: list[SourceInfo] = field(default_factory=list)
    config_kind: str | None = None  # args_json, wandb, hydra, llamafactory_yaml, console, ...
    #: How steps were found when the log has none (console dicts): ``{"method": "tqdm" |
    #: "interval" | "epoch" | "position" | "wandb_step", ...}``; None when the log says.
    step_basis: dict[str, Any] | None = None
    #: Console values printed with few decimals: ``{"decimals": 3, "unknown": [keys printed
    #: 0.000 on every step, not read], "zeros": {key: points printed as 0.000}}``.
    rounded: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)  # {"done": last step the bar showed}
    final_values: dict[str, float] = field(default_factory=dict)  # wandb-summary / all_results
    logs: list[str] = field(default_factory=list)  # console output read for failure messages

    @cached_property
    def settings(self) -> RunSettings:
        """The config's settings under one name whatever the framework spelled them (resolved
        on first use, after loading)."""
        return RunSettings(self.config, self.framework)

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "config_path": self.config_path,
            "config_kind": self.config_kind,
            "settings": self.settings.to_dict(),
            "step_basis": self.step_basis,
            "rounded": self.rounded,
            "progress": self.progress,
            "final_values": self.final_values,
            "logs": self.logs,
            "max_steps": self.max_steps,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "best_checkpoint": self.best_checkpoint,
            "last_checkpoint": self.last_checkpoint,
            "checkpoints": [{"step": c.step, "path": str(c.path)} for c in self.checkpoints],
            "restarts": [r.to_dict() for r in self.restarts],
            "train_summary": self.train_summary,
            "sources": [s.to_dict() for s in self.sources],
        }


class Run:
    """One training run: ``table`` has columns ``source, key, step, value, wall_time``, grouped by
    key (in the key column's category order, which is first-appearance order, not name order)
    and sorted by step within a key, one row per (key, step) (later logs of a step replaced
    earlier ones). Use :attr:`keys` for the names sorted.

    The table is kept as numpy columns (:attr:`columns`, a
    :class:`~trainlens.readers._frame.Table`); :attr:`table` builds the DataFrame on first use,
    so what needs only a metric's arrays (:meth:`arrays`, the gate) never imports pandas."""

    def __init__(
        self,
        name: str,
        path: Path,
        format: str,
        table: Table | pd.DataFrame,
        meta: RunMeta,
        aliases: AliasTable,
    ) -> None:
        self.name = name
        self.path = path
        self.format = format
        self.columns = as_table(table)
        for col in (self.columns.codes, self.columns.step, self.columns.value):
            col.flags.writeable = False  # callers get views (arrays()): the run's data stays put
        self.columns.wall_time.flags.writeable = False
        self.meta = meta
        self.aliases = aliases
        #: (cache, content id) when the run's files are cached unchanged: its rule outcomes
        #: may be cached too (:func:`trainlens.cache.runs.evaluate_cached`).
        self.cache_ref: tuple[ResultCache, str] | None = None
        #: Points of each raw key logged before this run's first one, when the run is the end
        #: of a longer one (``watch``'s incremental passes): shares of "the whole run" count them.
        self.head_points: dict[str, int] = {}
        codes = self.columns.codes
        cats = self.columns.names
        starts = np.searchsorted(codes, np.arange(len(cats)), side="left")
        ends = np.searchsorted(codes, np.arange(len(cats)), side="right")
        self._slices = {str(c): (int(s), int(e)) for c, s, e in zip(cats, starts, ends) if e > s}

    @property
    def table(self) -> pd.DataFrame:
        """The long table as a DataFrame (built on first use, then the same object)."""
        return self.columns.to_pandas()

    def __repr__(self) -> str:
        return (
            f"Run({self.name!r}, format={self.format}, keys={len(self._slices)}, "
            f"points={len(self.columns)})"
        )

    @property
    def keys(self) -> list[str]:
        """Raw metric keys, sorted."""
        return sorted(self._slices)

    def canonical(self, key: str) -> str | None:
        """The canonical name of a raw key (None if it has no alias)."""
        res = self.aliases.resolve(key)
        return res.canonical if res else None

    @cached_property
    def _by_canonical(self) -> dict[str, list[str]]:
        ranked: dict[str, list[tuple[tuple[int, int, int], str]]] = {}
        for key in self._slices:
            res = self.aliases.resolve(key)
            if res is not None:
                ranked.setdefault(res.canonical, []).append((res.rank, key))
        return {c: [k for _, k in sorted(v)] for c, v in ranked.items()}

    @property
    def canonical_names(self) -> list[str]:
        """Canonical metrics present in this run."""
        return sorted(self._by_canonical)

    def keys_for(self, canonical: str) -> list[str]:
        """Raw keys that map to ``canonical``, preferred first."""
        return list(self._by_canonical.get(canonical, []))

    def resolve(self, name: str) -> str | None:
        """A raw key for a canonical or raw ``name`` (canonical wins), or None."""
        keys = self._by_canonical.get(name)
        if keys:
            return keys[0]
        return name if name in self._slices else None

    def series(self, name: str) -> pd.Series | None:
        """Values of a canonical or raw metric indexed by step (None if the run lacks it)."""
        key = self.resolve(name)
        if key is None:
            return None
        import pandas as pd

        start, end = self._slices[key]
        steps = self.columns.step[start:end]
        return pd.Series(
            self.columns.value[start:end], index=pd.Index(steps, name="step"), name=key
        )

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(steps, values)`` numpy views of a metric, without building a Series."""
        key = self.resolve(name)
        return None if key is None else self.key_arrays(key)

    def key_arrays(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(steps, values)`` of the raw key ``key`` itself (:meth:`arrays` reads a canonical
        name first: raw ``clip_ratio`` may name a metric whose preferred key is another)."""
        where = self.rows(key)
        if where is None:
            return None
        start, end = where
        return (self.columns.step[start:end], self.columns.value[start:end])

    def rows(self, key: str) -> tuple[int, int] | None:
        """Where the raw key ``key``'s points are in :attr:`columns` (``start, end``: rows are
        grouped by key), or None when it has none."""
        return self._slices.get(key)

    def info(self, name: str) -> MetricInfo:
        """Alias-table facts (family, direction) for a canonical name."""
        return self.aliases.info(name)

    @property
    def first_step(self) -> int | None:
        return int(self.columns.step.min()) if len(self.columns) else None

    @property
    def last_step(self) -> int | None:
        return int(self.columns.step.max()) if len(self.columns) else None

    def to_frame(self) -> pd.DataFrame:
        """The long table ``run, source, key, step, value, wall_time``."""
        out = self.table.copy()
        out.insert(0, "run", self.name)
        return out
