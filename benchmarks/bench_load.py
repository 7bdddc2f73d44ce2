"""Load benchmark: trainlens readers against the obvious baselines, timed in the same run.

    .venv/bin/python benchmarks/bench_load.py [--steps N] [--tags N] [--skip-tbparse]

Writes (once, cached under ./bench-data/) a TensorBoard event file with tensorboardX and an
ms-swift v3 ``logging.jsonl`` of the same size, then times each loader in its own subprocess, so
that the peak RSS reported for one loader is that process's own, not a sum.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRPO_KEYS = [
    "loss",
    "grad_norm",
    "learning_rate",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "kl",
    "rewards/Format/mean",
    "rewards/Format/std",
    "rewards/Accuracy/mean",
    "rewards/Accuracy/std",
    "completions/mean_length",
    "completions/min_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "completions/mean_terminated_length",
    "completions/min_terminated_length",
    "completions/max_terminated_length",
    "clip_ratio/low_mean",
    "clip_ratio/low_min",
    "clip_ratio/high_mean",
    "clip_ratio/high_max",
    "clip_ratio/region_mean",
    "entropy/mean",
    "entropy/min",
    "entropy/max",
    "num_tokens",
]
SWIFT_FIXED = 7  # memory(GiB), train_speed(iter/s), epoch, global_step/max_steps, percentage, ...


def metric_keys(n: int) -> list[str]:
    keys = GRPO_KEYS[:n]
    keys += [f"rewards/Extra{i}/mean" for i in range(n - len(keys))]
    return keys


def fmt_duration(seconds: float) -> str:
    """ms-swift's elapsed/remaining time: ``"1d 2h 3m 4s"`` with leading zero units dropped."""
    s = int(seconds)
    parts, started = [], False
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        value, s = divmod(s, size)
        if value or started:
            parts.append(f"{value}{unit}")
            started = True
    return " ".join(parts + [f"{s}s"])


def write_event_file(out: Path, tags: int, steps: int) -> Path:
    """tensorboardX SummaryWriter.add_scalar, tag after tag, step after step (as HF does)."""
    from tensorboardX import SummaryWriter

    names = [f"train/{k}" for k in metric_keys(tags)]
    rng = random.Random(0)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".tmp-"))
    writer = SummaryWriter(str(tmp), max_queue=10_000, flush_secs=3600)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        for name in names:
            writer.add_scalar(name, rng.gauss(0.0, 1.0), step)
        if step % 10_000 == 0:
            print(
                f"  tensorboardX: {step:,}/{steps:,} steps ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    writer.close()
    tmp.rename(out)
    return next(out.glob("events.out.tfevents.*"))


def write_swift_jsonl(out: Path, keys: int, steps: int) -> Path:
    """ms-swift v3 GRPO train lines: metrics rounded to 8 decimals, then swift's progress keys."""
    names = metric_keys(max(keys - SWIFT_FIXED, 1))
    rng = random.Random(1)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".tmp-"))
    with open(tmp / "logging.jsonl", "w", encoding="utf-8") as f:
        for step in range(1, steps + 1):
            row: dict[str, object] = {k: round(rng.gauss(0.0, 1.0), 8) for k in names}
            elapsed = 12.5 * step
            row.update(
                {
                    "memory(GiB)": 61.37,
                    "train_speed(iter/s)": round(1 / 12.5, 6),
                    "epoch": round(step / steps, 2),
                    "global_step/max_steps": f"{step}/{steps}",
                    "percentage": f"{100 * step / steps:.2f}%",
                    "elapsed_time": fmt_duration(elapsed),
                    "remaining_time": fmt_duration(12.5 * (steps - step)),
                }
            )
            f.write(json.dumps(row) + "\n")
    tmp.rename(out)
    return out / "logging.jsonl"


def prepare(data: Path, tags: int, steps: int) -> tuple[Path, Path]:
    data.mkdir(parents=True, exist_ok=True)
    tb_dir, swift_dir = data / f"tb-{tags}x{steps}", data / f"swift-{tags}x{steps}"
    if not tb_dir.exists():
        print(
            f"writing {tb_dir} with tensorboardX (slow: the writer is the bottleneck) ...",
            file=sys.stderr,
        )
        write_event_file(tb_dir, tags, steps)
    if not swift_dir.exists():
        print(f"writing {swift_dir} ...", file=sys.stderr)
        write_swift_jsonl(swift_dir, tags, steps)
    return next(tb_dir.glob("events.out.tfevents.*")), swift_dir / "logging.jsonl"


# ---- one measurement per subprocess ------------------------------------------------------------


def _loader(name: str) -> Callable[[str], int]:
    """Import a loader (untimed); the callable runs it once and returns how many scalar rows
    (pandas: numeric cells) it produced."""
    if name == "read_event_file":
        from trainlens.readers.tensorboard import read_event_file

        return lambda path: len(read_event_file(Path(path)).frame)
    if name == "tbparse":
        from tbparse import SummaryReader

        return lambda path: len(SummaryReader(path).scalars)
    if name == "read_swift_jsonl":
        from trainlens.readers.swift_jsonl import read_swift_jsonl

        return lambda path: len(read_swift_jsonl(Path(path)).frame)
    if name == "pandas_read_json":
        import pandas as pd

        return lambda path: int(
            pd.read_json(path, lines=True).select_dtypes("number").notna().to_numpy().sum()
        )
    if name == "load_runs":
        from trainlens.load import load_runs

        return lambda path: sum(len(run.table) for run in load_runs(Path(path)).runs)
    raise ValueError(name)


def child(name: str, path: str, repeat: int) -> None:
    """Child-process entry: time ``repeat`` loads, print JSON."""
    import warnings

    warnings.simplefilter("ignore")
    load = _loader(name)
    base = peak_rss_mb()
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = load(path)
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "seconds": min(times),
                "first": times[0],
                "rows": rows,
                "rss_mb": peak_rss_mb(),
                "base_mb": base,
            }
        )
    )


def peak_rss_mb() -> float | None:
    """This process's peak RSS since exec (Linux VmHWM; ru_maxrss would include the pre-exec
    parent copy after fork)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(loader: str, path: Path, repeat: int) -> dict[str, float] | str:
    """Run a child; return its timings and peak RSS, or why it did not run."""
    cmd = [sys.executable, __file__, "--child", loader, str(path), str(repeat)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["failed"])[-1]
        return f"not run: {last}"
    result = json.loads(out.strip().splitlines()[-1])
    if result.get("rss_mb") is None:
        result["rss_mb"] = usage.ru_maxrss / 1024  # an upper bound (Linux: KiB)
    return result


def importable(module: str) -> str | None:
    """None when ``module`` imports in a fresh interpreter, else the reason it does not."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or ["import failed"])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="runs per trainlens loader (best)")
    parser.add_argument("--skip-tbparse", action="store_true", help="tbparse takes minutes")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args()

    events, jsonl = prepare(args.data, args.tags, args.steps)
    scalars = args.tags * args.steps
    print(f"\n{args.tags} tags x {args.steps:,} steps = {scalars:,} scalars")
    print(
        f"  {events.relative_to(ROOT) if events.is_relative_to(ROOT) else events} "
        f"({events.stat().st_size / 2**20:.0f} MiB)"
    )
    print(
        f"  {jsonl.relative_to(ROOT) if jsonl.is_relative_to(ROOT) else jsonl} "
        f"({jsonl.stat().st_size / 2**20:.0f} MiB)\n"
    )

    missing_jsonl = importable("trainlens.readers.swift_jsonl")
    missing_load = importable("trainlens.load")
    plan: list[tuple[str, str, str, Path, int, str | None]] = [
        # (input, name, loader, path, repeat, reason not to run)
        ("tfevents", "trainlens read_event_file", "read_event_file", events, args.repeat, None),
        (
            "tfevents",
            "tbparse SummaryReader.scalars",
            "tbparse",
            events,
            1,
            "skipped (--skip-tbparse)" if args.skip_tbparse else None,
        ),
        (
            "jsonl",
            "trainlens read_swift_jsonl",
            "read_swift_jsonl",
            jsonl,
            args.repeat,
            missing_jsonl and f"not run: trainlens.readers.swift_jsonl: {missing_jsonl}",
        ),
        ("jsonl", "pandas.read_json(lines=True)", "pandas_read_json", jsonl, args.repeat, None),
        (
            "tb run dir",
            "trainlens load_runs",
            "load_runs",
            events.parent,
            args.repeat,
            missing_load and f"not run: trainlens.load: {missing_load}",
        ),
        (
            "swift run dir",
            "trainlens load_runs",
            "load_runs",
            jsonl.parent,
            args.repeat,
            missing_load and f"not run: trainlens.load: {missing_load}",
        ),
    ]
    baselines = {"tfevents": "tbparse", "jsonl": "pandas_read_json"}
    results: dict[tuple[str, str], dict[str, float] | str] = {}
    for source, name, loader, path, repeat, skip in plan:
        print(f"  timing {name} on {source} ...", file=sys.stderr)
        results[(source, loader)] = skip or measure(loader, path, repeat)

    header = (
        f"{'input':<14}{'loader':<31}{'rows':>10}{'first s':>9}{'best s':>8}{'rows/s':>9}"
        f"{'peak RSS':>10}{'imports':>9}{'vs baseline':>13}"
    )
    print(header)
    print("-" * len(header))
    for source, name, loader, _, _, _ in plan:
        res = results[(source, loader)]
        if isinstance(res, str):
            print(f"{source:<14}{name:<31}  {res}")
            continue
        base = results.get((source, baselines.get(source, "")))
        if loader == baselines.get(source):
            versus = "baseline"
        elif isinstance(base, dict):
            versus = f"{base['first'] / res['first']:.1f}x"
        else:
            versus = "-"
        rate = res["rows"] / res["seconds"]
        print(
            f"{source:<14}{name:<31}{res['rows']:>10,}{res['first']:>9.2f}{res['seconds']:>8.2f}"
            f"{rate / 1e6:>7.2f} M{res['rss_mb']:>7.0f} MB{res['base_mb'] or 0:>6.0f} MB"
            f"{versus:>13}"
        )
    print(
        "\nfirst s: the first load in a fresh process (modules imported beforehand, untimed); "
        "best s: best of\n--repeat loads (tbparse: one); rows/s: rows / best s; peak RSS: the "
        "whole child process;\nimports: its RSS after imports, before loading; vs baseline: "
        "first-load speed-up; rows:\nlong-table rows (pandas: numeric cells of its wide "
        "table)."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
