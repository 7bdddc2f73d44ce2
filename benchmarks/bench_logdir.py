"""A team's logdir: first vs cached ``analyze``, serial vs parallel reads; and one 4M-scalar run.

    .venv/bin/python benchmarks/bench_logdir.py                 # 1,000 runs x 40 metrics x 2,000
    .venv/bin/python benchmarks/bench_logdir.py --runs 60       # a quick check
    .venv/bin/python benchmarks/bench_logdir.py --skip-big      # the logdir only

Inputs (written once under ``--data``, default ``./bench-data/``, git-ignored):

- ``logdir-<runs>x<metrics>x<steps>/``: runs of mixed formats in equal shares, each with its own
  realistic GRPO series (``bench_analyze.grpo_series``, seeded by the run's number, episodes
  injected so the rules find things): ms-swift ``logging.jsonl`` + ``args.json`` (the tests'
  ``write_swift_run``), HF ``trainer_state.json`` (``write_trainer_state``), and TensorBoard
  event files written by tensorboardX ``add_scalar`` (the writer is slow, about 30k scalars/s:
  a few distinct files are written and copied to the other TensorBoard runs). Files are dated an
  hour back, like a logdir of finished runs (the cache never trusts a file written seconds ago).
- ``tb-40x100000/``: the 4M-scalar event file of ``bench_load.py`` (shared with it).

Each measurement is ``trainlens.analysis.analyze(path, cache=..., jobs=...)`` in a fresh Python
process (imports untimed; the whole process is timed too), in this order:

    logdir  first, serial, no cache        baseline
    logdir  first, parallel, no cache      vs baseline: the process pool (--jobs, default CPUs)
    logdir  first, parallel, filling the cache (empty cache dir)
    logdir  cached, serial / parallel      vs baseline: unchanged runs from the cache
    4M run  first (no cache), filling the cache, cached

Targets (issue 14): a second analyze of an unchanged 4M-scalar run at least 5x faster than the
first, of an unchanged 1,000-run logdir at least 10x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

TB_TEMPLATES = 4


def _series(metrics: int, steps: int, seed: int) -> tuple[list[str], list[list[float]]]:
    from bench_analyze import grpo_series

    data = grpo_series(steps, metrics, seed=seed)
    names = list(data)
    return names, [data[k][1].tolist() for k in names]


def _write_tb(out: Path, metrics: int, steps: int, seed: int) -> None:
    from tensorboardX import SummaryWriter

    names, cols = _series(metrics, steps, seed)
    writer = SummaryWriter(str(out), max_queue=10_000, flush_secs=3600)
    for i in range(steps):
        for name, col in zip(names, cols):
            writer.add_scalar(f"train/{name}", col[i], i + 1)
    writer.close()


def _write_swift(out: Path, metrics: int, steps: int, seed: int) -> None:
    from logwriters import write_swift_run

    names, cols = _series(metrics, steps, seed)
    rows = ((i + 1, {n: c[i] for n, c in zip(names, cols)}) for i in range(steps))
    write_swift_run(out, rows, steps, args={"max_steps": steps, "learning_rate": 1e-6})


def _write_hf(out: Path, metrics: int, steps: int, seed: int) -> None:
    from logwriters import write_trainer_state

    names, cols = _series(metrics, steps, seed)
    history = [
        {"step": i + 1, "epoch": (i + 1) / steps, **{n: c[i] for n, c in zip(names, cols)}}
        for i in range(steps)
    ]
    write_trainer_state(out / "trainer_state.json", history, max_steps=steps)


def prepare_logdir(data: Path, runs: int, metrics: int, steps: int) -> Path:
    root = data / f"logdir-{runs}x{metrics}x{steps}"
    if root.exists():
        return root
    tmp = Path(tempfile.mkdtemp(dir=data, prefix=".tmp-logdir-"))
    templates = tmp / ".templates"
    started = time.perf_counter()
    for k in range(min(TB_TEMPLATES, (runs + 2) // 3)):
        _write_tb(templates / f"t{k}", metrics, steps, seed=10_000 + k)
    for i in range(runs):
        out = tmp / f"run{i:04d}"
        kind = i % 3
        if kind == 0:
            src = templates / f"t{(i // 3) % TB_TEMPLATES}"
            out.mkdir()
            for f in src.iterdir():
                shutil.copyfile(f, out / f.name)
        elif kind == 1:
            _write_swift(out, metrics, steps, seed=i)
        else:
            _write_hf(out, metrics, steps, seed=i)
        if (i + 1) % 100 == 0:
            took = time.perf_counter() - started
            print(f"  wrote {i + 1:,}/{runs:,} runs ({took:.0f} s)", file=sys.stderr)
    shutil.rmtree(templates)
    _age(tmp)
    tmp.rename(root)
    return root


def prepare_big(data: Path) -> Path:
    from bench_load import write_event_file

    out = data / "tb-40x100000"
    if not out.exists():
        print(f"writing {out} with tensorboardX (minutes) ...", file=sys.stderr)
        write_event_file(out, 40, 100_000)
    _age(out)
    return out


def _age(root: Path) -> None:
    then = time.time_ns() - 3600 * 10**9
    for p in root.rglob("*"):
        if p.is_file() and p.stat().st_mtime_ns > then:
            os.utime(p, ns=(then, then))


_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from trainlens.analysis import analyze
path, cache, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
t1 = time.perf_counter()
a = analyze(path, cache=cache if cache != "-" else False, jobs=jobs)
t2 = time.perf_counter()
print(json.dumps({"analyze": t2 - t1, "imports": t1 - t0, "runs": len(a.runs),
                  "findings": len(a.findings)}))
"""


def measure(path: Path, cache: Path | None, jobs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRAINLENS_NO_CACHE", None)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(cache) if cache else "-", str(jobs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - started
    return result


def report(rows: list[tuple[str, dict[str, float], float | None]]) -> None:
    print(f"{'what':42} {'analyze s':>9} {'process s':>9} {'runs':>5} {'findings':>8} {'ratio':>7}")
    print("-" * 86)
    for label, r, base in rows:
        ratio = f"{base / r['analyze']:.1f}x" if base else "baseline"
        print(
            f"{label:42} {r['analyze']:9.2f} {r['process']:9.2f} {int(r['runs']):5d} "
            f"{int(r['findings']):8d} {ratio:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=40)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=0, help="pool size (0: one per CPU)")
    parser.add_argument("--skip-big", action="store_true", help="skip the 4M-scalar run")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args()
    from trainlens.parallel import default_jobs

    jobs = default_jobs(args.jobs or None)
    args.data.mkdir(parents=True, exist_ok=True)
    logdir = prepare_logdir(args.data, args.runs, args.metrics, args.steps)
    big = None if args.skip_big else prepare_big(args.data)
    print(
        f"logdir: {args.runs:,} runs x {args.metrics} metrics x {args.steps:,} steps "
        f"(swift / trainer_state / tensorboard), jobs={jobs}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(dir=args.data, prefix=".cache-") as tmp:
        cache = Path(tmp) / "logdir"
        base = measure(logdir, None, 1)
        rows: list[tuple[str, dict[str, float], float | None]] = [
            ("logdir first, serial, no cache", base, None),
            ("logdir first, parallel, no cache", measure(logdir, None, jobs), base["analyze"]),
            ("logdir first, parallel, filling cache", measure(logdir, cache, jobs), None),
            ("logdir cached, serial", measure(logdir, cache, 1), base["analyze"]),
            ("logdir cached, parallel", measure(logdir, cache, jobs), base["analyze"]),
        ]
        rows[2] = (rows[2][0], rows[2][1], base["analyze"])
        if big is not None:
            big_cache = Path(tmp) / "big"
            first = measure(big, None, jobs)
            rows += [
                ("4M run first, no cache", first, None),
                ("4M run first, filling cache", measure(big, big_cache, jobs), first["analyze"]),
                ("4M run cached", measure(big, big_cache, jobs), first["analyze"]),
            ]
    report(rows)


if __name__ == "__main__":
    main()
