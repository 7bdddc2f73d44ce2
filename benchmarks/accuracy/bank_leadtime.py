"""Lead time: a labelled run replayed as a growing file through ``watch``'s follower
(``trainlens.watch.Follower``, the incremental reader ``trainlens watch`` polls), analysed after
each append as ``watch`` does; the steps from the labelled onset to the last step written when
the label's rule first fires.

Line-based logs only (ms-swift ``logging.jsonl``, the verl console): everything before the onset
is written at once, then the lines after it in growing chunks (1, 1, 2, 3, 5, 8, ... lines), so a
lead time is exact for the first few points and an upper bound within one chunk after that."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from trainlens.analysis import analyze_runs
from trainlens.engine.spec import RuleSet
from trainlens.watch import Follower

#: Line-based files the replay can grow, and how to read a line's step.
REPLAYABLE = {
    "logging.jsonl": re.compile(r'"global_step/max_steps": "(\d+)/'),
    "verl.log": re.compile(r"step:(\d+) - "),
}
#: Rules that need the findings of others (episodes): run with every rule.
NEEDS_ALL = {"instability_episode"}


def _chunks() -> list[int]:
    out, a, b = [], 1, 1
    while a < 10**7:
        out.append(a)
        a, b = b, a + b
    return out


def _source(path: Path) -> tuple[Path, re.Pattern[str]] | None:
    for name, pattern in REPLAYABLE.items():
        if (path / name).is_file():
            return path / name, pattern
    return None


def lead_time(
    path: Path, label: dict[str, Any], rules: RuleSet, *, max_polls: int = 40
) -> int | None:
    """Steps from the label's onset to the first alert for its rule (None: never, or a run that
    cannot be replayed)."""
    found = _source(path)
    if found is None:
        return None
    src, pattern = found
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    steps = []
    for line in lines:
        m = pattern.search(line)
        steps.append(int(m.group(1)) if m else None)
    onset, slack = int(label["window"][0]), int(label.get("slack", 0))
    first = next((i for i, s in enumerate(steps) if s is not None and s >= onset), None)
    if first is None:
        return None
    select = () if label["rule"] in NEEDS_ALL else (label["rule"],)
    with tempfile.TemporaryDirectory(prefix="trainlens-lead-") as tmp:
        run_dir = Path(tmp) / path.name
        run_dir.mkdir()
        for extra in path.iterdir():  # args.json and other side files, not the log
            if extra.is_file() and extra != src and extra.name != "labels.json":
                shutil.copy(extra, run_dir / extra.name)
        dst = run_dir / src.name
        dst.write_text("".join(lines[:first]), encoding="utf-8")
        follower = Follower(Path(tmp))
        follower.poll()
        written = first
        for k in _chunks()[:max_polls]:
            end = min(len(lines), written + k)
            with open(dst, "a", encoding="utf-8") as fh:
                fh.write("".join(lines[written:end]))
            written = end
            _, changed, _, _ = follower.poll()
            if changed:
                analysis = analyze_runs(changed, rules=rules, select=select)
                lo, hi = label["window"]
                for f in analysis.findings:
                    if (
                        f.rule == label["rule"]
                        and f.start_step <= hi + slack
                        and f.end_step >= lo - slack
                    ):
                        last = max(s for s in steps[:written] if s is not None)
                        return last - onset
            if written >= len(lines):
                return None
    return None
