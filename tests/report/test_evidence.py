"""Key-data tables show the informative rows only, with the change vs the previous logged step."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainlens.findings import EvidenceRow, Finding, Severity
from trainlens.metrics import AliasTable
from trainlens.report.evidence import MAX_ROWS, key_table
from trainlens.run import Run, RunMeta


def make_run(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> Run:
    parts = [
        pd.DataFrame(
            {"source": "x", "key": key, "step": steps, "value": values, "wall_time": np.nan}
        )
        for key, (steps, values) in series.items()
    ]
    table = pd.concat(parts, ignore_index=True).sort_values(["key", "step"])
    table["key"] = table["key"].astype("category")
    table["source"] = table["source"].astype("category")
    return Run(
        "big", ".", "swift_jsonl", table.reset_index(drop=True), RunMeta(), AliasTable.load()
    )


def test_a_100k_step_run_gives_a_short_table():
    steps = np.arange(1, 100_001)
    values = np.full(len(steps), 0.05)
    values[40_000:60_000] = 3.0  # a 20k-step window
    values[50_000] = 19.6
    run = make_run({"kl": (steps, values)})
    f = Finding(
        "kl_high",
        Severity.ERROR,
        "big",
        "kl",
        "kl",
        40_001,
        60_000,
        peak_step=50_001,
        peak_value=19.6,
        baseline=0.05,
    )
    table = key_table(run, f)
    shown = [r for r in table.rows if r.step is not None]
    assert len(table.rows) <= MAX_ROWS + 8
    steps_shown = [r.step for r in shown]
    assert 50_001 in steps_shown and 40_001 in steps_shown and 60_000 in steps_shown
    assert any(r.step is None for r in table.rows)  # elision rows between the parts
    peak = next(r for r in shown if r.step == 50_001)
    assert peak.marks == ("peak",)
    assert peak.cells[0].change == 19.6 - 3.0  # vs the previous logged step, not the row above


def test_episode_table_has_one_column_per_member_metric():
    steps = np.arange(0, 200, 10)
    kl = np.where(steps == 100, 19.6, 0.05)
    clipped = np.where(steps == 100, 0.875, 0.02)
    run = make_run({"kl": (steps, kl), "completions/clipped_ratio": (steps, clipped)})
    f = Finding(
        "episode",
        Severity.ERROR,
        "big",
        "kl",
        "kl",
        100,
        100,
        peak_step=100,
        peak_value=19.6,
        members=("kl_spike@kl", "clipped_ratio_surge@clipped_ratio", "reward_collapse@reward"),
    )
    table = key_table(run, f)
    assert table.metrics == ("kl", "clipped_ratio")  # reward is not logged: no empty column
    row = next(r for r in table.rows if r.step == 100)
    assert [c.value for c in row.cells] == [19.6, 0.875]


def test_engine_evidence_is_used_and_capped():
    rows = tuple(EvidenceRow(s, float(s), 1.0) for s in range(100))
    f = Finding(
        "r",
        Severity.WARNING,
        "big",
        "kl",
        "kl",
        10,
        90,
        peak_step=50,
        peak_value=50.0,
        evidence=rows,
    )
    run = make_run({"kl": (np.arange(100), np.arange(100, dtype=float))})
    table = key_table(run, f)
    assert len([r for r in table.rows if r.step is not None]) <= MAX_ROWS + 5
    assert 50 in [r.step for r in table.rows]
