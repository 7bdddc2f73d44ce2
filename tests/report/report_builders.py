"""Runs, rules and findings built by hand for the report tests (independent of the built-in rule
catalogue, so these tests pin the renderer, not the rules)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from logwriters import write_swift_run

from trainlens.analysis import Analysis
from trainlens.engine.spec import RuleSet, validate_rule
from trainlens.findings import Finding, Severity, Skipped
from trainlens.load import load_runs
from trainlens.run import Run

SPIKE = 150

GRPO_ARGS: dict[str, Any] = {
    "rlhf_type": "grpo",
    "model": "/mnt/models/Qwen2.5-7B",
    "learning_rate": 5e-5,
    "warmup_ratio": 0.0,
    "warmup_steps": 0,
    "beta": 0.04,
    "max_completion_length": 512,
    "num_generations": 8,
    "temperature": 1.0,
    "num_train_epochs": 1,
    "save_steps": 100,
    "lr_scheduler_type": "constant",
}


def grpo_rows(
    steps: int = 300, spike: int = SPIKE, clipped: float = 0.02
) -> list[tuple[int, dict[str, float]]]:
    """A GRPO history logged every 5 steps with one KL / grad / truncation / reward event
    (``clipped``: the normal truncation level; 5% and more is chronic truncation)."""
    rows = []
    for step in [1, *range(5, steps + 1, 5)]:
        hit = step == spike
        wobble = 0.01 * math.sin(step)
        rows.append(
            (
                step,
                {
                    "loss": 0.01 + wobble,
                    "grad_norm": 6.12 if hit else 0.4 + wobble,
                    "learning_rate": 5e-5,
                    "kl": 19.6 if hit else (0.0 if step == 1 else 0.05 + wobble),
                    "completions/mean_length": 486.0 if hit else 300.0 + 10 * wobble,
                    "completions/clipped_ratio": 0.875 if hit else clipped,
                    "rewards/Format/mean": 0.1 if hit else 0.93,
                    "reward": 0.5 if hit else 1.4 + wobble,
                    "reward_std": 0.3,
                    "epoch": step / steps,
                },
            )
        )
    return rows


def grpo_run(
    root: Path,
    args: dict[str, Any] | None = None,
    name: str = "run",
    steps: int = 300,
    clipped: float = 0.02,
) -> Run:
    out = write_swift_run(
        root / name,
        grpo_rows(steps, clipped=clipped),
        max_steps=steps,
        args=GRPO_ARGS if args is None else args,
    )
    return load_runs(out).runs[0]


def _rule(
    rid: str, detector: str, metrics: list[str], family: str, severity: str = "error", **texts: Any
) -> dict[str, Any]:
    doc = {
        "id": rid,
        "severity": severity,
        "family": family,
        "metrics": metrics,
        "detector": detector,
        "title": {"en": f"{rid} title", "zh": f"{rid} 标题"},
        "summary": {"en": f"What {rid} checks.", "zh": f"{rid} 检查什么。"},
        "message": {
            "en": "{metric} reached {peak_value} at step {peak_step}",
            "zh": "{metric} 在第 {peak_step} 步达到 {peak_value}",
        },
        "why": {"en": f"Why {rid} matters in English.", "zh": f"{rid} 的中文解释。"},
        "causes": {"en": [f"English cause of {rid}"], "zh": [f"{rid} 的中文原因"]},
        "advice": {"en": [f"English advice for {rid}"], "zh": [f"{rid} 的中文建议"]},
    }
    doc.update(texts)
    return doc


def ruleset() -> RuleSet:
    docs = [
        _rule("t_kl_spike", "spike", ["kl"], "optimisation"),
        _rule("t_grad_spike", "spike", ["grad_norm"], "optimisation", "warning"),
        _rule("t_clipped", "bound", ["clipped_ratio"], "length", "warning"),
        _rule(
            "t_degrade",
            "best_then_worse",
            ["reward"],
            "reward",
            message={
                "en": "{metric} best {best_value} at step {best_step}",
                "zh": "{metric} 在第 {best_step} 步最佳 {best_value}",
            },
        ),
        _rule("t_missing", "spike", ["entropy"], "optimisation", "warning"),
    ]
    return RuleSet([validate_rule(d, Path(f"{d['id']}.yaml")) for d in docs])


def findings(run: Run) -> list[Finding]:
    name = run.name
    return [
        Finding(
            "t_kl_spike",
            Severity.ERROR,
            name,
            "kl",
            "kl",
            SPIKE,
            SPIKE,
            peak_step=SPIKE,
            peak_value=19.6,
            baseline=0.05,
        ),
        Finding(
            "t_grad_spike",
            Severity.WARNING,
            name,
            "grad_norm",
            "grad_norm",
            SPIKE,
            SPIKE,
            peak_step=SPIKE,
            peak_value=6.12,
            baseline=0.4,
        ),
        Finding(
            "t_clipped",
            Severity.WARNING,
            name,
            "clipped_ratio",
            "completions/clipped_ratio",
            SPIKE,
            SPIKE,
            peak_step=SPIKE,
            peak_value=0.875,
            baseline=0.02,
        ),
        Finding(
            "t_degrade",
            Severity.ERROR,
            name,
            "reward",
            "reward",
            200,
            300,
            best_step=100,
            best_value=1.41,
        ),
    ]


def analysis(runs: list[Run], found: list[Finding] | None = None) -> Analysis:
    found = found if found is not None else [f for r in runs for f in findings(r)]
    skipped = [Skipped("t_missing", r.name, "metric entropy not logged") for r in runs]
    return Analysis(runs=runs, findings=found, skipped=skipped, warnings=[], rules=ruleset())
