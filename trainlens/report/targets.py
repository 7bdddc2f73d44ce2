"""Monitoring targets for the next run: per metric with a finding, what this run reached and the
number it should stay within next time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlens.findings import Finding
from trainlens.report.evidence import member_metrics
from trainlens.report.fmt import num
from trainlens.report.overview import metric_stats
from trainlens.report.shape import direction, primary, stuck
from trainlens.report.text import Text
from trainlens.run import Run

SPIKE_FACTOR = 10.0  # a spike target: below 10x the run's median
PERCENT_SCALE = 1.5  # a share whose values exceed this was logged in percent
KL_LIMIT = 5.0  # "KL between 0 and 10" (old TRL docs), with margin
ENTROPY_FLOOR = 0.2  # the generic entropy target (nats per token)


@dataclass(frozen=True)
class Target:
    metric: str
    observed: Text
    target: Text


def _share(run: Run, name: str, low: float, high: float | None = None) -> dict[str, str]:
    """Bounds of a share in the unit the run logs it in (fraction or percent)."""
    stats = metric_stats(run, name)
    percent = stats is not None and stats.max > PERCENT_SCALE
    fmt = (lambda x: f"{num(x * 100)}%") if percent else num
    out = {"low": fmt(low)}
    if high is not None:
        out["high"] = fmt(high)
    return out


def _median(run: Run, name: str) -> float | None:
    arrays = run.arrays(name)
    if arrays is None:
        return None
    values = arrays[1][np.isfinite(arrays[1])]
    return float(np.median(values)) if len(values) else None


def _level_before(run: Run, name: str, finding: Finding) -> float | None:
    """The run's healthy level of a metric: the finding's baseline when it is on that metric,
    else the median before the finding starts (the whole run when nothing comes before)."""
    if finding.metric == name and finding.baseline:
        return abs(float(finding.baseline))
    arrays = run.arrays(name)
    if arrays is None:
        return None
    steps, values = arrays
    ok = np.isfinite(values)
    before = values[ok & (steps < finding.start_step)]
    pool = before if len(before) else values[ok]
    return float(np.median(pool)) if len(pool) else None


def _target_text(run: Run, metric: str, finding: Finding) -> Text:
    way = direction(run, finding) if finding.metric == metric else "up"
    stats = metric_stats(run, metric)
    if metric in ("kl", "grad_norm") and finding.metric == metric and stuck(run, finding):
        return Text("target.moving", {"metric": metric, "value": num(finding.peak_value)})
    if metric in ("kl", "grad_norm") and way in ("flat", "down"):
        return Text("target.no_finding", {"rule": finding.rule})  # dips, not a level to keep
    if metric == "kl":
        peak = stats.max if stats else None
        if peak is not None and peak < KL_LIMIT and finding.baseline:
            return Text("target.kl_relative", {"limit": num(3 * abs(finding.baseline), 2)})
        return Text("target.kl", {"limit": num(KL_LIMIT)})
    if metric == "clipped_ratio":
        return Text("target.clipped_ratio", _share(run, metric, 0.05))
    if metric == "hard_sample_ratio":
        return Text("target.hard_sample_ratio", _share(run, metric, 0.05, 0.15))
    if metric == "d_acc":
        first = stats.first_step if stats else 0
        step = 10 if first < 10 else first + 10
        return Text("target.d_acc", {**_share(run, metric, 0.85), "step": str(step)})
    if metric in ("grad_norm", "loss") and (median := _median(run, metric)):
        return Text(
            "target.spike", {"median": num(median, 3), "limit": num(SPIKE_FACTOR * abs(median), 2)}
        )
    if metric == "response_length_mean":
        level = _level_before(run, metric, finding)
        if way == "down" and level is not None and level > 20:  # a collapse, not degenerate
            return Text("target.length_collapse", {"level": num(level, 2)})
        if way in ("flat", "down"):
            return Text("target.length_floor")
        limit = run.meta.settings.number("max_completion_length")
        if limit:
            return Text("target.length_limit", {"limit": num(0.8 * limit, 3), "max": num(limit)})
        return Text("target.length_growth")
    if metric == "eval_loss" and stats is not None:
        return Text("target.eval_loss", {"best": num(stats.min), "limit": num(1.05 * stats.min, 3)})
    if metric == "student_score" and stats is not None:
        return Text("target.student_score", {"first": num(stats.first)})
    if (metric in ("reward", "eval_score") or metric.startswith("reward/")) and stats is not None:
        return Text(
            "target.keep_best",
            {"best": num(stats.max), "floor": num(stats.max - 0.1 * abs(stats.max), 3)},
        )
    bounds = _bounds(finding)
    if bounds is not None:
        return bounds
    simple = {
        "entropy": "target.entropy",
        "length_reward_corr": "target.length_reward_corr",
        "frac_reward_zero_std": "target.frac_reward_zero_std",
        "score_diff": "target.score_diff",
        "approx_kl": "target.approx_kl",
        "clip_ratio": "target.clip_ratio",
        "throughput": "target.throughput",
    }
    if metric == "entropy":
        level = _level_before(run, metric, finding)
        if level is not None and 0 < level < 2 * ENTROPY_FLOOR:
            # the generic 0.2 nats is above (or about) this run's own healthy level
            return Text(
                "target.entropy_relative", {"level": num(level, 2), "floor": num(level / 2, 2)}
            )
    if metric in simple:
        return Text(simple[metric])
    return Text("target.no_finding", {"rule": finding.rule})


def _bounds(finding: Finding) -> Text | None:
    """A target from the band a bound rule checks (``above`` / ``below`` parameters)."""
    high, low = finding.params.get("above"), finding.params.get("below")
    number = (int, float)
    high = high if isinstance(high, number) and not isinstance(high, bool) else None
    low = low if isinstance(low, number) and not isinstance(low, bool) else None
    params = {"metric": finding.metric}
    if high is not None and low is not None:
        return Text("target.within", {**params, "low": num(low), "high": num(high)})
    if high is not None:
        return Text("target.at_most", {**params, "high": num(high)})
    if low is not None:
        return Text("target.at_least", {**params, "low": num(low)})
    return None


def _observed(run: Run, metric: str, finding: Finding) -> Text:
    if finding.metric == metric and finding.peak_value is not None and stuck(run, finding):
        return Text(
            "target.observed_stuck",
            {
                "value": num(finding.peak_value),
                "start": str(finding.start_step),
                "end": str(finding.end_step),
            },
        )
    if (
        finding.metric == metric
        and finding.peak_value is not None
        and finding.peak_step is not None
    ):
        way = direction(run, finding)
        key = "target.observed_peak"
        if way == "down":
            key = "target.observed_low"  # a worst value that is a low: "fell to"
        elif finding.peak_value < 0:
            key = "target.observed_abs"  # a signed metric: the largest in size
        return Text(key, {"value": num(finding.peak_value), "step": str(finding.peak_step)})
    stats = metric_stats(run, metric)
    if stats is None:
        return Text("target.observed_none")
    return Text(
        "target.observed_range",
        {"min": num(stats.min), "max": num(stats.max), "last": num(stats.last)},
    )


def _owner(metric: str, findings: list[Finding], fallback: Finding) -> Finding:
    """The finding a metric's target is about: the worst of the metric's own findings (the
    occurrence its report section shows), the same choice as the section's. Episodes are
    named after their first member's metric, but their peak is just one occurrence of it, so
    they count only when the metric has no finding of its own."""
    for pool in (
        [f for f in findings if f.metric == metric and not f.members],
        [f for f in findings if f.metric == metric],
    ):
        with_peak = [f for f in pool if f.peak_value is not None]
        if with_peak or pool:
            return primary(with_peak or pool)
    return fallback


def monitoring_targets(run: Run, findings: list[Finding]) -> list[Target]:
    """One target per metric named by a finding (its own metric first, then episode members),
    findings in rank order."""
    seen: set[str] = set()
    out = []
    for finding in findings:
        for metric in member_metrics(finding):
            if metric in seen or run.resolve(metric) is None:
                continue
            seen.add(metric)
            owner = _owner(metric, findings, finding)
            out.append(
                Target(metric, _observed(run, metric, owner), _target_text(run, metric, owner))
            )
    return out
