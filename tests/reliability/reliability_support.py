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
