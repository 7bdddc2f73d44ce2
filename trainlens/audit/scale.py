"""Runs compared by what they wrote: strict and diagnostic accuracy, unclosed and unparseable
rates side by side, ordered by training-set size, and ``scale_regression`` when accuracy falls
as the training set grows, with the verdict: format failure (the diagnostic accuracy holds
while the strict one falls, answers stop closing) or lost capability (both fall)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlens.engine.spec import RuleSpec
from trainlens.findings import Finding

#: File names of evaluation predictions in a run directory (newest-first tools' defaults).
PREDICTION_NAMES = (
    "predictions.jsonl",
    "generated_predictions.jsonl",
    "eval_predictions.jsonl",
    "infer_result.jsonl",
    "infer_results.jsonl",
    "results.jsonl",
)
_PREDICTION_GLOBS = ("*predictions*.jsonl", "infer_result*/*.jsonl", "*infer_result*.jsonl")
#: ms-swift's ``--dataset name#N`` samples N rows of a dataset.
_SAMPLED = re.compile(r"#(\d+)\s*$")
_SIZE_KEYS = ("train_dataset_sample", "dataset_sample", "max_samples", "max_train_samples")


@dataclass(frozen=True)
class OutputRow:
    """One run's audit numbers and its training-set size (and where the size came from)."""

    run: str
    file: str
    size: int | None
    size_from: str
    n: int
    strict: float | None
    diagnostic: float | None
    unclosed: float | None
    unparseable: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_predictions(folder: Path) -> Path | None:
    """A run directory's prediction file, found by name (None when it holds none)."""
    if not folder.is_dir():
        return None
    for name in PREDICTION_NAMES:
        if (folder / name).is_file():
            return folder / name
    for pattern in _PREDICTION_GLOBS:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def training_size(config: Mapping[str, Any]) -> tuple[int | None, str]:
    """The number of training samples a run's config states: a sample count, the ``#N`` of
    ms-swift datasets, or ``max_steps`` × batch × accumulation (an upper bound), with the key
    it came from; (None, "") when the config does not say."""
    for key in _SIZE_KEYS:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value, key
    datasets = config.get("dataset")
    if isinstance(datasets, str):
        datasets = [d.strip() for d in datasets.split(",")]
    if isinstance(datasets, list):
        sizes = [_SAMPLED.search(str(d)) for d in datasets]
        if sizes and all(sizes):
            return sum(int(m.group(1)) for m in sizes if m), "dataset #N"
    steps = config.get("max_steps")
    batch = config.get("per_device_train_batch_size") or config.get("batch_size")
    if isinstance(steps, int) and steps > 0 and isinstance(batch, int) and batch > 0:
        accum = config.get("gradient_accumulation_steps")
        accum = accum if isinstance(accum, int) and accum > 0 else 1
        return steps * batch * accum, "max_steps × batch"
    return None, ""


def scale_findings(rows: Sequence[OutputRow], spec: RuleSpec | None) -> list[Finding]:
    """``scale_regression`` when, over the runs ordered by size, the strict accuracy of the
    largest is at least ``min_drop_points`` below the best of the smaller ones."""
    if spec is None:
        return []
    sized = sorted(
        (r for r in rows if r.size is not None and r.strict is not None), key=lambda r: r.size or 0
    )
    if len(sized) < 2:
        return []
    min_drop = float(spec.params.get("min_drop_points", 10.0))
    hold = float(spec.params.get("hold_points", 10.0))
    last = sized[-1]
    best = max(sized[:-1], key=lambda r: r.strict or 0.0)
    strict_drop = 100 * ((best.strict or 0.0) - (last.strict or 0.0))
    if strict_drop < min_drop:
        return []
    diag_drop = (
        100 * (best.diagnostic - last.diagnostic)
        if best.diagnostic is not None and last.diagnostic is not None
        else None
    )
    unclosed_rise = (
        100 * (last.unclosed - best.unclosed)
        if best.unclosed is not None and last.unclosed is not None
        else None
    )
    format_failure = diag_drop is not None and diag_drop < min(hold, strict_drop / 2)
    lost = diag_drop is not None and not format_failure

    def pct(x: float | None) -> float | None:
        return None if x is None else round(100 * x, 2)

    params: dict[str, Any] = {name: "" for name in spec.outputs}
    params.update(
        runs=len(sized),
        best_run=best.run,
        best_size=best.size,
        last_run=last.run,
        last_size=last.size,
        strict_best_pct=pct(best.strict),
        strict_last_pct=pct(last.strict),
        diagnostic_best_pct=pct(best.diagnostic),
        diagnostic_last_pct=pct(last.diagnostic),
        unclosed_best_pct=pct(best.unclosed),
        unclosed_last_pct=pct(last.unclosed),
        strict_drop_points=round(strict_drop, 2),
        diagnostic_drop_points=None if diag_drop is None else round(diag_drop, 2),
        unclosed_rise_points=None if unclosed_rise is None else round(unclosed_rise, 2),
        format_failure=format_failure,
        lost_capability=lost,
        verdict="format_failure" if format_failure else "lost_capability" if lost else "unknown",
        table=[r.to_dict() for r in sized],
    )
    return [
        Finding(
            rule=spec.id,
            severity=spec.severity,
            run=last.run,
            metric="strict_accuracy",
            key="strict_accuracy",
            start_step=0,
            end_step=0,
            peak_value=last.strict,
            baseline=best.strict,
            params=params,
        )
    ]


@dataclass(frozen=True)
class PredictionSet:
    """A run's prediction file and what states its size: a label, else its config."""

    run: str
    file: Path
    config: Mapping[str, Any]
    label: int | None = None


def output_rows(sets: Sequence[PredictionSet], options: Any = None) -> list[OutputRow]:
    """Audit every run's predictions; rows ordered by size (unknown sizes last, in order)."""
    from trainlens.audit.completions import audit_completions

    rows = []
    for item in sets:
        s = audit_completions([item.file], options).summary()
        size: int | None = item.label
        source = "--label"
        if size is None:
            size, source = training_size(item.config)
        rows.append(
            OutputRow(
                run=item.run,
                file=str(item.file),
                size=size,
                size_from=source,
                n=s["n"],
                strict=s["strict_accuracy"],
                diagnostic=s["diagnostic_accuracy"],
                unclosed=s["unclosed_rate"],
                unparseable=s["unparseable_rate"],
            )
        )
    order = {id(r): i for i, r in enumerate(rows)}
    return sorted(rows, key=lambda r: (r.size is None, r.size or 0, order[id(r)]))
