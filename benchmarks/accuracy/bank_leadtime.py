"""Lead time: a labelled run replayed as a growing file through ``watch``'s follower
(``trainlens.watch.Follower``, the incremental reader ``trainlens watch`` polls), analysed after
each append as ``watch`` does; the steps from the labelled onset to the last step written when
the label's rule first fires.

Line-based logs (ms-swift ``logging.jsonl``, the verl console) and TensorBoard event files (HF/TRL,
verl and custom critic runs), grown record by record: everything before the onset is written at
once, then the lines (records) after it in growing chunks (1, 1, 2, 3, 5, 8, ...), so a lead time
is exact for the first few points and an upper bound within one chunk after that.
``trainer_state.json`` and the HF console (a file rewritten whole, a tqdm stream) are not
replayed."""

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


def _source(path: Path) -> tuple[Path, re.Pattern[str] | None] | None:
    """The file to grow and its step pattern (None: a TensorBoard event file)."""
    for name, pattern in REPLAYABLE.items():
        if (path / name).is_file():
            return path / name, pattern
    events = sorted(path.rglob("events.out.tfevents.*"))
    if len(events) == 1:
        return events[0], None
    return None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def _event_step(event: bytes) -> int | None:
    """The ``step`` field (2, varint) of a serialized ``Event``; None when absent."""
    i = 0
    while i < len(event):
        key, i = _varint(event, i)
        field, kind = key >> 3, key & 7
        if kind == 0:
            value, i = _varint(event, i)
            if field == 2:
                return value
        elif kind == 1:
            i += 8
        elif kind == 2:
            size, i = _varint(event, i)
            i += size
        elif kind == 5:
            i += 4
        else:
            return None
    return None


def _pieces(src: Path, pattern: re.Pattern[str] | None) -> tuple[list[bytes], list[int | None]]:
    """The file cut where a growing writer could have stopped (lines, or TFRecord records)
    with each piece's step."""
    data = src.read_bytes()
    if pattern is not None:
        lines = data.splitlines(keepends=True)
        steps = []
        for line in lines:
            m = pattern.search(line.decode("utf-8", "replace"))
            steps.append(int(m.group(1)) if m else None)
        return lines, steps
    records, steps, i = [], [], 0
    while i + 12 <= len(data):
        size = int.from_bytes(data[i : i + 8], "little")
        end = i + 12 + size + 4
        records.append(data[i:end])
        steps.append(_event_step(data[i + 12 : i + 12 + size]))
        i = end
    return records, steps


def start_copy(path: Path, src: Path, head: bytes, into: Path) -> Path:
    """A copy of the run ``path`` under ``into`` whose log ``src`` holds only ``head`` (the
    side files, such as args.json, copied whole; the labels left out); returns the log's copy."""
    run_dir = into / path.name
    run_dir.mkdir()
    for extra in path.iterdir():
        if extra.is_file() and extra != src and extra.name != "labels.json":
            shutil.copy(extra, run_dir / extra.name)
    dst = run_dir / src.relative_to(path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(head)
    return dst


def lead_time(
    path: Path, label: dict[str, Any], rules: RuleSet, *, max_polls: int = 40
) -> int | None:
    """Steps from the label's onset to the first alert for its rule (None: never, or a run that
    cannot be replayed)."""
    found = _source(path)
    if found is None:
        return None
    src, pattern = found
    lines, steps = _pieces(src, pattern)
    onset, slack = int(label["window"][0]), int(label.get("slack", 0))
    first = next((i for i, s in enumerate(steps) if s is not None and s >= onset), None)
    if first is None:
        return None
    select = () if label["rule"] in NEEDS_ALL else (label["rule"],)
    with tempfile.TemporaryDirectory(prefix="trainlens-lead-") as tmp:
        dst = start_copy(path, src, b"".join(lines[:first]), Path(tmp))
        follower = Follower(Path(tmp))
        follower.poll()
        written = first
        for k in _chunks()[:max_polls]:
            end = min(len(lines), written + k)
            with open(dst, "ab") as fh:
                fh.write(b"".join(lines[written:end]))
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
