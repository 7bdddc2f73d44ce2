"""Helpers of the cache tests: fixtures in every format, aged so the cache may trust them, and
comparisons of a cached load with a fresh one."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from consolelogs import write_hf_console, write_llamafactory_log, write_verl_console
from logwriters import REALDATA, write_swift_run, write_trainer_state

from trainlens.load import LoadResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOUR_NS = 3600 * 10**9


def age(root: Path, seconds: float = 3600) -> None:
    """Set every file's mtime ``seconds`` back (the cache never trusts a file written just
    now: its mtime may not move on the next write)."""
    then = time.time_ns() - int(seconds * 1e9)
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    for p in files:
        os.utime(p, ns=(then, then))


def write_tb(logdir: Path, steps: int = 60, tags: int = 3) -> Path:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(logdir))
    for step in range(steps):
        for t in range(tags):
            w.add_scalar(f"train/m{t}", float(np.sin(step + t)), step, walltime=1.7e9 + step)
        if step == 5:
            w.add_histogram("weights", np.arange(10), step)
    w.close()
    return next(logdir.glob("events.out.tfevents.*"))


def format_fixtures(root: Path) -> Path:
    """One run of each format the readers know, written by the tests' writers, aged."""
    rows = [(s, {"loss": 1.0 / s, "kl": 0.01 * s, "reward": 0.5 + 0.01 * s}) for s in range(1, 41)]
    write_swift_run(root / "swift", rows, 40, args={"max_steps": 40, "learning_rate": 1e-6})
    write_tb(root / "tb")
    history = [{"step": s, "loss": 2.0 - 0.01 * s, "learning_rate": 1e-5} for s in range(1, 31)]
    write_trainer_state(root / "hf" / "trainer_state.json", history)
    write_llamafactory_log(
        root / "lf" / "trainer_log.jsonl",
        [
            {
                "current_steps": s,
                "total_steps": 30,
                "loss": 1.0 / s,
                "elapsed_time": f"0:00:{s:02d}",
            }
            for s in range(1, 31)
        ],
    )
    write_verl_console(
        root / "verl" / "output.log",
        [(s, {"actor/kl_loss": 0.001 * s, "critic/score/mean": 0.1 * s}) for s in range(1, 31)],
        config={"trainer": {"total_training_steps": 30}},
    )
    write_hf_console(
        root / "hfc" / "train.log",
        [{"loss": 1.0 / s, "grad_norm": 0.5, "learning_rate": 1e-5} for s in range(1, 21)],
        total=20,
        interval=1,
    )
    (root / "kv").mkdir()
    (root / "kv" / "train.log").write_text(
        "".join(f"iter {s}: loss {1.0 / s:.4f}, lr 1e-5, mfu -1.0\n" for s in range(1, 25)),
        encoding="utf-8",
    )
    (root / "csv").mkdir()
    (root / "csv" / "run-train-tag-loss.csv").write_text(
        "Wall time,Step,Value\n" + "".join(f"{1.7e9 + s},{s},{1.0 / s}\n" for s in range(1, 25)),
        encoding="utf-8",
    )
    age(root)
    return root


def copy_aged(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    age(dst)
    return dst


def realdata_dirs() -> list[Path]:
    if not REALDATA.is_dir():
        return []
    return sorted(p for p in REALDATA.iterdir() if p.is_dir())


def assert_same_load(fresh: LoadResult, other: LoadResult) -> None:
    """Two loads give the same runs (names, formats, tables, metadata) and warnings."""
    assert other.warnings == fresh.warnings
    assert [(r.name, r.path, r.format) for r in other.runs] == [
        (r.name, r.path, r.format) for r in fresh.runs
    ]
    for a, b in zip(fresh.runs, other.runs):
        pd.testing.assert_frame_equal(b.table, a.table, check_exact=True)
        assert b.meta == a.meta
        assert b.keys == a.keys
