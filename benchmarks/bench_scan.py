"""Fleet scan: the same logdir scanned in one process, by the local process pool and by a
2-worker Dask ``LocalCluster`` (worker processes), with identical rows checked.

    .venv/bin/python benchmarks/bench_scan.py               # 200 runs x 200 steps, 10% with a spike
    .venv/bin/python benchmarks/bench_scan.py --runs 1000   # a bigger fleet
    .venv/bin/python benchmarks/bench_scan.py --runs 20     # a quick smoke run

The logdir is ``bench_scale.py``'s (ms-swift run folders, ``logging.jsonl`` + ``args.json``,
cached under ``--data``, default ``./bench-data/scale-<runs>x<steps>/``). Each executor scans it
after a warm-up scan of one run in the same process, so imports are not timed; the Dask
cluster's start-up is timed apart (a fleet scan talks to a running cluster). Needs the
``fleet`` extra. Ratios: local pool / one process, Dask / local pool (both with 2 workers on the
2-core box: the price of the scheduler round trips and of shipping rows back), once with the
cluster's defaults and once with the workers' statistical profiler off
(``distributed.worker.profile.enabled``), which samples every task's stack every 10 ms.
``work s``: the per-run work summed over runs where it ran; the rest of ``seconds`` (times the
workers) is discovery, scheduling, shipping rows and writing the Parquet files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_scale import write_logdir

from trainlens.fleet import ScanResult, scan


def timed_scan(logs: Path, **kwargs: object) -> tuple[float, ScanResult]:
    started = time.perf_counter()
    result = scan(logs, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--spiky", type=float, default=0.1, help="share of runs with a finding")
    parser.add_argument("--jobs", type=int, default=2, help="local pool processes = Dask workers")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    ns = parser.parse_args()

    import dask
    from distributed import LocalCluster

    logs = write_logdir(ns.data / f"scale-{ns.runs}x{ns.steps}", ns.runs, ns.steps, ns.spiky)
    one = next(p.parent for p in sorted(logs.rglob("logging.jsonl")))
    scan(one, jobs=1)  # imports and rule loading, untimed
    print(f"{ns.runs} runs x {ns.steps} steps, {ns.spiky:.0%} with a KL spike: {logs}")
    times: dict[str, float] = {}
    results: dict[str, ScanResult] = {}
    startups: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "findings.parquet"
        times["one process"], results["one process"] = timed_scan(logs, jobs=1, out=out)
        label = f"local pool ({ns.jobs})"
        times[label], results[label] = timed_scan(logs, jobs=ns.jobs, out=out)
        for profile in (True, False):
            dask_label = f"dask ({ns.jobs} workers)" + ("" if profile else ", no profiler")
            with dask.config.set({"distributed.worker.profile.enabled": profile}):
                started = time.perf_counter()
                with LocalCluster(
                    n_workers=ns.jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                ) as cluster:
                    startups[dask_label] = time.perf_counter() - started
                    address = "dask://" + str(cluster.scheduler_address).removeprefix("tcp://")
                    scan(one.parent, executor=address)  # imports in the workers, untimed
                    times[dask_label], results[dask_label] = timed_scan(
                        logs, executor=address, out=out
                    )
    base = results["one process"]
    print(
        f"{'executor':<34} {'seconds':>8} {'work s':>8} {'runs/s':>8} {'findings':>9} "
        f"{'same rows':>10}"
    )
    for name, seconds in times.items():
        r = results[name]
        same = r.runs == base.runs and r.findings == base.findings
        rate = len(r.runs) / seconds
        print(
            f"{name:<34} {seconds:8.2f} {r.work_seconds:8.2f} {rate:8.1f} {len(r.findings):9d} "
            f"{str(same):>10}"
        )
    print(f"dask cluster start-up (not in the times above): {max(startups.values()):.1f} s")
    print(f"local pool / one process = {times[label] / times['one process']:.2f}x")
    for name in startups:
        print(f"{name} / local pool = {times[name] / times[label]:.2f}x")


if __name__ == "__main__":
    main()
