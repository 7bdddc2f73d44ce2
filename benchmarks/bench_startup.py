"""Start-up benchmark: whole-process wall time of short CLI calls against a bare interpreter.

    .venv/bin/python benchmarks/bench_startup.py [--repeat N]

Each command runs ``--repeat`` times (default 5) as a fresh process, the commands interleaved
round by round so that a change in the load of the box hits them all alike; the median and the
best wall time of each are printed, with the time over ``python -c pass`` measured in the same
run, and the median CPU time (user + system: less sensitive than wall time to other jobs on the
box). Modules load from their ``.pyc`` files, as in an installed copy (``PYTHONDONTWRITEBYTECODE``
is dropped for the runs). The gate input is a 100-step ms-swift ``logging.jsonl`` (written
once under ``bench-data/``, as ``bench_load.py`` writes its big one).

Targets (issue 14): ``trainlens --version`` at most 0.15 s over the bare interpreter;
``trainlens gate RUN --fail-on "kl>10"`` on a 100-step run at most 0.6 s in all, both with the
run in the result cache (its files are old enough after the first call) and reading the log
(``--no-cache``, as in a CI job that starts with an empty cache).

Besides the bare interpreter, a second reference row imports only the libraries a metric gate
cannot do without (numpy; typer with the pydantic layer its options are coerced through; rich):
what the gate costs beyond that row is trainlens' own.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_load import write_swift_jsonl  # noqa: E402

#: (label, arguments after ``trainlens``, target in seconds, what the target measures)
CASES: list[tuple[str, list[str], float | None, str]] = [
    ("trainlens --version", ["--version"], 0.15, "over bare"),
    ("trainlens --help", ["--help"], None, ""),
    ("trainlens gate --help", ["gate", "--help"], None, ""),
    ("trainlens gate RUN --fail-on kl>10", ["gate", "{run}", "--fail-on", "kl>10"], 0.6, "total"),
    (  # a CI job starts with an empty cache: the log is read
        "  ... --no-cache (reads the log)",
        ["gate", "{run}", "--fail-on", "kl>10", "--no-cache"],
        0.6,
        "total",
    ),
    ("trainlens metrics RUN", ["metrics", "{run}"], None, ""),
]


#: The reference row: the third-party imports a metric-only gate needs.
FLOOR = "import numpy,typer(+pydantic),rich"


def trainlens_command() -> list[str]:
    """The console script beside this interpreter (what users run), else the same entry point
    through ``-c``."""
    script = Path(sys.executable).parent / "trainlens"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from trainlens.cli import main; main()"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args()
    run = args.data / "swift-40x100"
    if not run.exists():
        args.data.mkdir(parents=True, exist_ok=True)
        write_swift_jsonl(run, 40, 100)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("GITHUB_ACTIONS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from their .pyc
    tl = trainlens_command()
    commands = {
        "python -c pass (bare)": [sys.executable, "-c", "pass"],
        FLOOR: [sys.executable, "-c", "import numpy, typer, typer._adapters, rich.console"],
    }
    for label, rest, _, _ in CASES:
        commands[label] = tl + [a.format(run=run) for a in rest]
    for argv in commands.values():  # warm the file cache and the .pyc files
        timed(argv, env)
    load_before = os.getloadavg()
    times: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.repeat):
        for label, argv in commands.items():
            wall, used = timed(argv, env)
            times[label].append(wall)
            cpu[label].append(used)
    load_after = os.getloadavg()

    bare = statistics.median(times["python -c pass (bare)"])
    print(
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; {args.repeat} runs each, interleaved\n"
    )
    header = (
        f"{'command':38} {'median s':>9} {'best s':>7} {'over bare':>10} {'x bare':>7} "
        f"{'CPU s':>6}  target"
    )
    print(header)
    print("-" * (len(header) + 12))
    targets = {label: (target, kind) for label, _, target, kind in CASES}
    for label, values in times.items():
        med = statistics.median(values)
        target, kind = targets.get(label, (None, ""))
        verdict = ""
        if target is not None:
            measured = med - bare if kind == "over bare" else med
            verdict = f"<= {target:.2f} s {kind}: {'met' if measured <= target else 'NOT met'}"
        print(
            f"{label:38} {med:9.3f} {min(values):7.3f} {med - bare:10.3f} {med / bare:7.1f} "
            f"{statistics.median(cpu[label]):6.3f}  {verdict}"
        )


if __name__ == "__main__":
    main()
