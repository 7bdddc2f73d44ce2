"""Measure the rules on the labelled scenario bank: recall, false alarms and window error per rule.

    .venv/bin/python benchmarks/accuracy/run.py                  # full bank (~410 runs), Markdown
    .venv/bin/python benchmarks/accuracy/run.py --fast --json    # the ~60-run test subset, JSON
    .venv/bin/python benchmarks/accuracy/run.py --bank DIR       # a bank written by generate.py

Every run is read and analysed through the library API (``trainlens.load.load_runs``,
``trainlens.analysis.analyze_runs``), one run folder at a time. A required label is *detected*
when a finding of its rule has a window overlapping the label's (give or take two logging
intervals). Per rule:

- ``recall``: detected / required labels; ``sev ok``: detected at the labelled severity;
- ``step err``: |finding start - labelled onset| of detected labels (median, max), in steps;
- ``FA healthy``: error- and warning-level findings on healthy runs (``per run``: both / number of
  healthy runs);
- ``outside``: warning+ findings in labelled runs that match no label (required or allowed) of
  their rule, and a label found again on another key (one quantity, one finding).

The real logs in ``../shared/realdata`` (``bank_realdata.py``) join the same counts when present.
``--lead-time``: the ms-swift and verl console runs are also replayed as growing files through
``watch``'s follower (``bank_leadtime.py``): steps from the labelled onset to the first alert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "tests", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bank_leadtime import _source, lead_time  # noqa: E402
from bank_realdata import REAL_CASES, REALDATA  # noqa: E402
from generate import LABELS, write_bank  # noqa: E402

from trainlens.analysis import analyze_runs  # noqa: E402
from trainlens.engine.spec import RuleSet, load_rules  # noqa: E402
from trainlens.findings import Finding  # noqa: E402
from trainlens.load import load_runs  # noqa: E402


@dataclass
class RuleStats:
    labelled: int = 0
    detected: int = 0
    severity_ok: int = 0
    step_errors: list[int] = field(default_factory=list)
    fa_error: int = 0
    fa_warning: int = 0
    outside: int = 0
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    replayed: int = 0
    lead_times: list[int] = field(default_factory=list)

    def row(self, n_healthy: int) -> dict[str, Any]:
        errs = self.step_errors
        return {
            "labelled": self.labelled,
            "detected": self.detected,
            "recall": round(self.detected / self.labelled, 4) if self.labelled else None,
            "severity_ok": self.severity_ok,
            "step_err_median": statistics.median(errs) if errs else None,
            "step_err_max": max(errs) if errs else None,
            "fa_healthy_error": self.fa_error,
            "fa_healthy_warning": self.fa_warning,
            "fa_per_healthy_run": round((self.fa_error + self.fa_warning) / n_healthy, 4)
            if n_healthy
            else None,
            "outside_labels": self.outside,
            "lead_replayed": self.replayed,
            "lead_alerted": len(self.lead_times),
            "lead_median": statistics.median(self.lead_times) if self.lead_times else None,
            "lead_max": max(self.lead_times) if self.lead_times else None,
            "missed": self.missed,
            "false_alarms": self.false_alarms,
        }


@dataclass
class Case:
    """A run folder (or real-data path) and its labels."""

    name: str
    path: Path
    labels: list[dict[str, Any]]
    source: str = "bank"


def _overlaps(f: Finding, label: dict[str, Any]) -> bool:
    lo, hi = label["window"]
    slack = int(label.get("slack", 0))
    return f.start_step <= hi + slack and f.end_step >= lo - slack


def score_case(case: Case, findings: list[Finding], stats: dict[str, RuleStats]) -> dict[str, Any]:
    """Add one run's outcome to ``stats``; return what happened to it."""
    outcome: dict[str, Any] = {
        "run": case.name,
        "source": case.source,
        "labels": [lb["rule"] for lb in case.labels if lb.get("required", True)],
        "missed": [],
        "extra": [],
    }
    for label in case.labels:
        if not label.get("required", True):
            continue
        st = stats.setdefault(label["rule"], RuleStats())
        st.labelled += 1
        hits = [f for f in findings if f.rule == label["rule"] and _overlaps(f, label)]
        if not hits:
            st.missed.append(case.name)
            outcome["missed"].append(label["rule"])
            continue
        st.detected += 1
        # one quantity, one finding: the same label found again on another key is unwanted
        extra_keys = len({f.key for f in hits}) - 1
        st.outside += extra_keys
        outcome["extra"].extend([label["rule"]] * extra_keys)
        best = min(hits, key=lambda f: abs(f.start_step - label["window"][0]))
        st.step_errors.append(abs(best.start_step - label["window"][0]))
        if best.severity.value == label["severity"]:
            st.severity_ok += 1
    for f in findings:
        if f.severity.value == "info":
            continue
        st = stats.setdefault(f.rule, RuleStats())
        if not case.labels:
            if f.severity.value == "error":
                st.fa_error += 1
            else:
                st.fa_warning += 1
            st.false_alarms.append(f"{case.name}@{f.start_step}")
            outcome["extra"].append(f.rule)
        elif not any(lb["rule"] == f.rule and _overlaps(f, lb) for lb in case.labels):
            st.outside += 1
            st.false_alarms.append(f"{case.name}@{f.start_step}")
            outcome["extra"].append(f.rule)
    return outcome


def analyse_case(case: Case, rules: RuleSet) -> list[Finding]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_runs(case.path)
        analysis = analyze_runs(loaded.runs, rules=rules, warnings=loaded.warnings)
    return analysis.findings


def bank_cases(root: Path) -> list[Case]:
    cases = []
    for meta_path in sorted(root.glob(f"*/{LABELS}")):
        meta = json.loads(meta_path.read_text())
        cases.append(Case(meta["name"], meta_path.parent, meta["labels"]))
    return cases


def real_cases(realdata: Path = REALDATA) -> list[Case]:
    """The labelled real logs that are present (none when ``../shared/realdata`` is absent)."""
    return [
        Case(f"real:{c.path}", realdata / c.path, [lb.to_dict() for lb in c.labels], "realdata")
        for c in REAL_CASES
        if (realdata / c.path).exists()
    ]


def measure_lead_times(case: Case, rules: RuleSet, stats: dict[str, RuleStats]) -> None:
    """Replay a line-based run as a growing file for each required label (``bank_leadtime``)."""
    if _source(case.path) is None:
        return
    for label in case.labels:
        if not label.get("required", True):
            continue
        st = stats.setdefault(label["rule"], RuleStats())
        st.replayed += 1
        lead = lead_time(case.path, label, rules)
        if lead is not None:
            st.lead_times.append(lead)


def evaluate(
    cases: list[Case], rules: RuleSet | None = None, *, lead_times: bool = False
) -> dict[str, Any]:
    """Analyse every case and score it; the JSON-able result. ``lead_times``: also replay the
    line-based runs as growing files (slower)."""
    ruleset = rules or load_rules()
    stats: dict[str, RuleStats] = {}
    outcomes = []
    for case in cases:
        outcomes.append(score_case(case, analyse_case(case, ruleset), stats))
        if lead_times and case.source == "bank":
            measure_lead_times(case, ruleset, stats)
    n_healthy = sum(1 for c in cases if not c.labels)
    return {
        "runs": len(cases),
        "healthy_runs": n_healthy,
        "realdata_runs": sum(c.source == "realdata" for c in cases),
        "lead_times": lead_times,
        "rules": {rule: stats[rule].row(n_healthy) for rule in sorted(stats)},
        "cases": outcomes,
    }


#: The numbers of a rule's row that `trainlens rules show` prints.
ROW_FIELDS = (
    "labelled",
    "detected",
    "recall",
    "severity_ok",
    "step_err_median",
    "step_err_max",
    "fa_healthy_error",
    "fa_healthy_warning",
    "fa_per_healthy_run",
    "outside_labels",
    "lead_median",
    "lead_max",
    "lead_alerted",
    "lead_replayed",
)


def rule_table(result: dict[str, Any], seed: int) -> dict[str, Any]:
    """The bank's definition and each rule's row, without the per-run lists."""
    return {
        "bank": {
            "runs": result["runs"],
            "healthy_runs": result["healthy_runs"],
            "realdata_runs": result["realdata_runs"],
            "seed": seed,
            "lead_times": result["lead_times"],
        },
        "rules": {rule: {k: r.get(k) for k in ROW_FIELDS} for rule, r in result["rules"].items()},
    }


def baseline(result: dict[str, Any]) -> dict[str, Any]:
    """The counts a later run must not do worse on, per source (bank, realdata) and rule."""
    out: dict[str, Any] = {}
    for source in ("bank", "realdata"):
        cases = [c for c in result["cases"] if c["source"] == source]
        if cases:
            labels = sum(1 for c in cases for _ in c["labels"])
            out[source] = {
                "runs": len(cases),
                "labels": labels,
                "rules": source_counts(result, source),
            }
    return out


def source_counts(result: dict[str, Any], source: str) -> dict[str, dict[str, int]]:
    """Per rule: labels missed and unwanted findings, in the runs of one source."""
    counts: dict[str, dict[str, int]] = {}
    for c in result["cases"]:
        if c["source"] != source:
            continue
        for rule in c["missed"]:
            counts.setdefault(rule, {"missed": 0, "alarms": 0})["missed"] += 1
        for rule in c["extra"]:
            counts.setdefault(rule, {"missed": 0, "alarms": 0})["alarms"] += 1
    return counts


def _lead(r: dict[str, Any]) -> str:
    if not r["lead_replayed"]:
        return "—"
    got = f"({r['lead_alerted']}/{r['lead_replayed']})"
    if r["lead_median"] is None:
        return f"never {got}"
    return f"{r['lead_median']:g} / {r['lead_max']:g} {got}"


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.0%}" if x <= 1 else f"{x:g}"
    return str(x)


def markdown(result: dict[str, Any]) -> str:
    """The per-rule table."""
    lead = result.get("lead_times")
    lines = [
        f"{result['runs']} runs ({result['healthy_runs']} healthy, "
        f"{result['realdata_runs']} real logs)"
        + ("" if lead else "; lead time not measured (--lead-time)"),
        "",
        "| rule | labelled | recall | sev ok | step err med / max | FA healthy err / warn "
        "| FA per healthy run | outside labels |"
        + (" lead steps med / max (alerted/replayed) |" if lead else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if lead else ""),
    ]
    for rule, r in result["rules"].items():
        if (
            not (r["labelled"] or r["fa_healthy_error"] or r["fa_healthy_warning"])
            and not r["outside_labels"]
        ):
            continue  # only matched allowed labels: nothing to say
        recall = _fmt(r["recall"]) if r["labelled"] else "—"
        sev = f"{r['severity_ok']}/{r['detected']}" if r["detected"] else "—"
        err = f"{r['step_err_median']:g} / {r['step_err_max']:g}" if r["detected"] else "—"
        lines.append(
            f"| {rule} | {r['labelled']} | {recall} | {sev} | {err} "
            f"| {r['fa_healthy_error']} / {r['fa_healthy_warning']} "
            f"| {r['fa_per_healthy_run']:.3f} | {r['outside_labels']} |"
            + (f" {_lead(r)} |" if lead else "")
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bank", type=Path, help="a bank written by generate.py (else: generated)")
    ap.add_argument("--fast", action="store_true", help="the ~60-run test subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-realdata", action="store_true")
    ap.add_argument("--json", action="store_true", help="JSON instead of the Markdown table")
    ap.add_argument(
        "--lead-time",
        action="store_true",
        help="replay line-based runs as growing files through watch's follower (slower)",
    )
    ap.add_argument("--json-out", type=Path, help="also write the JSON result to this file")
    ap.add_argument("--details", action="store_true", help="list missed runs and false alarms")
    ap.add_argument(
        "--write-baseline",
        type=Path,
        help="record the counts as a regression baseline (tests/accuracy reads baseline_fast.json)",
    )
    ap.add_argument(
        "--write-rule-table",
        type=Path,
        help="write the per-rule rows for `trainlens rules show` (rules/accuracy.json)",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trainlens-bank-") as tmp:
        root = a.bank
        if root is None:
            from bank_scenarios import build_bank, fast_bank

            root = Path(tmp)
            write_bank(root, fast_bank(a.seed) if a.fast else build_bank(a.seed))
        cases = bank_cases(root) + ([] if a.no_realdata else real_cases())
        result = evaluate(cases, lead_times=a.lead_time)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=1) + "\n")
    if a.write_baseline:
        a.write_baseline.write_text(json.dumps(baseline(result), indent=1, sort_keys=True) + "\n")
    if a.write_rule_table:
        a.write_rule_table.write_text(
            json.dumps(rule_table(result, a.seed), indent=1, sort_keys=True) + "\n"
        )
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        print(markdown(result))
        if a.details:
            for rule, r in result["rules"].items():
                for name in r["missed"]:
                    print(f"missed   {rule}: {name}")
                for name in r["false_alarms"]:
                    print(f"alarm    {rule}: {name}")
        print(f"({result['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
