"""Key-data tables around an anomaly: the informative rows only (window, neighbours, peak), each
value with its change vs the previous logged step, whatever the run's length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlens.findings import Finding
from trainlens.run import Run

MAX_ROWS = 14
CONTEXT = 3  # logged steps shown before and after the anomaly window
EDGE = 2  # rows kept at each edge of a long window, and either side of the peak


@dataclass(frozen=True)
class Cell:
    value: float | None
    change: float | None = None


@dataclass(frozen=True)
class Row:
    """One table row; ``step`` None is an elision row (``…``). ``marks``: peak, start, end, best."""

    step: int | None
    cells: tuple[Cell, ...] = ()
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyTable:
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]


def member_metrics(finding: Finding) -> list[str]:
    """The metrics of an episode's members (``rule@metric``), finding's own metric first."""
    out = [finding.metric]
    for member in finding.members:
        metric = member.split("@", 1)[1] if "@" in member else member
        if metric not in out:
            out.append(metric)
    return out


def _pick(n: int, i0: int, i1: int, peak: int | None, extra: list[int]) -> list[int | None]:
    """Indices to show out of ``n``: the window ``i0..i1`` with context, shortened around its
    edges and the peak when too long; None marks a gap."""
    lo, hi = max(0, i0 - CONTEXT), min(n - 1, i1 + CONTEXT)
    if hi - lo + 1 <= MAX_ROWS:
        keep = set(range(lo, hi + 1))
    else:
        keep = set(range(lo, min(i0 + EDGE, hi) + 1)) | set(range(max(i1 - EDGE, lo), hi + 1))
        if peak is not None:
            keep |= set(range(max(peak - EDGE, 0), min(peak + EDGE, n - 1) + 1))
    keep |= {i for i in extra if 0 <= i < n}
    out: list[int | None] = []
    for i in sorted(keep):
        if out and out[-1] is not None and i > out[-1] + 1:
            out.append(None)
        out.append(i)
    return out


def _marks(step: int, finding: Finding, flat: bool = False) -> tuple[str, ...]:
    """Notes of one row; a stuck (flat) metric has no peak worth pointing at, only a start."""
    marks = []
    if not flat and finding.peak_step is not None and step == finding.peak_step:
        marks.append("peak")
    if finding.best_step is not None and step == finding.best_step:
        marks.append("best")
    if step == finding.start_step and "peak" not in marks:
        marks.append("start")
    return tuple(marks)


def _from_evidence(finding: Finding, logged: np.ndarray | None, flat: bool) -> KeyTable:
    ev = finding.evidence
    steps = np.array([e.step for e in ev])
    i0 = int(np.searchsorted(steps, finding.start_step, side="left"))
    i1 = max(int(np.searchsorted(steps, finding.end_step, side="right")) - 1, i0)
    peak = _index_of(steps, finding.peak_step)
    best = _index_of(steps, finding.best_step)
    if len(ev) <= MAX_ROWS:
        picked: list[int | None] = list(range(len(ev)))
    else:
        picked = _pick(
            len(ev),
            min(i0, len(ev) - 1),
            min(i1, len(ev) - 1),
            peak,
            [b for b in (best,) if b is not None],
        )
    rows: list[Row] = []
    previous: int | None = None
    for i in picked:
        if i is None:
            rows.append(Row(None))
            previous = None
            continue
        step = ev[i].step
        if previous is not None and logged is not None and _skips(logged, previous, step):
            rows.append(Row(None))  # logged steps between two evidence rows: say so
        rows.append(Row(step, (Cell(ev[i].value, ev[i].change),), _marks(step, finding, flat)))
        previous = step
    return KeyTable((finding.metric,), tuple(rows))


def _skips(logged: np.ndarray, a: int, b: int) -> bool:
    """Whether the run logged a step strictly between steps ``a`` and ``b``."""
    return (
        int(np.searchsorted(logged, b, side="left")) - int(np.searchsorted(logged, a, side="right"))
        > 0
    )


def _index_of(steps: np.ndarray, step: int | None) -> int | None:
    if step is None or not len(steps):
        return None
    i = int(np.searchsorted(steps, step))
    return i if i < len(steps) and steps[i] == step else None


def key_table(run: Run, finding: Finding, *, flat: bool = False) -> KeyTable | None:
    """The key-data table of a finding: its evidence rows when the engine gave some (single
    metric), else rows read from the run around the window, one column per metric (episodes).
    ``flat``: the metric is stuck, so no row is marked as its peak."""
    metrics = member_metrics(finding)
    arrays = run.key_arrays(finding.key) or run.arrays(finding.metric)
    if finding.evidence and len(metrics) == 1:
        return _from_evidence(finding, arrays[0] if arrays is not None else None, flat)
    if arrays is None:
        return None
    steps, _ = arrays
    if not len(steps):
        return None
    i0 = int(np.searchsorted(steps, finding.start_step, side="left"))
    i1 = int(np.searchsorted(steps, finding.end_step, side="right")) - 1
    i0, i1 = min(i0, len(steps) - 1), max(min(i1, len(steps) - 1), min(i0, len(steps) - 1))
    extra = [i for i in (_index_of(steps, finding.best_step),) if i is not None]
    picked = _pick(len(steps), i0, i1, _index_of(steps, finding.peak_step), extra)
    lookups = [
        run.key_arrays(finding.key) if j == 0 else run.arrays(m) for j, m in enumerate(metrics)
    ]
    present = [j for j, lk in enumerate(lookups) if lk is not None]
    rows = []
    for i in picked:
        if i is None:
            rows.append(Row(None))
            continue
        step = int(steps[i])
        cells = tuple(_cell(lookups[j], step) for j in present)
        rows.append(Row(step, cells, _marks(step, finding, flat)))
    return KeyTable(tuple(metrics[j] for j in present), tuple(rows))


def _cell(lookup: tuple[np.ndarray, np.ndarray] | None, step: int) -> Cell:
    if lookup is None:
        return Cell(None)
    steps, values = lookup
    i = _index_of(steps, step)
    if i is None:
        return Cell(None)
    value = float(values[i])
    change = value - float(values[i - 1]) if i > 0 else None
    return Cell(value, change)
