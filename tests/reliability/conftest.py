"""Shared checks of the reliability tests: the CLI contract on hostile input."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from trainlens.cli import app

sys.path.insert(0, str(Path(__file__).parent))  # helpers shared by the tests of this folder

Cli = Callable[..., Result]


@pytest.fixture()
def cli() -> Cli:
    """``cli("metrics", path)``: runs a command in-process and asserts the contract: exit 0/1/2,
    no traceback (an internal error is exit 3)."""

    def invoke(*args: str | Path, codes: tuple[int, ...] = (0, 1, 2)) -> Result:
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code in codes, (result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    return invoke
