"""Watch benchmark: the cost of one poll of ``trainlens watch`` on a big live run.

    .venv/bin/python benchmarks/bench_watch.py                   # 0.4M and 4M points
    .venv/bin/python benchmarks/bench_watch.py --steps 10000     # one size

A GRPO run of 40 metrics (the series of ``bench_analyze.py``: KL, grad norm, clipping, rewards
..., with injected episodes) is written as an ms-swift ``logging.jsonl`` (under ``bench-data/``,
once per size) and watched with every rule, as ``trainlens watch`` does; between polls 40 new
lines (40 new points per metric) are appended. Timed: each poll (read, check, policies), as the
``Polled`` event reports it. Incremental (the default): a full pass on the first poll and every
``--full-every`` polls, the spike/NaN rules on the end of the run in between. Baseline in the
same run: a full pass at every poll (what watch did before: rebuild the run, run every rule).
(``watch`` itself checks incrementally only runs whose full pass takes over 0.2 s; both sizes
here are above that, and the benchmark forces it so that a fast box still measures it.)

Target (issue 14): per-poll cost at 4M points at most 0.2 s with 40 new points per metric.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from bench_analyze import grpo_series  # noqa: E402

from trainlens.analysis import analyze_runs  # noqa: E402
from trainlens.engine.spec import load_rules  # noqa: E402
from trainlens.gate import parse_policy  # noqa: E402
from trainlens.watch import FULL_EVERY, Polled, tail_analyzer, watch  # noqa: E402

TAGS = 40
NEW_LINES = 40
#: Policies that never fail here, so every poll checks them to the end.
POLICIES = ["kl>1000 for 3", "mean(grad_norm)>1e6"]


def write_run(data: Path, steps: int, extra: int) -> tuple[Path, list[str]]:
    """The first ``steps`` lines of the run in ``data/watch-40xSTEPS/logging.jsonl`` (written
    anew each call) and the ``extra`` lines that polls will append."""
    series = grpo_series(steps + extra, TAGS)
    keys = list(series)
    columns = [series[k][1].tolist() for k in keys]
    total = steps + extra
    lines = [
        json.dumps(
            {
                **{k: c[i] for k, c in zip(keys, columns)},
                "global_step/max_steps": f"{i + 1}/{total}",
            }
        )
        + "\n"
        for i in range(total)
    ]
    run = data / f"watch-{TAGS}x{steps}"
    run.mkdir(parents=True, exist_ok=True)
    log = run / "logging.jsonl"
    log.write_text("".join(lines[:steps]))
    return log, lines[steps:]


def polls(log: Path, pending: list[str], n: int, full_every: int) -> list[Polled]:
    """Watch ``log``'s run for ``n`` polls, appending NEW_LINES lines before each but the first."""
    rules = load_rules()
    queue = list(pending)

    def grow(_: float) -> None:
        with open(log, "a") as fh:
            fh.write("".join(queue[:NEW_LINES]))
        del queue[:NEW_LINES]

    events = watch(
        log.parent,
        policies=[parse_policy(p) for p in POLICIES],
        analyze=lambda runs: analyze_runs(runs, rules=rules, audit={"enabled": False}),
        analyze_tail=tail_analyzer(rules),
        interval=0,
        max_polls=n,
        sleep=grow,
        full_every=full_every,
        incremental_above=-1.0,  # the run's size decides in real use; here: always incremental
    )
    return [e for e in events if isinstance(e, Polled)]


def measure(data: Path, steps: int, full_every: int, baseline_polls: int) -> None:
    n = full_every + 2  # the first full pass, full_every - 1 incremental, one more full, one more
    log, pending = write_run(data, steps, NEW_LINES * (n + baseline_polls))
    got = polls(log, pending, n, full_every)
    first, rest = got[0], got[1:]
    inc = [p.seconds for p in rest if not p.full]
    full = [p.seconds for p in rest if p.full]
    log, pending = write_run(data, steps, NEW_LINES * (baseline_polls + 1))
    base = [p.seconds for p in polls(log, pending, baseline_polls + 1, 1)[1:]]
    points = steps * TAGS
    per_base = statistics.median(base)
    per_inc = statistics.median(inc)
    full_s = statistics.median(full) if full else float("nan")
    amortised = (per_inc * (full_every - 1) + full_s) / full_every
    size = f"{points / 1e6:.1f}M points ({TAGS} metrics x {steps:,} steps)"
    print(f"\n{size}, {NEW_LINES} new per poll")
    print(f"  first poll (read everything, full pass)     {first.seconds:7.3f} s")
    print(f"  baseline: full pass every poll              {per_base:7.3f} s median")
    print(
        f"  incremental poll                            {per_inc:7.3f} s median "
        f"({per_base / per_inc:.0f}x faster), max {max(inc):.3f} s"
    )
    print(f"  full pass every {full_every} polls                    {full_s:7.3f} s")
    print(f"  amortised over {full_every} polls                     {amortised:7.3f} s")
    if points >= 4_000_000:
        verdict = "met" if per_inc <= 0.2 else "NOT met"
        print(f"  target <= 0.2 s per poll at 4M points: {verdict} (incremental polls)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, action="append", help="logged steps (repeatable)")
    p.add_argument("--full-every", type=int, default=FULL_EVERY)
    p.add_argument("--baseline-polls", type=int, default=3)
    p.add_argument("--data", type=Path, default=ROOT / "bench-data")
    args = p.parse_args()
    for steps in args.steps or [10_000, 100_000]:
        measure(args.data, steps, args.full_every, args.baseline_polls)


if __name__ == "__main__":
    main()
