"""The shape of a finding: which way it goes (a rise, a fall, a stuck metric), how pronounced it
is, and which of several occurrences is the worst. Shared by the sections, the key-data tables,
the charts and the monitoring targets, so they all talk about the same occurrence."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trainlens.findings import Finding
from trainlens.run import Run


def direction(run: Run, finding: Finding) -> str:
    """``up``: the anomaly is a rise above its surroundings; ``down``: a fall; ``flat``: the
    metric is stuck (no different from its baseline, or anomalous over the whole run)."""
    peak, base = finding.peak_value, finding.baseline
    if peak is not None and base is not None and math.isfinite(peak) and math.isfinite(base):
        if math.isclose(peak, base, rel_tol=1e-9, abs_tol=1e-12):
            return "flat"
        return "up" if peak > base else "down"
    arrays = run.key_arrays(finding.key) or run.arrays(finding.metric)
    if arrays is None:
        return "flat"
    steps, values = arrays
    inside = (steps >= finding.start_step) & (steps <= finding.end_step)
    within, outside = values[inside], values[~inside]
    within, outside = within[np.isfinite(within)], outside[np.isfinite(outside)]
    if not len(outside) or not len(within):
        return "flat"  # the whole run is the anomaly: nothing to rise or fall from
    level = float(np.median(outside))
    probe = float(peak) if peak is not None and math.isfinite(peak) else float(np.mean(within))
    if math.isclose(probe, level, rel_tol=1e-9, abs_tol=1e-12):
        return "flat"
    return "up" if probe > level else "down"


def stuck(run: Run, finding: Finding) -> bool:
    """Whether the finding is a metric stuck at one value (KL at 0, a gradient norm of 0):
    its peak equals its baseline, or every value logged in its window is the same. Its "peak"
    and "baseline" are then just that value and say nothing; a finding that spans the whole
    run but moves inside it (a correlation, a score) is not stuck."""
    peak, base = finding.peak_value, finding.baseline
    if peak is not None and base is not None and math.isfinite(peak) and math.isfinite(base):
        if math.isclose(peak, base, rel_tol=1e-9, abs_tol=1e-12):
            return True
    arrays = run.key_arrays(finding.key) or run.arrays(finding.metric)
    if arrays is None:
        return False
    steps, values = arrays
    inside = values[(steps >= finding.start_step) & (steps <= finding.end_step)]
    inside = inside[np.isfinite(inside)]
    return len(inside) > 1 and bool(np.ptp(inside) == 0)


def strength(f: Finding) -> float:
    """How pronounced an occurrence is: its peak's distance from the baseline, relative."""
    if f.peak_value is None or f.baseline is None:
        return 0.0
    peak, base = float(f.peak_value), float(f.baseline)
    if not (math.isfinite(peak) and math.isfinite(base)):
        return math.inf if not math.isfinite(peak) else 0.0
    return abs(peak - base) / max(abs(base), 1e-12)


def primary(group: Sequence[Finding]) -> Finding:
    """The most severe, then most pronounced, then earliest occurrence."""
    return min(group, key=lambda f: (-f.severity.rank, -strength(f), f.start_step))
