"""Turn decoded JSON records (one dict per logged step) into the long reader table, vectorised."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlens.readers._frame import Table, empty_frame, frame_from_codes

if TYPE_CHECKING:
    import pandas as pd

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
        step = _digits(head)
        if step is None:
            return None, None
        if not tail.strip():
            return step, None
        total = _digits(tail)
        return (step, total) if total is not None else (None, None)
    return None, None


def _digits(text: str) -> int | None:
    """ASCII digits (spaces around allowed) as an int; None for anything else (signs, ``_``,
    other scripts' digits: not a step, as they are no number to :func:`number_text`)."""
    t = text.strip()
    return int(t) if t.isascii() and t.isdigit() else None


_UNIT_SECONDS = {ord("d"): 86400.0, ord("h"): 3600.0, ord("m"): 60.0, ord("s"): 1.0}


def scan_numbers(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised parse of short ASCII cells (a fixed-width bytes array), one pass per character
    position: durations like ``"1d 2h 3m 4.5s"`` → seconds, and ``"N/M"`` → (N, M).

    Returns ``(first, second)``: for a duration ``first`` is the seconds and ``second`` NaN; for a
    fraction they are N and M; cells that are neither give NaN in both.
    """
    chars = text.view(np.uint8).reshape(len(text), -1) if len(text) else np.zeros((0, 1), np.uint8)
    n = len(chars)
    acc = np.zeros(n)
    frac_div = np.ones(n)
    in_frac = np.zeros(n, dtype=bool)
    has_digit = np.zeros(n, dtype=bool)
    seconds = np.zeros(n)
    numerator = np.full(n, np.nan)
    units = np.zeros(n, dtype=np.int8)
    valid = np.ones(n, dtype=bool)
    for col in chars.T:
        digit = (col >= 48) & (col <= 57)
        d = col.astype(np.float64) - 48.0
        whole = digit & ~in_frac
        acc[whole] = acc[whole] * 10.0 + d[whole]
        part = digit & in_frac
        frac_div[part] *= 10.0
        acc[part] += d[part] / frac_div[part]
        has_digit |= digit
        dot = col == 46
        valid &= ~(dot & in_frac)
        in_frac |= dot
        unit = np.zeros(n)
        for code, mult in _UNIT_SECONDS.items():
            unit[col == code] = mult
        is_unit = unit > 0
        valid &= ~(is_unit & ~has_digit)
        seconds[is_unit] += acc[is_unit] * unit[is_unit]
        units[is_unit] += 1
        slash = col == 47
        valid &= ~(slash & (~has_digit | in_frac | ~np.isnan(numerator)))
        numerator[slash] = acc[slash]
        ends_number = is_unit | slash
        acc[ends_number] = 0.0
        frac_div[ends_number] = 1.0
        in_frac[ends_number] = False
        has_digit[ends_number] = False
        valid &= digit | dot | ends_number | (col == 32) | (col == 0)
    fraction = ~np.isnan(numerator) & has_digit & (units == 0) & valid
    duration = (units > 0) & ~has_digit & np.isnan(numerator) & valid
    first = np.where(fraction, numerator, np.where(duration, seconds, np.nan))
    second = np.where(fraction, acc, np.nan)
    return first, second


def ascii_cells(col: pd.Series | list[str]) -> np.ndarray | None:
    """The column as a fixed-width bytes array, or None if a cell is not short ASCII text."""
    try:
        cells = np.array(col if isinstance(col, list) else col.tolist(), dtype="S")
    except (UnicodeEncodeError, ValueError, TypeError):
        return None
    return cells if cells.dtype.itemsize <= 32 else None


def number_text(text: str) -> float:
    """A number written as text, as ``pandas.to_numeric`` reads it (NaN if it is not one:
    digit separators and non-ASCII digits are not numbers here, unlike in ``float()``)."""
    if not text.isascii() or "_" in text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _cell_number(cell: Any) -> float:
    """A non-text cell as a float: numbers pass, anything else (booleans, lists, null) NaN."""
    kind = type(cell)
    if kind is float:
        return cell
    if kind is int:
        try:
            return float(cell)
        except OverflowError:
            return math.nan
    return math.nan


def text_column_to_float(col: pd.Series | Sequence[Any]) -> np.ndarray:
    """Vectorised :func:`parse_scalar_text` over a text column (numbers pass through);
    cells that are not numbers, percentages or durations become NaN."""
    cells = col.to_numpy(dtype=object).tolist() if hasattr(col, "to_numpy") else list(col)
    values = np.full(len(cells), np.nan)
    is_text = np.array([type(c) is str for c in cells], dtype=bool)
    if not is_text.all():  # numbers mixed into a text column
        values[~is_text] = [_cell_number(c) for c, t in zip(cells, is_text.tolist()) if not t]
    if not is_text.any():
        return values
    idx = np.flatnonzero(is_text)
    text = [cells[i].strip() for i in idx.tolist()]
    pct = np.array([t[-1:] == "%" for t in text], dtype=bool)
    if pct.any():
        values[idx[pct]] = [
            number_text(t[:-1]) for t, p in zip(text, pct.tolist(), strict=True) if p
        ]
    rest_idx = idx[~pct]
    rest = [t for t, p in zip(text, pct.tolist(), strict=True) if not p]
    cells_s = ascii_cells(rest)
    if cells_s is not None:
        first, second = scan_numbers(cells_s)
        durations = ~np.isnan(first) & np.isnan(second)
        values[rest_idx[durations]] = first[durations]
        rest_idx = rest_idx[~durations]
        rest = [t for t, d in zip(rest, durations.tolist(), strict=True) if not d]
    if rest:  # plain numbers written as text, and anything the scanner did not take
        values[rest_idx] = [
            v if not math.isnan(v := number_text(t)) else _scalar_or_nan(t) for t in rest
        ]
    return values


def _scalar_or_nan(text: str) -> float:
    value = parse_scalar_text(text)
    return math.nan if value is None else value


def _transpose(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each field's cells over ``rows`` (NaN where a row lacks it), fields in order of first
    appearance. Rows are grouped by their field list (a log has a few shapes: train steps, eval
    steps...), each group read with one C-level getter."""
    shapes: dict[tuple[str, ...], list[int]] = {}
    for i, row in enumerate(rows):
        shapes.setdefault(tuple(row), []).append(i)
    if len(shapes) == 1:
        ((fields, _),) = shapes.items()
        if not fields:
            return {}
        if len(fields) == 1:
            return {fields[0]: [row[fields[0]] for row in rows]}
        return dict(zip(fields, map(list, zip(*map(itemgetter(*fields), rows)))))
    names = dict.fromkeys(k for fields in shapes for k in fields)
    columns: dict[str, list[Any]] = {name: [math.nan] * len(rows) for name in names}
    for fields, idx in shapes.items():
        picked = [rows[i] for i in idx]
        for name in fields:
            col = columns[name]
            for i, value in zip(idx, map(itemgetter(name), picked)):
                col[i] = value
    return columns


def records_table(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The wide table of ``rows`` with the columns and dtypes ``pandas.DataFrame.from_records``
    gives them, in numpy: each field in order of first appearance, NaN where a row lacks it;
    int64 (uint64 past its range) when every row holds an integer, float64 when every given
    value is a number (or null), else an object array of the cells."""
    out: dict[str, np.ndarray] = {}
    for name, cells in _transpose(rows).items():
        kinds = set(map(type, cells))  # a row that lacks the field holds a float NaN
        col = None
        if kinds == {int}:
            col = _integers(cells)
        elif (kinds := kinds - {type(None)}) and kinds <= {int, float}:
            col = _floats(cells)
        out[name] = col if col is not None else np.fromiter(cells, object, count=len(cells))
    return out


def _floats(cells: list[Any]) -> np.ndarray | None:
    """Numbers and nulls as float64; None where pandas keeps them as objects (an integer below
    -2**63 or from 2**64 on)."""
    try:  # numbers and nulls only here (fromiter reads None as NaN, as pandas does)
        col = np.fromiter(cells, np.float64, count=len(cells))
    except OverflowError:
        return None
    big = np.flatnonzero(np.abs(col) >= 2.0**63)  # only these can be out of range
    if any(type(c) is int and not -(2**63) <= c < 2**64 for c in map(cells.__getitem__, big)):
        return None
    return col


def _integers(cells: list[int]) -> np.ndarray | None:
    for dtype in (np.int64, np.uint64):
        try:
            return np.array(cells, dtype=dtype)
        except OverflowError:
            continue
    return None


def _array_columns(
    table: Mapping[str, np.ndarray],
) -> Iterator[tuple[str, np.ndarray | None, np.ndarray | None]]:
    """``(name, numbers, None)`` for each number column of a wide table (see
    :func:`records_table`), ``(name, None, cells)`` for each object column; booleans are no
    metric."""
    for name, col in table.items():
        if col.dtype.kind in "fiu":
            yield name, col.astype(np.float64, copy=False), None
        elif col.dtype.kind == "O":
            yield name, None, col
        # booleans: not metrics


def rows_to_frame(
    rows: Sequence[dict[str, Any]],
    steps: Sequence[int] | np.ndarray,
    *,
    literal_nan_rows: Sequence[int] = (),
    transforms: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] | None = None,
    skip: Sequence[str] = (),
    table: Mapping[str, np.ndarray] | None = None,
) -> Table:
    """Long table (``key, step, value, wall_time``) from per-step records, in row-major file order.

    Numeric fields become floats, numeric text (percentages, durations) is parsed, other fields
    (strings, lists, dicts, booleans) are dropped. A missing key is absent from the table; a literal
    NaN / Infinity (rows listed in ``literal_nan_rows``) is kept as a value. ``transforms`` maps a
    raw key to ``(new_key, fn)`` applied to its values (e.g. ``s/it`` → ``iter/s``); ``skip``
    names fields that are not metrics (step fields). ``table`` is ``rows`` already as a wide
    table (:func:`records_table`, or columns read elsewhere), which may have dropped rows.
    """
    if not rows:
        return empty_frame()
    skipped = set(skip)
    names: list[str] = []
    columns: list[np.ndarray] = []
    present: list[np.ndarray] = []
    fields = _array_columns(records_table(rows) if table is None else table)
    for name, numbers, other in fields:
        if name in skipped:
            continue
        if numbers is not None:
            values = numbers
            mask = ~np.isnan(values)
        else:
            assert other is not None
            values = text_column_to_float(other)
            mask = ~np.isnan(values)
            if not mask.any():
                continue  # a text field (paths, model names...), not a metric
        key = str(name)
        if transforms and key in transforms:
            key, fn = transforms[key]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                values = fn(values)
        if key in names:  # two raw keys, one name (s/it and iter/s in one log): one column
            at = names.index(key)
            fill = mask & ~present[at]
            columns[at] = np.where(fill, values, columns[at])
            present[at] = present[at] | fill
            continue
        names.append(key)
        columns.append(values)
        present.append(mask)
    if not names:
        return empty_frame()
    values_m = np.column_stack(columns)
    mask_m = np.column_stack(present)
    for r in literal_nan_rows:  # literal NaN/Infinity is data, unlike a missing key
        for k, v in rows[r].items():
            if k in skipped:
                continue
            if isinstance(v, float) and not math.isfinite(v):
                j = _column_position(names, k, transforms)
                if j is not None:
                    mask_m[r, j] = True
                    if not transforms or k not in transforms:
                        values_m[r, j] = v
    steps_arr = np.asarray(steps, dtype=np.int64)
    if mask_m.all():  # every row holds every key (a plain log): no cell to leave out
        n_rows, n_keys = mask_m.shape
        codes = np.tile(np.arange(n_keys, dtype=np.int32), n_rows)
        return frame_from_codes(names, codes, np.repeat(steps_arr, n_keys), values_m.ravel())
    r_idx, c_idx = np.nonzero(mask_m)  # row-major: file order, then key order within a row
    return frame_from_codes(names, c_idx, steps_arr[r_idx], values_m[r_idx, c_idx])


def _column_position(
    names: list[str],
    raw_key: str,
    transforms: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] | None,
) -> int | None:
    key = transforms[raw_key][0] if transforms and raw_key in transforms else raw_key
    try:
        return names.index(key)
    except ValueError:
        return None
