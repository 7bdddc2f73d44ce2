"""verl's file logger: ``<project>/<experiment>.jsonl``, lines ``{"step": N, "data": {...}}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.readers._fields import as_step, brief
from trainlens.readers._frame import ReadResult
from trainlens.readers._jsonl import read_json_lines
from trainlens.readers._rows import rows_to_frame

#: Bumped when this reader returns something else for the same bytes (cached reads of the
#: old version are then read again).
VERSION = 1


def looks_like_verl_line(obj: Any) -> bool:
    """True for a verl file-logger record."""
    return isinstance(obj, dict) and isinstance(obj.get("data"), dict) and "step" in obj


def read_verl_jsonl(
    path: Path, offset: int = 0, *, final: bool = True, first_line: int = 1
) -> ReadResult:
    """Read ``step`` and every numeric key of ``data`` from each line."""
    lines = read_json_lines(path, offset, final=final, first_line=first_line)
    warnings: list[ReadWarning] = []
    literal_nan = set(lines.nan_rows)
    rows: list[dict[str, Any]] = []
    steps: list[int] = []
    nan_rows: list[int] = []
    for i, (obj, line_no) in enumerate(zip(lines.objects, lines.line_numbers)):
        if not looks_like_verl_line(obj):
            warnings.append(
                ReadWarning(
                    str(path), f'line {line_no}: not a verl record ({{"step": N, "data": {{...}}}})'
                )
            )
            continue
        step = as_step(obj["step"])
        if step is None:
            warnings.append(
                ReadWarning(
                    str(path), f"line {line_no}: unreadable step {brief(obj['step'])}; skipped"
                )
            )
            continue
        if i in literal_nan:
            nan_rows.append(len(rows))
        rows.append(obj["data"])
        steps.append(step)
    frame = rows_to_frame(rows, np.asarray(steps, np.int64), literal_nan_rows=nan_rows)
    return ReadResult(
        frame=frame, warnings=lines.all_warnings(*warnings), end_offset=lines.end_offset
    )
