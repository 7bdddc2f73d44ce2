"""Write the labelled scenario bank to disk, in the real formats, through the test writers.

    .venv/bin/python benchmarks/accuracy/generate.py OUT            # the full bank (seed 0)
    .venv/bin/python benchmarks/accuracy/generate.py OUT --fast     # the ~60-run test subset
    .venv/bin/python benchmarks/accuracy/generate.py OUT --per-rule 20 --seed 3

Each run is a folder ``OUT/<name>/`` holding the run's files and ``labels.json``
(``{"name", "profile", "format", "note", "labels": [{"rule", "window", "severity", "slack",
"required"}]}``; healthy runs have an empty list). Formats: ms-swift ``logging.jsonl`` v3/v4
(``tests/logwriters.py``), TRL/HF TensorBoard (tensorboardX, ``train/`` and ``eval/`` tags) and
``trainer_state.json``, the HF console (``tests/consolelogs.py``), verl console and TensorBoard,
and a custom critic TensorBoard run.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "tests", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bank_profiles import Series  # noqa: E402
from bank_scenarios import Scenario, build_bank, fast_bank  # noqa: E402
from consolelogs import write_hf_console, write_verl_console  # noqa: E402
from logwriters import write_swift_run, write_trainer_state  # noqa: E402

LABELS = "labels.json"


def rows_by_step(
    series: Series, *, skip: tuple[str, ...] = ()
) -> list[tuple[int, dict[str, float]]]:
    """One ``(step, {key: value})`` per logged step, keys absent where a series has no point."""
    rows: dict[int, dict[str, float]] = {}
    for key, (steps, values) in series.items():
        if key in skip:
            continue
        for s, v in zip(steps.tolist(), values.tolist()):
            rows.setdefault(int(s), {})[key] = float(v)
    return sorted(rows.items())


def _swift_rows(sc: Scenario) -> Iterator[tuple[int, dict[str, float]]]:
    evals = {k: v for k, v in sc.series.items() if k.startswith("eval_")}
    train = rows_by_step(sc.series, skip=tuple(evals))
    eval_rows = dict(rows_by_step(evals))
    if sc.restart is None:
        for step, row in train:
            yield step, row
            if step in eval_rows:
                yield step, eval_rows[step]
        return
    resume, reached = sc.restart  # a crash at ``reached``, resumed from checkpoint ``resume``
    for step, row in train:
        if step <= reached:
            yield step, row
    for step, row in train:
        if step > resume:
            yield step, row


def write_swift(sc: Scenario, out: Path, version: int) -> None:
    last = max(int(s[-1]) for s, _ in sc.series.values())
    write_swift_run(out, _swift_rows(sc), last, args=_swift_args(sc), version=version)


def _swift_args(sc: Scenario) -> dict[str, Any] | None:
    if sc.config is None:
        return None
    return {"rlhf_type": "grpo", "model": "Qwen/Qwen2.5-7B-Instruct", **sc.config}


def _history(sc: Scenario) -> list[dict[str, Any]]:
    hist: list[dict[str, Any]] = []
    for step, row in rows_by_step(sc.series):
        train = {k: v for k, v in row.items() if not k.startswith("eval_")}
        ev = {k: v for k, v in row.items() if k.startswith("eval_")}
        if train:
            hist.append({**train, "step": step, "epoch": round(step / 1000, 4)})
        if ev:
            hist.append({**ev, "step": step, "epoch": round(step / 1000, 4)})
    return hist


def write_state(sc: Scenario, out: Path) -> None:
    hist = _history(sc)
    last = max(h["step"] for h in hist)
    write_trainer_state(
        out / f"checkpoint-{last}" / "trainer_state.json", hist, global_step=last, max_steps=last
    )


def _tb(out: Path, tagged: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """tensorboardX ``add_scalar`` step by step, tags in turn (as the HF callback and verl do)."""
    from tensorboardX import SummaryWriter

    by_step: dict[int, list[tuple[str, float]]] = {}
    for tag, steps, values in tagged:
        for s, v in zip(steps.tolist(), values.tolist()):
            by_step.setdefault(int(s), []).append((tag, float(v)))
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer = SummaryWriter(str(out))
        try:
            for step in sorted(by_step):
                for tag, v in by_step[step]:
                    writer.add_scalar(tag, v, step)
        finally:
            writer.close()


def write_trl_tb(sc: Scenario, out: Path) -> None:
    """The HF ``TensorBoardCallback``: ``x`` -> ``train/x``, ``eval_x`` -> ``eval/x``."""
    tagged = [
        (f"eval/{k[5:]}" if k.startswith("eval_") else f"train/{k}", s, v)
        for k, (s, v) in sc.series.items()
    ]
    _tb(out / "runs" / "Dec03_00-00-00_node", tagged)


def write_raw_tb(sc: Scenario, out: Path) -> None:
    """verl's and custom loops' ``SummaryWriter``: tags as logged (tensorboardX rewrites ``@``
    in tag names to ``_``, as the real writers do)."""
    _tb(out / "tensorboard_log", [(k, s, v) for k, (s, v) in sc.series.items()])


def write_hf(sc: Scenario, out: Path) -> None:
    rows = [row for _, row in rows_by_step(sc.series)]
    steps = sorted({int(s) for st, _ in sc.series.values() for s in st.tolist()})
    total = steps[-1]
    if steps[0] == 1 and sc.every > 1:
        rows = rows[1:]  # the console logs every ``interval`` steps, not step 1
    write_hf_console(out / "train.log", rows, total=total, interval=sc.every)


def write_verl(sc: Scenario, out: Path) -> None:
    steps = rows_by_step(sc.series)
    config = {
        "algorithm": {"adv_estimator": "gae"},
        "trainer": {"total_training_steps": steps[-1][0]},
    }
    write_verl_console(out / "verl.log", steps, config=config)


WRITERS = {
    "swift_v3": lambda sc, out: write_swift(sc, out, 3),
    "swift_v4": lambda sc, out: write_swift(sc, out, 4),
    "trl_tb": write_trl_tb,
    "trainer_state": write_state,
    "hf_console": write_hf,
    "verl_console": write_verl,
    "verl_tb": write_raw_tb,
    "critic_tb": write_raw_tb,
}


def write_scenario(sc: Scenario, root: Path) -> Path:
    """Write one run and its ``labels.json`` under ``root/<name>``."""
    out = root / sc.name
    out.mkdir(parents=True, exist_ok=True)
    WRITERS[sc.fmt](sc, out)
    meta = {
        "name": sc.name,
        "profile": sc.profile,
        "format": sc.fmt,
        "every": sc.every,
        "note": sc.note,
        "labels": [lb.to_dict() for lb in sc.labels],
    }
    (out / LABELS).write_text(json.dumps(meta, indent=1) + "\n")
    return out


def write_bank(root: Path, scenarios: list[Scenario]) -> list[Path]:
    return [write_scenario(sc, root) for sc in scenarios]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-rule", type=int, default=12)
    ap.add_argument("--hard-per-kind", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=100_000)
    ap.add_argument("--fast", action="store_true", help="the ~60-run subset of the test suite")
    a = ap.parse_args(argv)
    bank = (
        fast_bank(a.seed)
        if a.fast
        else build_bank(
            a.seed, per_rule=a.per_rule, hard_per_kind=a.hard_per_kind, max_n=a.max_steps
        )
    )
    write_bank(a.out, bank)
    n_healthy = sum(sc.healthy for sc in bank)
    print(
        f"{len(bank)} runs ({len(bank) - n_healthy} with anomalies, {n_healthy} healthy) in {a.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
