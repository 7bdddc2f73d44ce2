"""Incremental watch against a full check, over the scenario bank.

    .venv/bin/python benchmarks/accuracy/incremental.py            # the full bank, seed 0
    .venv/bin/python benchmarks/accuracy/incremental.py --fast     # the test subset

Every bank run whose log can be grown (ms-swift ``logging.jsonl``, the verl console, a single
TensorBoard event file: ``bank_leadtime``) is replayed through ``trainlens.watch.watch`` with
only incremental passes after the first: its first 30% (``--start``) written at once (one
full pass), the rest in growing chunks (1, 1, 2, 3, 5, ... records), each poll judging only the
end of every series with the rules that can (spikes, NaN/Inf, episodes). What watch reported
about the grown part is compared with a full check of the finished run by the same rules: a
finding matches when one of the other side has the same rule and metric and overlapping steps.
Printed per rule: findings of the full check, those watch also reported (agree), of those the
ones watch last reported at another severity, those it missed, those only watch reported (on
healthy runs: false alarms the incremental passes would add), and labels found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "tests", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bank_leadtime import _chunks, _pieces, _source, start_copy  # noqa: E402
from generate import write_bank  # noqa: E402
from run import Case, bank_cases  # noqa: E402

from trainlens.analysis import analyze_runs  # noqa: E402
from trainlens.engine.incremental import windowed  # noqa: E402
from trainlens.engine.spec import RuleSet, load_rules  # noqa: E402
from trainlens.findings import Finding  # noqa: E402
from trainlens.load import load_runs  # noqa: E402
from trainlens.watch import NewFinding, tail_analyzer, watch  # noqa: E402


def _same(a: Finding, b: Finding) -> bool:
    return (
        a.rule == b.rule
        and a.metric == b.metric
        and a.start_step <= b.end_step
        and b.start_step <= a.end_step
    )


def replay(
    case: Case, rules: RuleSet, ids: list[str], start: float
) -> tuple[list[Finding], list[Finding]]:
    """(what watch reported about the grown part, the full check's findings there)."""
    found = _source(case.path)
    if found is None:
        return [], []
    src, pattern = found
    pieces, steps = _pieces(src, pattern)
    half = max(1, int(len(pieces) * start))
    known = [s for s in steps[:half] if s is not None]
    if not known:
        return [], []
    judged = max(known)
    with tempfile.TemporaryDirectory(prefix="trainlens-inc-") as tmp:
        dst = start_copy(case.path, src, b"".join(pieces[:half]), Path(tmp))
        run_dir = Path(tmp) / case.path.name
        cuts = [half]
        for k in _chunks():
            if cuts[-1] >= len(pieces):
                break
            cuts.append(min(len(pieces), cuts[-1] + k))

        def grow(_: float, at: list[int] = [0]) -> None:  # noqa: B006 - the poll counter
            a, b = cuts[at[0]], cuts[at[0] + 1]
            with open(dst, "ab") as fh:
                fh.write(b"".join(pieces[a:b]))
            at[0] += 1

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            events = watch(
                Path(tmp),
                analyze=lambda runs: analyze_runs(runs, rules=rules, select=ids),
                analyze_tail=tail_analyzer(rules),
                interval=0,
                max_polls=len(cuts),
                sleep=grow,
                incremental_above=-1.0,
                full_every=10**6,
            )
            live = [e.finding for e in events if isinstance(e, NewFinding)]
            loaded = load_runs(run_dir)
            whole = analyze_runs(loaded.runs, rules=rules, select=ids).findings
    return (
        [f for f in live if f.start_step > judged],
        [f for f in whole if f.start_step > judged],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bank", type=Path, help="a bank written by generate.py (else: generated)")
    ap.add_argument("--fast", action="store_true", help="the test subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--details", action="store_true", help="list each disagreement")
    ap.add_argument(
        "--start", type=float, default=0.3, help="share of the records written before watching"
    )
    a = ap.parse_args(argv)
    rules = load_rules()
    ids = [s.id for s in windowed(rules.select((), ()))]
    t0 = time.perf_counter()
    full, agree, missed = Counter[str](), Counter[str](), Counter[str]()
    extra, extra_healthy, severity = Counter[str](), Counter[str](), Counter[str]()
    labels, labels_live, labels_full = Counter(), Counter(), Counter()
    replayed = healthy = 0
    with tempfile.TemporaryDirectory(prefix="trainlens-bank-") as tmp:
        root = a.bank
        if root is None:
            from bank_scenarios import build_bank, fast_bank

            root = Path(tmp)
            write_bank(root, fast_bank(a.seed) if a.fast else build_bank(a.seed))
        for case in bank_cases(root):
            if _source(case.path) is None:
                continue
            live, whole = replay(case, rules, ids, a.start)
            replayed += 1
            is_healthy = not case.labels
            healthy += is_healthy
            for f in whole:
                full[f.rule] += 1
                matches = [g for g in live if _same(f, g)]
                if matches:
                    agree[f.rule] += 1
                    if all(g.severity is not f.severity for g in matches):
                        severity[f.rule] += 1
                        if a.details:
                            print(f"severity {case.name}: {f.rule} {f.start_step} {f.severity}")
                else:
                    missed[f.rule] += 1
                    if a.details:
                        print(f"missed  {case.name}: {f.rule} {f.metric} {f.start_step}")
            for g in live:
                if not any(_same(f, g) for f in whole):
                    extra[g.rule] += 1
                    extra_healthy[g.rule] += is_healthy
                    if a.details:
                        print(f"extra   {case.name}: {g.rule} {g.metric} {g.start_step}")
            for lb in case.labels:
                if lb["rule"] not in ids or not lb.get("required", True):
                    continue
                lo, hi = lb["window"]
                slack = int(lb.get("slack", 0))

                def hit(fs: list[Finding], lb=lb, lo=lo, hi=hi, slack=slack) -> bool:
                    return any(
                        f.rule == lb["rule"]
                        and f.start_step <= hi + slack
                        and f.end_step >= lo - slack
                        for f in fs
                    )

                if hit(whole):  # labels in the second half (the replayed part)
                    labels[lb["rule"]] += 1
                    labels_full[lb["rule"]] += 1
                    labels_live[lb["rule"]] += hit(live)
    print(
        f"{replayed} runs replayed ({healthy} healthy), all but the first {a.start:.0%} of the "
        "records grown in chunks, "
        f"only incremental passes after the first; {time.perf_counter() - t0:.0f} s\n"
    )
    print(
        "| rule | full check | watch agrees | other severity | watch missed "
        "| only watch (healthy runs) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for rule in sorted(set(full) | set(extra)):
        print(
            f"| {rule} | {full[rule]} | {agree[rule]} | {severity[rule]} | {missed[rule]} | "
            f"{extra[rule]} ({extra_healthy[rule]}) |"
        )
    total, ok = sum(full.values()), sum(agree.values())
    print(
        f"| all | {total} | {ok} ({ok / max(total, 1):.0%}) | {sum(severity.values())} | "
        f"{sum(missed.values())} | {sum(extra.values())} ({sum(extra_healthy.values())}) |"
    )
    n, got = sum(labels.values()), sum(labels_live.values())
    print(f"\nlabels in the grown part found by the full check: {n}; by watch: {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
