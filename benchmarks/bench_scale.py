"""Scale of a directory: every command over a logdir of many tiny runs.

    .venv/bin/python benchmarks/bench_scale.py                # 500 runs, 10% with a KL spike
    .venv/bin/python benchmarks/bench_scale.py --runs 5000    # the size of the fuzz report
    .venv/bin/python benchmarks/bench_scale.py --runs 50      # a quick smoke run

Writes ``--runs`` ms-swift run folders (``logging.jsonl`` of ``--steps`` lines in swift's format
+ ``args.json``) under ``--data`` (default ``./bench-data/scale-<runs>/``, cached), a share of
them (``--spiky``) with a KL spike so that the report has findings and charts. Then times each
command as a user runs it, in a fresh process (``python -m trainlens ...``):

    metrics PATH, analyze PATH, report PATH --no-charts -o ..., report PATH -o ...

A multi-run report draws charts only for the runs with findings, in parallel processes; the
baseline for the charts is the same report without charts, in the same run.

Targets (500 runs, 10% with findings, the 2-core dev box): ``report`` with charts at most 1.5x
``report --no-charts`` (it was 109 s against about 11 s before: charts for every run, one at a
time), and ``report --no-charts`` at most 2x ``analyze``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def swift_line(step: int, max_steps: int, kl: float) -> str:
    """One ms-swift v3 train line."""
    return json.dumps(
        {
            "loss": round(0.5 + 0.01 * math.cos(step), 8),
            "grad_norm": round(0.4 + 0.05 * math.sin(step / 3), 8),
            "learning_rate": 1e-6,
            "reward": round(0.5 + 0.1 * step / max_steps, 8),
            "kl": round(kl, 8),
            "global_step/max_steps": f"{step}/{max_steps}",
            "percentage": f"{100 * step / max_steps:.2f}%",
            "elapsed_time": f"{5 * step}s",
            "remaining_time": f"{5 * (max_steps - step)}s",
            "train_speed(iter/s)": 0.2,
        }
    )


def write_logdir(folder: Path, runs: int, steps: int, spiky: float) -> Path:
    """``runs`` run folders under ``folder`` (kept when already complete)."""
    done = folder / ".complete"
    if done.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    every = max(1, round(1 / spiky)) if spiky > 0 else 0
    for i in range(runs):
        run = folder / f"team{i % 10}" / f"run{i:05d}"
        run.mkdir(parents=True)
        spike = bool(every) and i % every == 0
        lines = []
        for step in range(1, steps + 1):
            kl = 0.01 + 0.002 * math.sin(step + i)
            if spike and step == steps * 3 // 5:
                kl = 50.0
            lines.append(swift_line(step, steps, kl))
        (run / "logging.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (run / "args.json").write_text(json.dumps({"beta": 0.04, "seed": i}), encoding="utf-8")
    done.touch()
    return folder


def timed(args: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "trainlens", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        print(proc.stderr[-2000:], file=sys.stderr)
    return elapsed, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--spiky", type=float, default=0.1, help="share of runs with a finding")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--skip", nargs="*", default=[], help="commands to leave out")
    ns = parser.parse_args()
    logs = write_logdir(ns.data / f"scale-{ns.runs}x{ns.steps}", ns.runs, ns.steps, ns.spiky)
    out = ns.data / "scale-out"
    shutil.rmtree(out, ignore_errors=True)
    commands = {
        "metrics": ["metrics", str(logs)],
        "analyze": ["analyze", str(logs)],
        "report --no-charts": ["report", str(logs), "--no-charts", "-o", str(out / "nc.md")],
        "report": ["report", str(logs), "-o", str(out / "pm.md")],
    }
    times: dict[str, float] = {}
    print(f"{ns.runs} runs x {ns.steps} steps, {ns.spiky:.0%} with a KL spike: {logs}")
    print(f"{'command':<20} {'seconds':>8} {'exit':>5}")
    for name, args in commands.items():
        if name in ns.skip:
            continue
        seconds, code = timed(args)
        times[name] = seconds
        print(f"{name:<20} {seconds:8.1f} {code:5d}", flush=True)
    charts = list((out / "pm_assets").glob("*.png")) if (out / "pm_assets").is_dir() else []
    print(f"charts drawn: {len(charts)}")
    if "report" in times and "report --no-charts" in times:
        ratio = times["report"] / times["report --no-charts"]
        print(f"report / report --no-charts = {ratio:.2f}x (target <= 1.5x)")
    if "report --no-charts" in times and "analyze" in times:
        ratio = times["report --no-charts"] / times["analyze"]
        print(f"report --no-charts / analyze = {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
