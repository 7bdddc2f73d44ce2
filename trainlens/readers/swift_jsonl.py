"""ms-swift ``logging.jsonl`` (v2, v3, v4 and Megatron-SWIFT) → the long reader table."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import brief, step_mask
from trainlens.readers._frame import ReadResult
from trainlens.readers._jsonl import JsonLines, decode_lines, read_raw
from trainlens.readers._jsonl_fast import Columns, Text, read_columns
from trainlens.readers._rows import (
    ascii_cells,
    parse_step_fraction,
    records_table,
    rows_to_frame,
    scan_numbers,
    text_column_to_float,
)

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 2

#: Keys that carry the step rather than a metric.
_STEP_KEYS = ("global_step/max_steps", "iteration", "global_step", "step")
#: v4 logs seconds per iteration; every reader reports steps per second under one key.
_TRANSFORMS = {"train_speed(s/it)": ("train_speed(iter/s)", lambda v: 1.0 / v)}
#: Keys that mark a record as run metadata (the summary record, HF's end-of-training line).
_RECORD_KEYS = frozenset({"log_history", "last_model_checkpoint", "train_runtime"})
#: Keys of the final summary record (it repeats the whole log_history: not data points).
_SUMMARY_KEYS = ("best_metric", "best_model_checkpoint", "last_model_checkpoint", "global_step")


def _number(value: Any) -> float:
    """A JSON number as a float (NaN for anything else: lists, objects, booleans, null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    return float(value) if abs(value) < 1e300 else np.nan


def _given(value: Any) -> bool:
    """Whether a cell holds something (a wide table holds NaN where a record lacks the key)."""
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _steps(
    table: dict[str, np.ndarray], n: int, texts: dict[str, Text] | None = None
) -> tuple[np.ndarray, int | None, set[str]]:
    """Vectorised step per row (-1 where none) from the first step field present, the max_steps
    of ``"N/M"`` fields, and which step fields were used. ``table``: the wide table of ``n``
    rows; ``texts``: text columns whose canonical ``"N/M"`` cells the fast path read already."""
    steps = np.full(n, -1, dtype=np.int64)
    max_steps: int | None = None
    used: set[str] = set()
    for key in _STEP_KEYS:
        col = table.get(key)
        if col is None:
            continue
        if col.dtype.kind in "iuf":
            num = col.astype(np.float64)
            den = np.full(n, np.nan)
        else:
            num, den = np.full(n, np.nan), np.full(n, np.nan)
            pre = texts.get(key) if texts else None
            if pre is not None:
                is_text, done = pre.given, pre.fraction
                num[done], den[done] = pre.num[done], pre.den[done]
                todo = is_text & ~done
            else:
                is_text = todo = np.fromiter((type(v) is str for v in col), bool, count=n)
            idx = np.flatnonzero(todo)
            text = col[idx].tolist()
            cells = ascii_cells(text) if text else None
            if cells is not None:  # "N/M" cells read together; the rest below, one by one
                first, second = scan_numbers(cells)
                chars = cells.view(np.uint8).reshape(len(cells), -1)  # digits and "/" only:
                fraction = ~np.isnan(second) & ~np.isin(chars, (32, 46)).any(axis=1)
                num[idx[fraction]], den[idx[fraction]] = first[fraction], second[fraction]
                text = list(compress(text, (~fraction).tolist()))
                idx = idx[~fraction]
            # an integer as text, other text, non-ASCII or long text: the scalar parser
            pairs = [parse_step_fraction(v) for v in text]
            num[idx] = [np.nan if a is None else a for a, _ in pairs]
            den[idx] = [np.nan if b is None else b for _, b in pairs]
            if not is_text.all():  # v2 integer steps mixed with text; lists, dicts: none
                num[~is_text] = [_number(v) for v in col[~is_text]]
        fill = (steps < 0) & step_mask(num)
        if fill.any():
            used.add(key)
            steps[fill] = num[fill].astype(np.int64)
        den_ok = step_mask(den) & (den > 0)
        if den_ok.any():
            max_steps = int(den[den_ok].max())
    return steps, max_steps, used


def _special_meta(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Run metadata from the summary / end-of-training records, in file order."""
    meta: dict[str, Any] = {}
    for obj in records:
        if "log_history" in obj or "last_model_checkpoint" in obj:
            meta.update({k: obj[k] for k in _SUMMARY_KEYS if k in obj and obj[k] is not None})
            continue
        # HF's end-of-training line ("train_runtime"): run metadata, not a data point
        meta["train_summary"] = {
            k: float(v)
            for k, v in obj.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        _, end_max = parse_step_fraction(obj.get("global_step/max_steps"))
        if end_max is not None:
            meta["max_steps"] = end_max
    return meta


def read_swift_jsonl(
    path: Path, offset: int = 0, *, final: bool = True, first_line: int = 1
) -> ReadResult:
    """Read an ms-swift ``logging.jsonl``; bad lines become warnings, never exceptions.

    A big read of flat records goes through pyarrow when it is installed
    (:mod:`~trainlens.readers._jsonl_fast`, same result); otherwise every line is decoded here.
    """
    raw, lines = read_raw(path, offset)
    if raw is not None:
        fast = read_columns(
            raw, str(path), final=final, first_line=first_line, special_keys=_RECORD_KEYS
        )
        if fast is not None:
            return _from_columns(path, fast, lines)
        decode_lines(lines, raw, str(path), final=final, first_line=first_line)
    objects = lines.objects
    special = sorted(  # records with a summary / end-of-training key: a few, if any
        {
            i
            for key in _RECORD_KEYS
            for i in compress(range(len(objects)), map(dict.__contains__, objects, repeat(key)))
        }
    )
    meta = _special_meta([objects[i] for i in special])
    rows, row_lines, nan_rows = objects, lines.line_numbers, lines.nan_rows
    if special:
        usual = [True] * len(objects)
        for i in special:
            usual[i] = False
        rows, row_lines = list(compress(rows, usual)), list(compress(row_lines, usual))
        position = np.cumsum(usual) - 1
        nan_rows = [int(position[r]) for r in lines.nan_rows if usual[r]]
    if not rows:
        return ReadResult(
            frame=rows_to_frame([], []),
            meta=meta,
            warnings=lines.all_warnings(),
            end_offset=lines.end_offset,
        )
    return _finish(path, rows, row_lines, nan_rows, _wide_table(rows), meta, lines)


#: From this many decoded records on, pandas lays out their wide table (twice as fast as
#: :func:`~trainlens.readers._rows.records_table`, once its import is paid); fewer (a gate's
#: log, a follower's increments) need no pandas.
PANDAS_ROWS = 20_000


def _wide_table(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``records_table(rows)``, through ``pandas.DataFrame.from_records`` for many rows."""
    if len(rows) < PANDAS_ROWS:
        return records_table(rows)
    import pandas as pd

    try:
        frame = pd.DataFrame.from_records(rows)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") refused by its Arrow text
        return records_table(rows)
    return {key: frame[key].to_numpy() for key in frame.columns}


def _from_columns(path: Path, fast: Columns, lines: JsonLines) -> ReadResult:
    """The reader's result from the fast path's wide table (same steps as for decoded rows)."""
    meta = _special_meta(fast.special)
    fast.lines.warnings[:0] = lines.warnings
    if not fast.n:
        return ReadResult(
            frame=rows_to_frame([], []),
            meta=meta,
            warnings=fast.lines.all_warnings(),
            end_offset=fast.lines.end_offset,
        )
    rows: list[dict[str, Any]] = [{}] * fast.n  # only the literal-NaN rows are looked at
    for r, obj in fast.objects.items():
        rows[r] = obj
    table = dict(fast.columns)
    return _finish(path, rows, fast.row_lines, fast.nan_rows, table, meta, fast.lines, fast.text)


def _read_text(
    table: dict[str, np.ndarray], texts: dict[str, Text], keep: np.ndarray | None
) -> dict[str, np.ndarray]:
    """What rows_to_frame makes of a text column, with the fast path's canonical cells already
    read: a float column of its numbers, or no column when none is one (a text field). ``keep``:
    the rows left (the other cells are parsed together, as rows_to_frame would)."""
    for key, text in texts.items():
        if key in _STEP_KEYS:
            continue
        values, todo = text.value, text.given & ~text.done
        if keep is not None:
            values, todo = values[keep], todo[keep]
        if todo.any():
            values = values.copy()
            values[todo] = text_column_to_float(table[key][todo].tolist())
        if np.isnan(values).all():
            del table[key]
        else:
            table[key] = values
    return table


def _finish(
    path: Path,
    rows: list[dict[str, Any]],
    row_lines: Sequence[int] | np.ndarray,
    nan_rows: list[int],
    table: dict[str, np.ndarray],
    meta: dict[str, Any],
    lines: JsonLines,
    texts: dict[str, Text] | None = None,
) -> ReadResult:
    """Steps, step warnings and the long table from the wide ``table`` of ``rows`` (see
    :func:`~trainlens.readers._rows.records_table`; changed in place)."""
    warnings: list[ReadWarning] = []
    steps, max_steps, used = _steps(table, len(row_lines), texts)
    if max_steps is not None:
        meta["max_steps"] = max_steps
    if used:
        meta["step_field"] = next(k for k in _STEP_KEYS if k in used)
    if "global_step" in used and "global_step/max_steps" not in used:
        meta["swift_generation"] = "v2"
    elif "iteration" in used:
        meta["swift_generation"] = "megatron"
    missing = np.flatnonzero(steps < 0)
    step_cols = [table[k] for k in _STEP_KEYS if k in table]
    for r in missing:
        given = next((v for col in step_cols if _given(v := col[r])), None)
        what = (
            f"unreadable step {brief(given)}"
            if given is not None
            else f"no step field ({' / '.join(_STEP_KEYS[:3])})"
        )
        warnings.append(ReadWarning(str(path), f"line {row_lines[int(r)]}: {what}; skipped"))
    keep = steps >= 0 if missing.size else None
    if keep is not None:
        table = {key: col[keep] for key, col in table.items()}
        kept_index = np.cumsum(keep) - 1
        nan_rows = [int(kept_index[r]) for r in nan_rows if keep[r]]
        rows = [rows[r] for r in np.flatnonzero(keep)]
        steps = steps[keep]
    if texts:
        table = _read_text(table, texts, keep)
    frame = rows_to_frame(
        rows, steps, literal_nan_rows=nan_rows, transforms=_TRANSFORMS, skip=_STEP_KEYS, table=table
    )
    return ReadResult(
        frame=frame, warnings=lines.all_warnings(*warnings), meta=meta, end_offset=lines.end_offset
    )
