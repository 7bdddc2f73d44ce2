"""Shared bits of the issue-16 regression tests: the example run and a CLI invoker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from trainlens.cli import app

ROOT = Path(__file__).resolve().parents[2]
#: A small example run that has findings (and so charts).
EXAMPLE = ROOT / "examples" / "sft_overfit"


def cli(*args: Any):
    """``cli("report", PATH, ...)`` → the CliRunner result (stdout and stderr apart)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def spiky_run(out: Path, *, spike: bool = True, args: dict[str, Any] | None = None) -> Path:
    """A small ms-swift GRPO run; with ``spike`` its KL jumps to 50 at step 60 (a kl_spike
    finding, so the report draws charts for it)."""
    import math

    from logwriters import write_swift_run

    rows = []
    for step in range(1, 101):
        kl = 0.01 + 0.002 * math.sin(step)
        if spike and step == 60:
            kl = 50.0
        rows.append((step, {"loss": 0.5 + 0.01 * math.cos(step), "kl": kl, "reward": 0.5}))
    return write_swift_run(out, rows, 100, args=args if args is not None else {"beta": 0.04})
