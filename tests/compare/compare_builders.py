"""Fixture runs for the compare tests, written in the real on-disk formats.

The seed scenario (``SEED``): three GRPO runs evaluated every 5 steps for 200 steps: a 4B whose
validation score peaks at 2.21 @ 75 and then eases off without degrading; an 8B that peaks at
2.34 @ 115 and collapses from step 135 (response length 2960 → 315, entropy 0.182 → 0.115); an 8B
with rollout n=8 that peaks at 2.20 @ 45 and degrades from step 100. Checkpoints every 20 steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Anchors = list[tuple[float, float]]


@dataclass
class RunSpec:
    """One synthetic run: anchors (step, value) interpolated linearly, dense metrics every step."""

    name: str
    score: Anchors  # the validation score, logged every ``eval_every`` steps
    dense: dict[str, Anchors] = field(default_factory=dict)  # canonical-ish name -> anchors
    config: dict | None = None
    steps: int = 200
    eval_every: int = 5
    checkpoint_every: int | None = 20
    noise: float = 0.0  # relative noise on dense metrics
    seed: int = 0


def curve(anchors: Anchors, steps: np.ndarray) -> np.ndarray:
    xs, ys = zip(*anchors)
    return np.interp(steps, xs, ys)


SEED = [
    RunSpec(
        "qwen3_4b",
        score=[(0, 1.20), (40, 1.90), (75, 2.21), (120, 2.05), (200, 1.95)],
        dense={
            "entropy": [(0, 0.30), (200, 0.22)],
            "response_length": [(0, 800), (200, 1400)],
            "grad_norm": [(0, 0.30), (200, 0.28)],
            "kl": [(0, 0.0), (200, 0.010)],
            "throughput": [(0, 2400), (200, 2400)],
            "mfu": [(0, 0.40), (200, 0.40)],
            "reward": [(0, 0.5), (75, 0.8), (200, 0.78)],
        },
        config={
            "model": "Qwen/Qwen3-4B",
            "num_generations": 4,
            "learning_rate": 1e-6,
            "beta": 0.04,
            "num_train_epochs": 1,
            "per_device_train_batch_size": 8,
            "seed": 42,
            "output_dir": "/abs/out/qwen3_4b/v0-20250101-000000",
            "logging_dir": "/abs/out/qwen3_4b/v0-20250101-000000/runs",
        },
        seed=1,
    ),
    RunSpec(
        "qwen3_8b",
        score=[
            (0, 1.25),
            (60, 2.05),
            (115, 2.34),
            (130, 2.25),
            (135, 1.70),
            (150, 1.10),
            (200, 0.60),
        ],
        dense={
            "entropy": [(0, 0.182), (115, 0.17), (135, 0.15), (200, 0.115)],
            "response_length": [(0, 900), (115, 2960), (135, 2900), (150, 800), (200, 315)],
            "grad_norm": [(0, 0.30), (130, 0.35), (140, 1.5), (200, 0.9)],
            "kl": [(0, 0.0), (130, 0.02), (200, 0.15)],
            "throughput": [(0, 1500), (200, 1500)],
            "mfu": [(0, 0.35), (200, 0.35)],
            "reward": [(0, 0.5), (115, 0.9), (135, 0.7), (200, 0.3)],
        },
        config={
            "model": "Qwen/Qwen3-8B",
            "num_generations": 4,
            "learning_rate": 1e-6,
            "beta": 0.04,
            "num_train_epochs": 1,
            "per_device_train_batch_size": 8,
            "seed": 42,
            "output_dir": "/abs/out/qwen3_8b/v0-20250102-000000",
            "logging_dir": "/abs/out/qwen3_8b/v0-20250102-000000/runs",
        },
        seed=2,
    ),
    RunSpec(
        "qwen3_8b_n8",
        score=[(0, 1.30), (45, 2.20), (90, 1.90), (100, 1.70), (200, 1.40)],
        dense={
            "entropy": [(0, 0.20), (200, 0.16)],
            "response_length": [(0, 900), (200, 1500)],
            "grad_norm": [(0, 0.30), (200, 0.32)],
            "kl": [(0, 0.0), (200, 0.02)],
            "throughput": [(0, 1300), (200, 1300)],
            "mfu": [(0, 0.33), (200, 0.33)],
            "reward": [(0, 0.5), (45, 0.85), (200, 0.6)],
        },
        config={
            "model": "Qwen/Qwen3-8B",
            "num_generations": 8,
            "learning_rate": 1e-6,
            "beta": 0.04,
            "num_train_epochs": 1,
            "per_device_train_batch_size": 16,
            "seed": 42,
            "output_dir": "/abs/out/qwen3_8b_n8/v0-20250103-000000",
            "logging_dir": "/abs/out/qwen3_8b_n8/v0-20250103-000000/runs",
        },
        seed=3,
    ),
]

#: ms-swift key, verl key for each dense metric of a RunSpec.
KEYS = {
    "entropy": ("entropy/mean", "actor/entropy"),
    "response_length": ("completions/mean_length", "response_length/mean"),
    "grad_norm": ("grad_norm", "actor/grad_norm"),
    "kl": ("kl", "actor/kl_loss"),
    "throughput": ("train_speed(iter/s)", "perf/throughput"),
    "mfu": (None, "perf/mfu/actor"),
    "reward": ("reward", "critic/score/mean"),
}
VERL_SCORE = "val-core/math/reward/mean@1"


def _dense(spec: RunSpec, steps: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(spec.seed)
    out = {}
    for name, anchors in spec.dense.items():
        values = curve(anchors, steps)
        if spec.noise:
            values = values * (1 + spec.noise * rng.standard_normal(len(steps)))
        out[name] = values
    return out


def _eval_steps(spec: RunSpec) -> np.ndarray:
    return np.arange(0, spec.steps + 1, spec.eval_every) if spec.eval_every else np.empty(0, int)


def write_swift(
    spec: RunSpec,
    root: Path,
    *,
    eval_key: str = "eval_reward",
    checkpoint_steps: list[int] | None = None,
) -> Path:
    """An ms-swift output dir: logging.jsonl (train lines every step, eval lines every
    ``eval_every``), args.json, checkpoint-N folders."""
    root.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, spec.steps + 1)
    dense = _dense(spec, steps)
    evals = {
        int(s): float(v) for s, v in zip(_eval_steps(spec), curve(spec.score, _eval_steps(spec)))
    }
    lines = []
    if 0 in evals:
        lines.append(
            {
                eval_key: evals[0],
                "eval_loss": 0.1,
                "eval_runtime": 10.0,
                "epoch": 0.0,
                "global_step/max_steps": f"0/{spec.steps}",
            }
        )
    for i, s in enumerate(steps):
        rec: dict = {"loss": 0.01, "learning_rate": 1e-6}
        for name, values in dense.items():
            key = KEYS[name][0]
            if key is not None:
                rec[key] = round(float(values[i]), 8)
        rec.update(
            {
                "epoch": round(s / spec.steps, 4),
                "global_step/max_steps": f"{s}/{spec.steps}",
                "percentage": f"{100 * s / spec.steps:.2f}%",
                "elapsed_time": f"{s}m 0s",
                "remaining_time": "1m 0s",
                "memory(GiB)": 60.5,
            }
        )
        lines.append(rec)
        if int(s) in evals:
            lines.append(
                {
                    eval_key: round(evals[int(s)], 8),
                    "eval_loss": 0.1,
                    "eval_runtime": 10.0,
                    "epoch": round(s / spec.steps, 4),
                    "global_step/max_steps": f"{s}/{spec.steps}",
                }
            )
    with open(root / "logging.jsonl", "w", encoding="utf-8") as fh:
        for rec in lines:
            fh.write(json.dumps(rec) + "\n")
    if spec.config is not None:
        (root / "args.json").write_text(json.dumps(spec.config, indent=2), encoding="utf-8")
    if checkpoint_steps is not None:
        for s in checkpoint_steps:
            (root / f"checkpoint-{s}").mkdir(parents=True, exist_ok=True)
    elif spec.checkpoint_every:
        for s in range(spec.checkpoint_every, spec.steps + 1, spec.checkpoint_every):
            (root / f"checkpoint-{s}").mkdir(parents=True, exist_ok=True)
    return root


def write_verl_jsonl(spec: RunSpec, path: Path) -> Path:
    """verl's file logger ``<project>/<experiment>.jsonl`` (no config, no checkpoints)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, spec.steps + 1)
    dense = _dense(spec, steps)
    evals = dict(zip(_eval_steps(spec).tolist(), curve(spec.score, _eval_steps(spec)).tolist()))
    with open(path, "w", encoding="utf-8") as fh:
        if 0 in evals:
            fh.write(json.dumps({"step": 0, "data": {VERL_SCORE: evals[0]}}) + "\n")
        for i, s in enumerate(steps.tolist()):
            data = {KEYS[n][1]: float(v[i]) for n, v in dense.items()}
            if s in evals:
                data[VERL_SCORE] = evals[s]
            fh.write(json.dumps({"step": s, "data": data}) + "\n")
    return path


def write_tensorboard(spec: RunSpec, root: Path) -> Path:
    """A verl-style TensorBoard run written by tensorboardX, with global_step_N folders."""
    from tensorboardX import SummaryWriter
    from tensorboardX.proto.summary_pb2 import Summary

    root.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, spec.steps + 1)
    dense = _dense(spec, steps)
    evals = dict(zip(_eval_steps(spec).tolist(), curve(spec.score, _eval_steps(spec)).tolist()))
    writer = SummaryWriter(str(root))

    def raw_scalar(tag: str, value: float, step: int) -> None:
        # torch's SummaryWriter (what verl uses) keeps "@" in tags; tensorboardX's add_scalar
        # would rewrite "mean@1" to "mean_1", so the summary is written as torch writes it
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        writer._get_file_writer().add_summary(summary, step)

    try:
        if 0 in evals:
            raw_scalar(VERL_SCORE, evals[0], 0)
        for i, s in enumerate(steps.tolist()):
            for n, v in dense.items():
                writer.add_scalar(KEYS[n][1], float(v[i]), s)
            if s in evals:
                raw_scalar(VERL_SCORE, evals[s], s)
    finally:
        writer.close()
    if spec.checkpoint_every:
        for s in range(spec.checkpoint_every, spec.steps + 1, spec.checkpoint_every):
            (root / f"global_step_{s}").mkdir(parents=True, exist_ok=True)
    return root


def seed_swift(base: Path, specs: list[RunSpec] | None = None) -> Path:
    """The seed scenario as a logdir of three ms-swift runs."""
    for spec in specs or SEED:
        write_swift(spec, base / spec.name)
    return base
