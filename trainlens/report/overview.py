"""Run overview: first / best / last / min / max of the key canonical metrics, grouped by family
as hand-written analyses group them, and the cross-run comparison rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlens.run import Run

#: Family order of the report, and the key metrics shown per family (in this order).
FAMILY_ORDER = ("optimisation", "reward", "critic", "length", "eval", "throughput", "other")
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "optimisation": ("loss", "grad_norm", "learning_rate", "kl", "approx_kl", "entropy",
                     "clip_ratio", "token_acc"),
    "reward": ("reward", "reward_std", "frac_reward_zero_std", "reward_margin", "reward_accuracy",
               "reward_chosen", "reward_rejected"),
    "critic": ("d_acc", "score_diff", "teacher_score", "student_score", "hard_sample_ratio",
               "length_reward_corr"),
    "length": ("response_length_mean", "response_length_max", "response_length_min",
               "clipped_ratio"),
    "eval": ("eval_loss", "eval_score"),
    "throughput": ("throughput", "mfu", "memory"),
}
MAX_REWARD_COMPONENTS = 8
#: Metrics drawn in the overview chart when present (at most six panels).
CHART_METRICS = ("loss", "reward", "kl", "grad_norm", "d_acc", "response_length_mean",
                 "eval_loss", "eval_score", "learning_rate", "entropy")
MAX_CHART_PANELS = 6


@dataclass(frozen=True)
class MetricStats:
    """Summary numbers of one metric in one run (finite values only)."""

    name: str
    key: str
    family: str
    direction: str | None
    points: int
    first_step: int
    first: float
    last_step: int
    last: float
    min_step: int
    min: float
    max_step: int
    max: float
    nonfinite: int

    @property
    def best(self) -> tuple[int, float] | None:
        """(step, value) of the best point when the metric has a direction."""
        if self.direction == "up":
            return self.max_step, self.max
        if self.direction == "down":
            return self.min_step, self.min
        return None


@dataclass(frozen=True)
class OverviewGroup:
    family: str
    rows: tuple[MetricStats, ...]


def metric_stats(run: Run, name: str) -> MetricStats | None:
    """Stats of a canonical or raw metric; None when absent or without a finite value."""
    arrays = run.arrays(name)
    if arrays is None:
        return None
    steps, values = arrays
    finite = np.isfinite(values)
    if not finite.any():
        return None
    s, v = steps[finite], values[finite]
    lo, hi = int(np.argmin(v)), int(np.argmax(v))
    info = run.info(name)
    return MetricStats(name=name, key=run.resolve(name) or name, family=info.family,
                       direction=info.direction, points=int(len(steps)),
                       first_step=int(s[0]), first=float(v[0]), last_step=int(s[-1]),
                       last=float(v[-1]), min_step=int(s[lo]), min=float(v[lo]),
                       max_step=int(s[hi]), max=float(v[hi]), nonfinite=int((~finite).sum()))


def _family_of(run: Run, name: str) -> str:
    family = run.info(name).family
    return family if family in KEY_METRICS else "other"


def overview(run: Run, extra: tuple[str, ...] = ()) -> list[OverviewGroup]:
    """Key metrics per family (plus ``extra`` ones, e.g. those with findings), families in report
    order, empty families left out."""
    present = set(run.canonical_names)
    wanted: dict[str, list[str]] = {f: [m for m in KEY_METRICS.get(f, ()) if m in present]
                                    for f in FAMILY_ORDER}
    components = sorted(n for n in present if n.startswith("reward/"))
    wanted["reward"] += components[:MAX_REWARD_COMPONENTS]
    for name in extra:
        family = _family_of(run, name)
        if name not in wanted[family]:
            wanted[family].append(name)
    groups = []
    for family in FAMILY_ORDER:
        rows = tuple(s for s in (metric_stats(run, m) for m in wanted[family]) if s is not None)
        if rows:
            groups.append(OverviewGroup(family, rows))
    return groups


def chart_metrics(run: Run) -> list[str]:
    """The metrics of the overview chart: the first few of :data:`CHART_METRICS` present."""
    present = set(run.canonical_names)
    return [m for m in CHART_METRICS if m in present][:MAX_CHART_PANELS]


#: Columns of the comparison table for several runs, in order of preference.
COMPARE_METRICS = ("reward", "eval_score", "eval_loss", "kl", "d_acc", "loss", "grad_norm",
                   "response_length_mean", "clipped_ratio")
MAX_COMPARE_METRICS = 4


def compare_metrics(runs: list[Run]) -> list[str]:
    """Metrics worth a comparison column: preferred ones present in at least two runs (or in the
    only runs that have any), at most :data:`MAX_COMPARE_METRICS`."""
    counts = {m: sum(m in r.canonical_names for r in runs) for m in COMPARE_METRICS}
    shared = [m for m in COMPARE_METRICS if counts[m] >= min(2, len(runs))]
    return shared[:MAX_COMPARE_METRICS]
