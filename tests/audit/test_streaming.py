"""The streaming path: a generated ms-swift completions file audited in memory that does not
grow with the file (traced peak of a 4x larger file about the same), malformed lines among
many good ones counted once."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from trainlens.audit import audit_completions


def _write(path: Path, steps: int, per_step: int = 16, bad_every: int = 0) -> int:
    rng = random.Random(3)
    lines = []
    for step in range(1, steps + 1):
        comps = []
        for _ in range(per_step):
            words = " ".join(rng.choice(("we", "add", "then", "so")) for _ in range(200))
            gold = rng.randint(1, 999)
            comps.append(f"<think>{words}</think><answer>{gold}</answer>")
        lines.append(
            json.dumps(
                {
                    "step": [str(step)] * per_step,
                    "prompt": ["q"] * per_step,
                    "completion": comps,
                    "solution": ["1"] * per_step,
                    "Acc": [0.0] * per_step,
                }
            )
        )
        if bad_every and step % bad_every == 0:
            lines.append('{"step": ["' + str(step) + '"], "completion": ["cut')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return steps * per_step


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        audit = audit_completions([path])
        return audit.n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _write(small, 60)
    _write(large, 240)
    n_small, peak_small = _peak(small)
    n_large, peak_large = _peak(large)
    assert (n_small, n_large) == (960, 3840)
    assert large.stat().st_size > 2 * (1 << 20)  # the text itself would dwarf the margin
    # per-step counters grow with the steps (a few hundred bytes each), nothing else does
    assert peak_large < peak_small + (1 << 20)  # the 2.2 MB more text is not kept


def test_many_malformed_lines_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    n = _write(path, 50, per_step=4, bad_every=5)
    audit = audit_completions([path])
    assert audit.n == n and audit.files[0].skipped == 10
    (warning,) = audit.warnings
    assert warning.message.startswith("10 malformed line(s)/record(s) skipped (first: line 6")
    assert len(audit.steps) == 50
