"""Analysis benchmark: all rules over a big run (40 tags x 100,000 steps = 4M scalars).

    .venv/bin/python benchmarks/bench_analyze.py                 # in memory, realistic GRPO run
    .venv/bin/python benchmarks/bench_analyze.py --steps 20000   # smaller
    .venv/bin/python benchmarks/bench_analyze.py --file          # end to end from a written log

In memory: builds a realistic GRPO run (log-normal grad norms, KL rising from 0, noisy rewards,
a cosine schedule, a few injected KL/grad/truncation episodes and a reward crash so the rules
also build findings), then times ``analyze_runs`` with every rule, rule by rule too.

``--file``: times ``trainlens.analysis.analyze(path)`` end to end (discover, read, merge, rules)
on the ms-swift ``logging.jsonl`` and, when cached, the TensorBoard file of
``benchmarks/bench_load.py`` (``./bench-data/``; the jsonl is written if missing). The baseline,
in the same run, is loading alone (``load_runs``): the rules' share is analyse minus load.
Target: end to end under 10 s for 4M scalars on the 2-core box, the rules' share under half.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainlens.analysis import analyze, analyze_runs
from trainlens.engine.memory import run_from_series
from trainlens.engine.spec import load_rules
from trainlens.load import load_runs


def grpo_series(steps: int, tags: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A healthy GRPO run of ``tags`` metrics with a few injected episodes."""
    rng = np.random.default_rng(seed)
    s = np.arange(1, steps + 1)
    t = s / steps
    lr = np.where(
        s < steps * 0.05,
        1e-6 * s / (steps * 0.05),
        0.5e-6 * (1 + np.cos(np.pi * np.clip((s - steps * 0.05) / (steps * 0.95), 0, 1))),
    )
    kl = (0.002 + 0.25 * t) * np.exp(rng.normal(0, 0.15, steps))
    kl[0] = 0.0
    out = {
        "loss": rng.normal(0.004, 0.012, steps),
        "grad_norm": np.exp(rng.normal(np.log(0.4), 0.3, steps)),
        "learning_rate": lr,
        "kl": kl,
        "reward": 1.0 + 0.45 * t + rng.normal(0, 0.08, steps),
        "reward_std": np.abs(0.35 + rng.normal(0, 0.04, steps)),
        "frac_reward_zero_std": np.clip(0.17 + rng.normal(0, 0.03, steps), 0, 1),
        "rewards/Format/mean": np.clip(0.93 + rng.normal(0, 0.02, steps), 0, 1),
        "rewards/Format/std": np.abs(rng.normal(0.1, 0.02, steps)),
        "rewards/Accuracy/mean": np.clip(0.5 + 0.3 * t + rng.normal(0, 0.06, steps), 0, 1),
        "rewards/Accuracy/std": np.abs(rng.normal(0.4, 0.03, steps)),
        "completions/mean_length": 250 + 30 * t + rng.normal(0, 8, steps),
        "completions/min_length": 40 + rng.normal(0, 5, steps),
        "completions/max_length": 900 + rng.normal(0, 40, steps),
        "completions/clipped_ratio": np.clip(0.02 + rng.gamma(2, 0.006, steps), 0, 1),
        "clip_ratio/low_mean": np.zeros(steps),
        "clip_ratio/low_min": np.zeros(steps),
        "clip_ratio/high_mean": np.zeros(steps),
        "clip_ratio/high_max": np.zeros(steps),
        "clip_ratio/region_mean": np.zeros(steps),
        "entropy/mean": 0.6 - 0.06 * t + rng.normal(0, 0.01, steps),
        "entropy/min": 0.1 + rng.normal(0, 0.01, steps),
        "entropy/max": 2.0 + rng.normal(0, 0.05, steps),
        "train_speed(iter/s)": 0.07 * (1 + rng.normal(0, 0.02, steps)),
        "memory(GiB)": 61 + rng.normal(0, 0.2, steps),
        "epoch": 3 * t,
    }
    for i in range(len(out), tags):
        out[f"rewards/Extra{i}/mean"] = rng.normal(0.5, 0.1, steps)
    for at in np.linspace(0.3, 0.9, 5):  # episodes: KL, grad, truncation, a Format crash
        i = int(at * steps)
        out["kl"][i] = 15.0
        out["grad_norm"][i] *= 20
        out["completions/clipped_ratio"][i] = 0.7
        out["rewards/Format/mean"][i : i + 2] = [0.1, 0.4]
    return {k: (s, v) for k, v in list(out.items())[:tags]}


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def in_memory(steps: int, tags: int, repeat: int, per_rule: bool) -> None:
    rules = load_rules()
    t_build, run = timed(lambda: run_from_series(grpo_series(steps, tags), name="bench"))
    print(
        f"run: {len(run.keys)} tags x {steps:,} steps = {len(run.table):,} scalars "
        f"(built in {t_build:.2f} s)"
    )
    t_rules, analysis = timed(lambda: analyze_runs([run], rules=rules), repeat)
    print(
        f"all {len(rules)} rules: {t_rules:.2f} s (best of {repeat}), "
        f"{len(analysis.findings)} findings, {len(analysis.skipped)} skipped, "
        f"{len(analysis.warnings)} warnings"
    )
    if per_rule:
        times = []
        for spec in rules:
            t, _ = timed(partial(analyze_runs, [run], rules=rules, select=[spec.id]))
            times.append((t, spec.id))
        print("slowest rules:")
        for t, rid in sorted(times, reverse=True)[:8]:
            print(f"  {rid:26s} {t:6.3f} s")


def from_file(steps: int, tags: int, data: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_load import write_swift_jsonl

    data.mkdir(parents=True, exist_ok=True)
    swift = data / f"swift-{tags}x{steps}"
    if not swift.exists():
        print(f"writing {swift} ...", file=sys.stderr)
        write_swift_jsonl(swift, tags, steps)
    inputs = [("swift run dir", swift)]
    tb = data / f"tb-{tags}x{steps}"
    if tb.exists():
        inputs.append(("tb run dir", tb))
    print(f"{'input':14s} {'load s':>7s} {'analyze s':>10s} {'rules s':>8s} {'rules share':>12s}")
    for label, path in inputs:
        t_load, loaded = timed(partial(load_runs, path))
        t_all, analysis = timed(partial(analyze, path))
        rules = t_all - t_load
        print(
            f"{label:14s} {t_load:7.2f} {t_all:10.2f} {rules:8.2f} {rules / t_all:11.0%}"
            f"   ({len(loaded.runs[0].table):,} scalars, {len(analysis.findings)} findings)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--tags", type=int, default=40)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-per-rule", action="store_true", help="skip the rule-by-rule timings")
    p.add_argument("--file", action="store_true", help="end to end from a written log")
    p.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = p.parse_args()
    if args.file:
        from_file(args.steps, args.tags, args.data)
    else:
        in_memory(args.steps, args.tags, args.repeat, not args.no_per_rule)


if __name__ == "__main__":
    main()
