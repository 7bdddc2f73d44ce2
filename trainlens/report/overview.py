"""Run overview: first / best / last / min / max of the key canonical metrics, grouped by family
as hand-written analyses group them, and the cross-run comparison rows."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from trainlens.run import Run

#: Family order of the report, and the key metrics shown per family (in this order).
FAMILY_ORDER = ("optimisation", "reward", "critic", "length", "eval", "throughput", "other")
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "optimisation": (
        "loss",
        "grad_norm",
        "learning_rate",
        "kl",
        "approx_kl",
        "entropy",
        "clip_ratio",
        "token_acc",
    ),
    "reward": (
        "reward",
        "reward_std",
        "frac_reward_zero_std",
        "reward_margin",
        "reward_accuracy",
        "reward_chosen",
        "reward_rejected",
    ),
    "critic": (
        "d_acc",
        "score_diff",
        "teacher_score",
        "student_score",
        "hard_sample_ratio",
        "length_reward_corr",
    ),
    "length": (
        "response_length_mean",
        "response_length_max",
        "response_length_min",
        "clipped_ratio",
    ),
    "eval": ("eval_loss", "eval_score"),
    "throughput": ("throughput", "mfu", "memory"),
}
MAX_REWARD_COMPONENTS = 8
MAX_CUSTOM_KEYS = 8
#: Metrics with a direction whose extreme is not a "best" worth showing.
NO_BEST = frozenset({"kl", "entropy", "clipped_ratio", "frac_reward_zero_std", "memory"})
#: Metrics drawn in the overview chart when present (at most six panels).
CHART_METRICS = (
    "loss",
    "reward",
    "kl",
    "grad_norm",
    "d_acc",
    "response_length_mean",
    "eval_loss",
    "eval_score",
    "learning_rate",
    "entropy",
    "score_diff",
    "student_score",
    "hard_sample_ratio",
)
MAX_CHART_PANELS = 6
#: Progress and bookkeeping keys (trainer timers, percentages, eval speed): no training signal,
#: so not listed under "Other metrics".
BOOKKEEPING = re.compile(
    r"(^|[/_])(elapsed_time|remaining_time|percentage|runtime|samples_per_second|"
    r"steps_per_second|total_flos|global_step|train_speed.*)$|_per_second$",
    re.IGNORECASE,
)
#: Loss keys that are policy-gradient surrogates by name (verl, TRL); any loss that goes negative
#: is one too (the rule engine's reasoning): lower is not better, so no "best".
SURROGATE_KEYS = re.compile(r"pg_loss|policy_loss|loss/policy", re.IGNORECASE)


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
    surrogate: bool = False  # a policy-gradient surrogate loss: lower is not better

    @property
    def best(self) -> tuple[int, float] | None:
        """(step, value) of the best point of a score-like metric (one with a direction that is
        not a health signal such as KL, where the minimum is just the first step)."""
        if self.name in NO_BEST or self.surrogate:
            return None
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
    key = run.resolve(name) or name
    surrogate = name == "loss" and (bool(SURROGATE_KEYS.search(key)) or float(v.min()) < 0)
    return MetricStats(
        name=name,
        key=key,
        family=info.family,
        direction=info.direction,
        points=len(steps),
        first_step=int(s[0]),
        first=float(v[0]),
        last_step=int(s[-1]),
        last=float(v[-1]),
        min_step=int(s[lo]),
        min=float(v[lo]),
        max_step=int(s[hi]),
        max=float(v[hi]),
        nonfinite=int((~finite).sum()),
        surrogate=surrogate,
    )


def _family_of(run: Run, name: str) -> str:
    family = run.info(name).family
    return family if family in KEY_METRICS else "other"


def overview(run: Run, extra: tuple[str, ...] = ()) -> list[OverviewGroup]:
    """Key metrics per family (plus ``extra`` ones, e.g. those with findings), families in report
    order, empty families left out."""
    present = set(run.canonical_names)
    wanted: dict[str, list[str]] = {
        f: [m for m in KEY_METRICS.get(f, ()) if m in present] for f in FAMILY_ORDER
    }
    components = sorted(n for n in present if n.startswith("reward/"))
    wanted["reward"] += components[:MAX_REWARD_COMPONENTS]
    for name in extra:
        family = _family_of(run, name)
        if name not in wanted[family]:
            wanted[family].append(name)
    wanted["other"] += [k for k in _custom_keys(run) if k not in wanted["other"]]
    groups = []
    for family in FAMILY_ORDER:
        rows = tuple(s for s in (metric_stats(run, m) for m in wanted[family]) if s is not None)
        if rows:
            groups.append(OverviewGroup(family, rows))
    return groups


def _custom_keys(run: Run) -> list[str]:
    """Raw keys no alias maps, when a run has only a few of them (a custom training loop's own
    names, such as ``critic/loss``); single points (end-of-training summaries), constants and
    step counters left out."""
    keys = []
    for key in run.keys:
        arrays = run.key_arrays(key)
        if run.canonical(key) is not None or arrays is None or len(arrays[0]) < 2:
            continue
        if BOOKKEEPING.search(key):
            continue
        steps, values = arrays
        if np.ptp(values) == 0 or np.array_equal(steps, values):  # constant, or a step counter
            continue
        keys.append(key)
    return keys if len(keys) <= MAX_CUSTOM_KEYS else []


def varies(run: Run, name: str) -> bool:
    """Whether a metric has at least two different finite values (a constant learning rate or
    an all-zero column draws a flat line that says nothing)."""
    arrays = run.arrays(name)
    if arrays is None:
        return False
    values = arrays[1][np.isfinite(arrays[1])]
    return len(values) > 1 and bool(np.ptp(values) > 0)


def chart_metrics(run: Run, findings: tuple[str, ...] = ()) -> list[str]:
    """The panels of the overview chart, at most :data:`MAX_CHART_PANELS`: the metrics with
    findings first (in report order, even when flat: a metric stuck at 0 is the finding), then
    those of :data:`CHART_METRICS` that the run logs and that vary."""
    present = set(run.canonical_names)
    out = list(dict.fromkeys(findings))
    out += [m for m in CHART_METRICS if m in present and m not in out and varies(run, m)]
    return out[:MAX_CHART_PANELS]


#: Extra columns of the comparison table for several runs: (metric, statistic), in order of
#: preference; the statistic is ``best`` (direction-aware), ``max`` or ``last``.
COMPARE_COLUMNS = (
    ("reward", "best"),
    ("kl", "max"),
    ("response_length_mean", "last"),
    ("entropy", "last"),
    ("clipped_ratio", "max"),
    ("grad_norm", "max"),
    ("d_acc", "last"),
    ("eval_loss", "best"),
    ("loss", "last"),
)
MAX_COMPARE_COLUMNS = 4


def compare_columns(runs: list[Run], score: str | None) -> list[tuple[str, str]]:
    """Columns worth showing: metrics present in at least two runs (or in the only runs that
    have any), other than the score the comparison is about, at most
    :data:`MAX_COMPARE_COLUMNS`."""
    out = []
    for metric, stat in COMPARE_COLUMNS:
        count = sum(metric in r.canonical_names for r in runs)
        if metric != score and count >= min(2, len(runs)):
            out.append((metric, stat))
    return out[:MAX_COMPARE_COLUMNS]


def column_value(stats: MetricStats | None, stat: str) -> tuple[float, int] | None:
    """(value, step) of one comparison cell."""
    if stats is None:
        return None
    if stat == "best":
        best = stats.best
        return (best[1], best[0]) if best else None
    if stat == "max":
        return stats.max, stats.max_step
    return stats.last, stats.last_step
