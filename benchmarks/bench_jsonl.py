"""JSONL benchmark: trainlens' ms-swift reader against ``polars.read_ndjson``, in the same run.

    .venv/bin/python benchmarks/bench_jsonl.py [--steps N] [--tags N] [--repeat N]

Reads the ms-swift v3 ``logging.jsonl`` that ``bench_load.py`` writes (40 keys x 100,000 lines,
133 MB; written once under ``bench-data/``). The loaders alternate, round after round, so that
a change in the load of the box hits all alike; medians and bests are printed with the ratio
to polars, and the CPU time of each (all threads: polars and the reader's pyarrow path use every
core). The reader runs twice: as installed (with pyarrow, the ``fast`` extra, big files are
parsed in native code) and with every line decoded in Python (what it does without pyarrow).
polars is no dependency of trainlens: without it the ratio is left out, with a note
(``pip install polars`` to get it).

Target (issue 14): the trainlens reader within 1.2x of ``polars.read_ndjson``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_load import write_swift_jsonl  # noqa: E402

READER = "trainlens read_swift_jsonl"


def prepare_jsonl(data: Path, tags: int, steps: int) -> Path:
    """The file bench_load.py reads, written the same way (and in the same place) if missing."""
    folder = data / f"swift-{tags}x{steps}"
    if not folder.exists():
        data.mkdir(parents=True, exist_ok=True)
        print(f"writing {folder} ...", file=sys.stderr)
        write_swift_jsonl(folder, tags, steps)
    return folder / "logging.jsonl"


def _rows(result: Any) -> int:
    """Rows of a reader's table (its numpy table where results have one: no DataFrame built)."""
    table = getattr(result, "table", None)
    return len(result.frame if table is None else table)


def careful(path: Path) -> int:
    """The reader with its pyarrow path off: every line decoded by orjson / Python."""
    from trainlens.readers import _jsonl_fast
    from trainlens.readers.swift_jsonl import read_swift_jsonl

    floor, _jsonl_fast.MIN_BYTES = _jsonl_fast.MIN_BYTES, 1 << 62
    try:
        return _rows(read_swift_jsonl(path))
    finally:
        _jsonl_fast.MIN_BYTES = floor


def loaders() -> dict[str, Callable[[Path], int]]:
    from trainlens.readers import _jsonl_fast
    from trainlens.readers.swift_jsonl import read_swift_jsonl

    out: dict[str, Callable[[Path], int]] = {READER: lambda p: _rows(read_swift_jsonl(p))}
    if _jsonl_fast.available():
        out["  ... lines decoded in Python"] = careful
    if importlib.util.find_spec("polars") is not None:
        import polars as pl

        out["polars.read_ndjson"] = lambda p: pl.read_ndjson(p).height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args()
    path = prepare_jsonl(args.data, args.tags, args.steps)
    funcs = loaders()
    rows = {name: fn(path) for name, fn in funcs.items()}  # warm: page cache, imports
    times: dict[str, list[float]] = {name: [] for name in funcs}
    cpu: dict[str, list[float]] = {name: [] for name in funcs}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for name, fn in funcs.items():
            started, used = time.perf_counter(), time.process_time()
            fn(path)
            times[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - used)  # every thread of the process
    load_after = os.getloadavg()[0]
    size = path.stat().st_size / 2**20
    print(
        f"{path} ({size:.0f} MiB, {args.steps:,} lines); {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before, {load_after:.2f} after; {args.repeat} rounds\n"
    )
    header = (
        f"{'loader':28} {'rows':>10} {'median s':>9} {'best s':>7} {'vs polars':>10} {'CPU s':>6}"
    )
    print(header)
    print("-" * len(header))
    polars = times.get("polars.read_ndjson")
    for name, values in times.items():
        med = statistics.median(values)
        ratio = f"{med / statistics.median(polars):9.2f}x" if polars else "-"
        print(
            f"{name:28} {rows[name]:>10,} {med:9.3f} {min(values):7.3f} {ratio:>10} "
            f"{statistics.median(cpu[name]):6.2f}"
        )
    from trainlens.readers import _jsonl_fast

    if _jsonl_fast.available():
        import pyarrow

        floor = _jsonl_fast.MIN_BYTES
        print(f"\nreader: pyarrow {pyarrow.__version__} for reads over {floor:,} bytes")
    else:
        print("\nreader: no pyarrow, every line decoded in Python (pip install pyarrow)")
    if polars is None:
        print("polars is not installed: no ratio (pip install polars to measure it)")
    else:
        ratio = statistics.median(times[READER]) / statistics.median(polars)
        print(f"target <= 1.2x polars: {'met' if ratio <= 1.2 else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
