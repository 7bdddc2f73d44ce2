"""Live monitor benchmark: amortised cost of one ``on_log`` (``Monitor.log``) at 40 metrics.

    .venv/bin/python benchmarks/bench_live.py                 # 100,000 logged steps
    .venv/bin/python benchmarks/bench_live.py --steps 20000   # quicker

Feeds a realistic GRPO run (the series of ``bench_analyze.py``: KL, grad norm, clipping,
rewards ..., a few injected episodes) one logged dict at a time, as a trainer's ``on_log``
would, with two metric policies that never fail (so every point is checked to the end). Only
the ``log`` calls are timed. Baseline in the same run: the same monitor without the rules
(policies only). Target: <= 1 ms per log amortised with the rules on (their full re-analysis
runs at most every ``rules_every`` logs, and less often when it is slow: the gap keeps its
amortised cost under ``rules_budget_ms``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_analyze import grpo_series

from trainlens.live import Monitor

POLICIES = ["kl>1000 for 3", "max(grad_norm)>1e6"]


def run(steps: int, tags: int, rules: bool) -> tuple[float, float, Monitor]:
    """(seconds spent in log() in all, the longest single call, the monitor)."""
    series = grpo_series(steps, tags)
    keys = list(series)
    columns = [series[k][1].tolist() for k in keys]
    mon = Monitor(fail_on=POLICIES, rules=rules, config=ROOT / "pyproject.toml")
    total = worst = 0.0
    clock = time.perf_counter
    for i in range(steps):
        logs = {k: col[i] for k, col in zip(keys, columns)}
        t0 = clock()
        mon.log(i + 1, logs)
        spent = clock() - t0
        total += spent
        worst = max(worst, spent)
    return total, worst, mon


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--tags", type=int, default=40)
    args = p.parse_args()
    print(f"{args.tags} metrics x {args.steps:,} logged steps")
    base, base_worst, _ = run(args.steps, args.tags, rules=False)
    total, worst, mon = run(args.steps, args.tags, rules=True)
    per_base = base / args.steps * 1e3
    per_log = total / args.steps * 1e3
    print(f"policies only (baseline): {per_base:.3f} ms per log, longest {base_worst * 1e3:.1f} ms")
    print(
        f"policies + rules:         {per_log:.3f} ms per log amortised "
        f"({per_log / per_base:.1f}x baseline), longest {worst:.2f} s; "
        f"{mon.checks} full analyses, {mon.seconds['rules']:.1f} s in them; "
        f"{len(mon.findings)} findings"
    )
    print(f"target <= 1 ms per log: {'met' if per_log <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
