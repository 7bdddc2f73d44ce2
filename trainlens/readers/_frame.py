"""The one shape every reader returns: a long scalar table in file order, plus metadata.

The table is held as numpy columns (:class:`Table`); the pandas DataFrame the analysis reads
is built from them on first use (:meth:`Table.to_pandas`), so a caller that only needs the
arrays (``trainlens gate``) never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlens.diagnostics import ReadWarning

if TYPE_CHECKING:
    import pandas as pd

#: Columns of a reader's table, in order. ``key`` is categorical, ``step`` int64,
#: ``value`` and ``wall_time`` float64 (``wall_time`` is NaN when the format has none).
COLUMNS = ("key", "step", "value", "wall_time")


class Table:
    """A long scalar table as numpy columns: ``names`` (the key categories) and int32 ``codes``
    into them, ``step`` int64, ``value`` and ``wall_time`` float64. A run's merged table also
    has ``sources`` and ``source_codes`` (the file each row came from).

    :meth:`to_pandas` gives the DataFrame (``[source,] key, step, value, wall_time``, keys and
    sources categorical with these categories in this order), built once and kept.
    """

    def __init__(
        self,
        names: Sequence[str],
        codes: np.ndarray,
        step: np.ndarray,
        value: np.ndarray,
        wall_time: np.ndarray | None = None,
        *,
        sources: Sequence[str] | None = None,
        source_codes: np.ndarray | None = None,
    ) -> None:
        self.names = list(names)
        self.codes = np.asarray(codes, dtype=np.int32)
        self.step = np.asarray(step, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.float64)
        n = len(self.step)
        self.wall_time = (
            np.full(n, np.nan) if wall_time is None else np.asarray(wall_time, np.float64)
        )
        self.sources = None if sources is None else list(sources)
        self.source_codes = None if source_codes is None else np.asarray(source_codes, np.int32)
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.step)

    def __repr__(self) -> str:
        return f"Table(rows={len(self)}, keys={len(self.names)})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_frame": None}  # the DataFrame is rebuilt on demand

    def check(self) -> Table:
        """Raise ValueError unless the columns have one length, the names are distinct and the
        codes fit them (what a table from outside, e.g. a cache file, must pass); returns the
        table."""
        n = len(self.step)
        for names in (self.names, self.sources or []):
            if len(set(names)) != len(names):
                raise ValueError("repeated category")
        cols: list[np.ndarray] = [self.step, self.codes, self.value, self.wall_time]
        if self.source_codes is not None:
            cols.append(self.source_codes)
        if any(c.ndim != 1 or len(c) != n for c in cols):
            raise ValueError("table columns of different lengths")
        pairs = [(self.codes, self.names), (self.source_codes, self.sources or [])]
        for codes, cats in pairs:
            if codes is not None and n and (codes.min() < 0 or codes.max() >= len(cats)):
                raise ValueError("table codes out of range")
        return self

    def take(self, rows: np.ndarray) -> Table:
        """The rows at ``rows`` (indices or a boolean mask), with the same categories."""
        return Table(
            self.names,
            self.codes[rows],
            self.step[rows],
            self.value[rows],
            self.wall_time[rows],
            sources=self.sources,
            source_codes=None if self.source_codes is None else self.source_codes[rows],
        )

    def without_unused(self) -> Table:
        """The same rows with the key categories no row uses dropped (order kept)."""
        used = np.zeros(len(self.names), dtype=bool)
        used[self.codes] = True
        if used.all():
            return self
        remap = np.cumsum(used, dtype=np.int32) - 1
        return Table(
            [n for n, u in zip(self.names, used.tolist(), strict=True) if u],
            remap[self.codes],
            self.step,
            self.value,
            self.wall_time,
            sources=self.sources,
            source_codes=self.source_codes,
        )

    def to_pandas(self) -> pd.DataFrame:
        """The DataFrame of these columns (built on first call, then the same object)."""
        if self._frame is None:
            import pandas as pd

            cols: dict[str, Any] = {}
            if self.sources is not None:
                assert self.source_codes is not None
                cols["source"] = _categorical(self.source_codes, self.sources)
            cols["key"] = _categorical(self.codes, self.names)
            cols.update(step=self.step, value=self.value, wall_time=self.wall_time)
            # the arrays are the table's own: a copy would double a big file's memory
            self._frame = pd.DataFrame(cols, copy=False)
        return self._frame

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame) -> Table:
        """The columns of a reader (or run) DataFrame; its categories and their order kept."""
        if isinstance(frame, Table):
            return frame
        key = frame["key"].array
        sources = source_codes = None
        if "source" in frame.columns:
            src = frame["source"].array
            sources = list(src.categories)  # type: ignore[attr-defined]
            source_codes = src.codes  # type: ignore[attr-defined]
        table = cls(
            list(key.categories),  # type: ignore[attr-defined]
            key.codes,  # type: ignore[attr-defined]
            frame["step"].to_numpy(),
            frame["value"].to_numpy(),
            frame["wall_time"].to_numpy(),
            sources=sources,
            source_codes=source_codes,
        )
        table._frame = frame
        return table


def _categorical(codes: np.ndarray, names: list[str]) -> Any:
    import pandas as pd

    if not names:
        return pd.Categorical([])
    return pd.Categorical.from_codes(codes, categories=names)


def as_table(frame: Table | pd.DataFrame) -> Table:
    """``frame`` as a :class:`Table` (a DataFrame's columns are taken, not copied)."""
    return frame if isinstance(frame, Table) else Table.from_pandas(frame)


def concat_tables(tables: Sequence[Table]) -> Table:
    """Reader tables one after the other; key categories in order of first appearance
    (as ``union_categoricals(..., ignore_order=True)`` orders them)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_frame()
    if len(tables) == 1:
        return tables[0]
    names: dict[str, int] = {}
    codes = []
    for t in tables:
        lut = np.array([names.setdefault(n, len(names)) for n in t.names], dtype=np.int32)
        codes.append(lut[t.codes])
    return Table(
        list(names),
        np.concatenate(codes),
        np.concatenate([t.step for t in tables]),
        np.concatenate([t.value for t in tables]),
        np.concatenate([t.wall_time for t in tables]),
    )


class ReadResult:
    """What a reader got out of one file.

    ``table`` keeps the file's record order (restart detection relies on it); ``frame`` is it as
    a pandas DataFrame (built on first use). ``end_offset`` is the byte offset just after the
    last complete record, so a follower (``watch``) can resume there. ``meta`` holds
    format-specific run metadata (``max_steps``, ``best_metric``, ``train_summary`` ...);
    :func:`trainlens.load.apply_meta` copies what the run model keeps.
    """

    __slots__ = ("table", "warnings", "meta", "end_offset")

    def __init__(
        self,
        frame: Table | pd.DataFrame,
        warnings: list[ReadWarning] | None = None,
        meta: dict[str, Any] | None = None,
        end_offset: int = 0,
    ) -> None:
        self.table = as_table(frame)
        self.warnings: list[ReadWarning] = [] if warnings is None else warnings
        self.meta: dict[str, Any] = {} if meta is None else meta
        self.end_offset = end_offset

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (``key, step, value, wall_time``)."""
        return self.table.to_pandas()

    def __repr__(self) -> str:
        return (
            f"ReadResult({self.table!r}, warnings={len(self.warnings)}, "
            f"end_offset={self.end_offset})"
        )


def empty_frame() -> Table:
    """A table with the reader columns and no rows."""
    return Table([], np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float64))


def make_frame(
    keys: list[str] | np.ndarray | Any,
    steps: np.ndarray,
    values: np.ndarray,
    wall_times: np.ndarray | None = None,
) -> Table:
    """Build a reader table from parallel columns. ``keys`` are strings (categories: the
    names sorted, as ``pd.Categorical(keys)`` orders them) or a pandas Categorical (its
    categories and order kept)."""
    if hasattr(keys, "categories") and hasattr(keys, "codes"):  # a pandas Categorical
        return Table(list(keys.categories), keys.codes, steps, values, wall_times)
    if not len(keys):
        return Table([], np.empty(0, np.int32), steps, values, wall_times)
    unique, codes = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    return Table([str(k) for k in unique.tolist()], codes.reshape(-1), steps, values, wall_times)


def frame_from_codes(
    names: list[str],
    codes: np.ndarray,
    steps: np.ndarray,
    values: np.ndarray,
    wall_times: np.ndarray | None = None,
) -> Table:
    """Build a reader table from integer key codes into ``names`` (fast path for big files).
    Names that repeat (two raw keys given one name) share one category."""
    codes = np.asarray(codes, dtype=np.int32)
    if len(set(names)) != len(names):
        unique, lut = np.unique(np.asarray(names, dtype=object), return_inverse=True)
        first = [names.index(n) for n in unique.tolist()]
        order = np.argsort(first)  # categories in order of first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes = rank[lut.reshape(-1)][codes].astype(np.int32)
        names = [str(unique[i]) for i in order]
    return Table(names, codes, steps, values, wall_times)
