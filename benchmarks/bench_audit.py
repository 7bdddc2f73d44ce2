"""Audit benchmark: ``trainlens audit completions`` over a large generated ms-swift GRPO
``completions.jsonl``, samples/s and peak RSS, against reading the same lines with ``json.loads``
alone (the floor any Python JSONL reader pays), timed in the same run.

    .venv/bin/python benchmarks/bench_audit.py                 # 256 MiB and 1 GiB files
    .venv/bin/python benchmarks/bench_audit.py --sizes 64       # a quick smoke run
    .venv/bin/python benchmarks/bench_audit.py --sizes 2048     # the 2 GB case of the issue

Files are written once and cached under ``./bench-data/``. Each measurement runs in a fresh
process so its peak RSS (``VmHWM``) is its own; a flat peak across sizes is the bounded-memory
claim.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_STEP = 16  # completions per logging step (num_generations x batch)


def completion(rng: random.Random, step: int, j: int) -> tuple[str, str]:
    """A GRPO completion and its solution: mostly closed answers, some cut, some loops."""
    gold = rng.randint(1, 10_000)
    words = " ".join(
        rng.choice(("we", "add", "the", "next", "so", "then", "value", "is"))
        for _ in range(rng.randint(60, 160))
    )
    kind = rng.random()
    if kind < 0.1:
        text = f"<think>{words} {gold}"  # cut before </answer>
    elif kind < 0.13:
        text = "<think>" + "and then we check it again " * 40
    elif kind < 0.15:
        text = ""
    else:
        text = f"<think>{words}</think>\n<answer>{gold if kind < 0.8 else gold + 1:,}</answer>"
    return text, str(gold)


def write_completions(path: Path, size_mb: int, seed: int = 0) -> int:
    """ms-swift's column-oriented lines (step as strings, reward columns, advantages) until the
    file reaches ``size_mb``; returns the number of samples."""
    rng = random.Random(seed)
    target = size_mb << 20
    written = samples = 0
    step = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            step += 1
            pairs = [completion(rng, step, j) for j in range(PER_STEP)]
            line = json.dumps(
                {
                    "step": [str(step)] * PER_STEP,
                    "prompt": ["<|im_start|>user\nSolve the problem.<|im_end|>"] * PER_STEP,
                    "completion": [p[0] for p in pairs],
                    "solution": [p[1] for p in pairs],
                    "MathAccuracy": [float(rng.random() < 0.5) for _ in pairs],
                    "Format": [1.0 for _ in pairs],
                    "advantages": [round(rng.gauss(0, 1), 4) for _ in pairs],
                },
                ensure_ascii=False,
            )
            fh.write(line + "\n")
            written += len(line) + 1
            samples += PER_STEP
    return samples


CHILD = {
    "audit": (
        "from trainlens.audit import audit_completions\n"
        "t=time.perf_counter(); c=time.process_time(); a=audit_completions([path])\n"
        "dt=time.perf_counter()-t; cpu=time.process_time()-c\n"
        "n=a.n; extra=dict(unclosed=a.summary()['unclosed_rate'], steps=len(a.steps))\n"
    ),
    "json.loads": (
        "t=time.perf_counter(); c=time.process_time(); n=0\n"
        "with open(path,'rb') as fh:\n"
        "    for line in fh:\n"
        "        n+=len(json.loads(line)['completion'])\n"
        "dt=time.perf_counter()-t; cpu=time.process_time()-c; extra={}\n"
    ),
}


def measure(kind: str, path: Path) -> dict:
    code = (
        "import json,sys,time\n"
        f"sys.path.insert(0,{str(ROOT)!r}); path={str(path)!r}\n"
        "import trainlens.audit\n" + CHILD[kind] + "hwm=0\n"
        "for l in open('/proc/self/status'):\n"
        "    if l.startswith('VmHWM'): hwm=int(l.split()[1])//1024\n"
        "print(json.dumps(dict(n=n, s=dt, cpu=cpu, rss=hwm, **extra)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="file sizes, MiB")
    ap.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = ap.parse_args()
    args.data.mkdir(exist_ok=True)
    rows = []
    for size in args.sizes:
        path = args.data / f"completions-{size}MiB.jsonl"
        if not path.exists():
            t = time.perf_counter()
            write_completions(path, size)
            print(f"wrote {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        for kind in ("audit", "json.loads"):
            r = measure(kind, path)
            rows.append((size, kind, r))
    print(
        f"{'file':>9}  {'reader':<11} {'samples':>10} {'wall s':>7} {'cpu s':>6} "
        f"{'samples/s':>10} {'MiB/s':>6} {'peak RSS':>9}  vs json.loads (cpu)"
    )
    base = {size: r["cpu"] for size, kind, r in rows if kind == "json.loads"}
    for size, kind, r in rows:
        ratio = "baseline" if kind == "json.loads" else f"{r['cpu'] / base[size]:.1f}x"
        print(  # samples/s and MiB/s from CPU time: wall time on a shared box is noise
            f"{size:>6}MiB  {kind:<11} {r['n']:>10,} {r['s']:>7.1f} {r['cpu']:>6.1f} "
            f"{r['n'] / r['cpu']:>10,.0f} {size / r['cpu']:>6.1f} {r['rss']:>6} MB  {ratio}"
        )


if __name__ == "__main__":
    main()
