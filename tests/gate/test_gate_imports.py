"""A metric-only ``trainlens gate`` (the CI step that must start fast) reads the run's files,
evaluates the policy on numpy arrays and prints, importing neither pandas nor scipy (nor
matplotlib or torch): once reading the files, once with the run from the result cache. A gate
with a rule policy still runs the engine (and may import them). ``trainlens metrics`` is as
light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.consolelogs import write_hf_console
from tests.logwriters import write_swift_run, write_trainer_state

HEAVY = ("pandas", "scipy", "matplotlib", "torch")

GATE = r"""
import sys
sys.argv = ["trainlens", "gate", *sys.argv[1:]]
from trainlens.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print(f"EXIT:{code}")
print("LOADED:" + ",".join(m for m in HEAVY if m in sys.modules))
""".replace("HEAVY", repr(HEAVY))


def _trainer_state(root: Path) -> None:
    history = [{"step": s, "loss": 2.0 / s, "kl": 0.5 * s, "epoch": s / 10} for s in range(1, 31)]
    write_trainer_state(root / "checkpoint-30" / "trainer_state.json", history)


def _tensorboard(root: Path) -> None:
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(root))
    for s in range(1, 31):
        w.add_scalar("train/loss", 2.0 / s, s)
        w.add_scalar("train/kl", 0.5 * s, s)
    w.close()


def _verl_jsonl(root: Path) -> None:
    root.mkdir(parents=True)
    rows = [
        {"step": s, "data": {"actor/kl_loss": 0.5 * s, "critic/score/mean": 0.5}}
        for s in range(1, 31)
    ]
    (root / "exp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _hf_console(root: Path) -> None:
    root.mkdir(parents=True)
    rows = [{"loss": 2.0 / s, "kl": 0.5 * s, "epoch": s / 10} for s in range(1, 31)]
    write_hf_console(root / "train.log", rows, total=30, interval=1)


def _swift(root: Path) -> None:
    rows = [(s, {"loss": 2.0 / s, "kl": 0.5 * s}) for s in range(1, 31)]
    write_swift_run(root, rows, 30)


WRITERS: dict[str, Callable[[Path], None]] = {
    "trainer_state": _trainer_state,
    "tensorboard": _tensorboard,
    "verl_jsonl": _verl_jsonl,
    "hf_console": _hf_console,
    "swift_jsonl": _swift,
}


def gate(tmp_path: Path, *args: str, command: str = "gate") -> tuple[int, list[str], str]:
    env = {**os.environ, "TRAINLENS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("TRAINLENS_NO_CACHE", None)
    env.pop("GITHUB_ACTIONS", None)
    out = subprocess.run(
        [sys.executable, "-c", GATE.replace('"gate"', repr(command)), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert "EXIT:" in out.stdout, out.stderr[-3000:]
    code = int(out.stdout.split("EXIT:", 1)[1].splitlines()[0])
    loaded = out.stdout.split("LOADED:", 1)[1].splitlines()[0]
    return code, [m for m in loaded.split(",") if m], out.stdout + out.stderr


@pytest.mark.parametrize("kind", list(WRITERS))
def test_metric_gate_imports_no_pandas_or_scipy(tmp_path: Path, kind: str) -> None:
    run = tmp_path / "run"
    WRITERS[kind](run)
    for attempt in ("read", "cached"):
        code, loaded, output = gate(tmp_path, str(run), "--fail-on", "kl>10")
        assert code == 1, (attempt, output)  # kl reaches 15: the policy fails
        assert "FAIL" in output and "kl>10" in output
        assert loaded == [], (attempt, loaded)


def test_metric_gate_on_a_cached_swift_run_imports_no_pandas(tmp_path: Path) -> None:
    """Taken from the result cache (the files are an hour old), the run needs no reader."""
    run = tmp_path / "run"
    _swift(run)
    hour_ago = time.time() - 3600  # a file written just now is never taken from the cache
    for f in run.rglob("*"):
        os.utime(f, (hour_ago, hour_ago))
    gate(tmp_path, str(run), "--fail-on", "kl>10")  # reads the file, fills the cache
    code, loaded, output = gate(tmp_path, str(run), "--fail-on", "kl>10")
    assert code == 1 and "kl>10" in output
    assert loaded == [], loaded


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """A rule policy runs the engine, which imports pandas: the check above would see it."""
    run = tmp_path / "run"
    _trainer_state(run)
    code, loaded, output = gate(tmp_path, str(run), "--fail-on-rule", "grad_explosion")
    assert code == 0, output
    assert "pandas" in loaded


@pytest.mark.parametrize("kind", ["swift_jsonl", "tensorboard"])
def test_metrics_listing_imports_no_pandas(tmp_path: Path, kind: str) -> None:
    """``trainlens metrics RUN`` (what a user runs first on a new log) starts as lightly."""
    run = tmp_path / "run"
    WRITERS[kind](run)
    code, loaded, output = gate(tmp_path, str(run), command="metrics")
    assert code == 0 and "kl" in output, output
    assert loaded == [], loaded
