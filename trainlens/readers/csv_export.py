"""CSV exports of training curves.

- TensorBoard "Download CSV": ``run-<run>-tag-<tag>.csv`` with the header ``Wall time,Step,Value``
  (the tag's ``/`` became ``_`` in the file name, so the tag is the name's tag part);
- W&B panel export: ``"Step"`` plus ``"<run> - <metric>"`` columns with ``__MIN`` / ``__MAX``
  companions (bucket bounds, dropped), all fields quoted, shorter runs padded with ``""``; one
  run per ``<run>``; ``Step`` is W&B's ``_step``;
- a plain wide CSV: a step column (``step``, ``global_step``, ``iteration``, ``iter``, ``_step``,
  ``epoch``) and one column per metric.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, empty_frame, make_frame

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1

TB_HEADER = ("Wall time", "Step", "Value")
_TB_NAME = re.compile(r"^run-(?P<run>.*)-tag-(?P<tag>.+)\.csv$", re.IGNORECASE)
#: Step columns of a wide CSV, preferred first (matched case-insensitively).
STEP_COLUMNS = ("step", "global_step", "_step", "iteration", "iter", "trainer/global_step", "epoch")
_WANDB_COLUMN = " - "
_WANDB_BOUNDS = ("__MIN", "__MAX")
MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class CsvKind:
    """What a CSV file is: ``tensorboard`` / ``wandb`` / ``wide``, with the W&B run names."""

    kind: str
    runs: tuple[str, ...] = ()
    step_column: str | None = None


def header_of(path: Path) -> list[str] | None:
    """The first row of a CSV file, or None when it cannot be read as one."""
    try:
        with open_regular(path) as fh:
            head = fh.read(MAX_HEADER_BYTES)
    except OSError:
        return None
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        return next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return None


def classify_csv(path: Path) -> tuple[CsvKind | None, str]:
    """The kind of a CSV export, or None with the reason it is not one trainlens reads."""
    header = header_of(path)
    if not header:
        return None, "empty or not a CSV file"
    cells = [h.strip() for h in header]
    if tuple(cells) == TB_HEADER:
        return CsvKind("tensorboard"), ""
    if cells and cells[0] == "Step" and any(_WANDB_COLUMN in c for c in cells[1:]):
        runs: list[str] = []
        for c in cells[1:]:
            run, sep, metric = c.partition(_WANDB_COLUMN)
            if sep and not metric.endswith(_WANDB_BOUNDS) and run not in runs:
                runs.append(run)
        return CsvKind("wandb", tuple(runs)), ""
    lowered = {c.lower(): c for c in cells}
    for name in STEP_COLUMNS:
        if name in lowered and len(cells) >= 2:
            return CsvKind("wide", step_column=lowered[name]), ""
    return None, "a CSV without a step column (step, global_step, iteration, iter, _step, epoch)"


def tensorboard_csv_parts(path: Path) -> tuple[str, str]:
    """``(run, tag)`` of a TensorBoard CSV export file name (``run-<run>-tag-<tag>.csv``)."""
    m = _TB_NAME.match(path.name)
    if not m:
        return "", path.stem
    return m.group("run"), m.group("tag")


def _float(text: str) -> float | None:
    t = text.strip()
    if not t:
        return None
    try:
        return float(t)
    except ValueError:
        return None


def _rows(path: Path, warnings: list[ReadWarning]) -> list[list[str]] | None:
    try:
        with open_regular(path) as fh:
            data = fh.read()
    except OSError as exc:
        warnings.append(ReadWarning(str(path), f"cannot read file: {exc.strerror}"))
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", "replace")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        warnings.append(ReadWarning(str(path), f"not a readable CSV: {exc}"))
        return None


def _step(text: str) -> int | None:
    return as_step(_float(text))


def read_csv_export(path: Path, *, member: str | None = None) -> ReadResult:
    """Read one CSV export (``member``: the W&B run to take from a W&B export)."""
    warnings: list[ReadWarning] = []
    kind, why = classify_csv(path)
    if kind is None:
        return ReadResult(empty_frame(), [ReadWarning(str(path), why)])
    rows = _rows(path, warnings)
    if not rows:
        return ReadResult(empty_frame(), warnings)
    header = [h.strip() for h in rows[0]]
    if kind.kind == "tensorboard":
        columns = {header.index("Value"): tensorboard_csv_parts(path)[1]}
        step_at, wall_at = header.index("Step"), header.index("Wall time")
    elif kind.kind == "wandb":
        columns = {}
        for i, c in enumerate(header[1:], start=1):
            run, sep, metric = c.partition(_WANDB_COLUMN)
            if sep and run == member and not metric.endswith(_WANDB_BOUNDS):
                columns[i] = metric
        step_at, wall_at = 0, None
    else:
        step_at = header.index(kind.step_column or "")
        wall_at = next(
            (i for i, h in enumerate(header) if h.lower() in ("wall_time", "_timestamp")), None
        )
        columns = {i: h for i, h in enumerate(header) if i not in (step_at, wall_at) and h}
    keys: list[str] = []
    steps: list[int] = []
    values: list[float] = []
    walls: list[float] = []
    bad = 0
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        step = _step(row[step_at]) if step_at < len(row) else None
        if step is None:
            bad += 1
            if bad <= 3:
                warnings.append(
                    ReadWarning(str(path), f"line {line_no}: no readable step; skipped")
                )
            continue
        wall = _float(row[wall_at]) if wall_at is not None and wall_at < len(row) else None
        for i, name in columns.items():
            if i >= len(row):
                continue
            x = _float(row[i])
            if x is None:
                continue
            keys.append(name)
            steps.append(step)
            values.append(x)
            walls.append(math.nan if wall is None else wall)
    if bad > 3:
        warnings.append(
            ReadWarning(str(path), f"{bad - 3} more line(s) without a readable step skipped")
        )
    frame = make_frame(
        keys, np.asarray(steps, np.int64), np.asarray(values, np.float64), np.asarray(walls)
    )
    meta: dict[str, Any] = {}
    if kind.kind == "wandb":
        meta["step_basis"] = {"method": "wandb_step"}
    return ReadResult(frame=frame, warnings=warnings, meta=meta)
