"""Turn decoded JSON records (one dict per logged step) into the long reader table, vectorised."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trainlens.readers._frame import empty_frame, frame_from_codes

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d*)?)s)?\s*$")


def parse_duration(text: str) -> float | None:
    """``"1d 21h 10m 47s"``, ``"1m 8s"``, ``"2s"``, ``"0.5s"`` → seconds; None if not a duration."""
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def parse_scalar_text(text: str) -> float | None:
    """A number written as text: ``"46.67%"`` → 46.67, durations → seconds, ``"0.5"`` → 0.5."""
    t = text.strip()
    if t.endswith("%"):
        t = t[:-1]
    try:
        return float(t)
    except ValueError:
        return parse_duration(text)


def parse_step_fraction(value: Any) -> tuple[int | None, int | None]:
    """``"2800/6000"`` → (2800, 6000); an int → (int, None); anything else → (None, None)."""
    if isinstance(value, bool):
        return None, None
    if isinstance(value, int):
        return value, None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value), None
    if isinstance(value, str):
        head, _, tail = value.partition("/")
        try:
            return int(head), (int(tail) if tail.strip() else None)
        except ValueError:
            return None, None
    return None, None


def _cell_to_float(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return math.nan
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        parsed = parse_scalar_text(v)
        return math.nan if parsed is None else parsed
    return math.nan


def rows_to_frame(
    rows: Sequence[dict[str, Any]],
    steps: Sequence[int],
    *,
    literal_nan_rows: Sequence[int] = (),
    transforms: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] | None = None,
) -> pd.DataFrame:
    """Long table (``key, step, value, wall_time``) from per-step records, in row-major file order.

    Numeric fields become floats, numeric text (percentages, durations) is parsed, other fields
    (strings, lists, dicts, booleans) are dropped. A missing key is absent from the table; a literal
    NaN / Infinity (rows listed in ``literal_nan_rows``) is kept as a value. ``transforms`` maps a
    raw key to ``(new_key, fn)`` applied to its values (e.g. ``s/it`` → ``iter/s``).
    """
    if not rows:
        return empty_frame()
    table = pd.DataFrame.from_records(list(rows))
    names: list[str] = []
    columns: list[np.ndarray] = []
    present: list[np.ndarray] = []
    for name in table.columns:
        col = table[name]
        if col.dtype.kind in "fiu":
            values = col.to_numpy(dtype=np.float64)
            mask = ~np.isnan(values)
        elif col.dtype.kind == "O":
            values = np.fromiter((_cell_to_float(v) for v in col), np.float64, len(col))
            mask = ~np.isnan(values)
            if not mask.any():
                continue  # a text field (paths, model names...), not a metric
        else:
            continue  # booleans, datetimes
        key = str(name)
        if transforms and key in transforms:
            key, fn = transforms[key]
            with np.errstate(divide="ignore", invalid="ignore"):
                values = fn(values)
        names.append(key)
        columns.append(values)
        present.append(mask)
    if not names:
        return empty_frame()
    values_m = np.column_stack(columns)
    mask_m = np.column_stack(present)
    for r in literal_nan_rows:  # literal NaN/Infinity is data, unlike a missing key
        for k, v in rows[r].items():
            if isinstance(v, float) and not math.isfinite(v):
                j = _column_position(names, k, transforms)
                if j is not None:
                    mask_m[r, j] = True
                    if not transforms or k not in transforms:
                        values_m[r, j] = v
    r_idx, c_idx = np.nonzero(mask_m)  # row-major: file order, then key order within a row
    steps_arr = np.asarray(steps, dtype=np.int64)[r_idx]
    return frame_from_codes(names, c_idx, steps_arr, values_m[r_idx, c_idx])


def _column_position(
    names: list[str], raw_key: str,
    transforms: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] | None,
) -> int | None:
    key = transforms[raw_key][0] if transforms and raw_key in transforms else raw_key
    try:
        return names.index(key)
    except ValueError:
        return None
