"""The fleet tests' logdir, written once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fleet_builders import write_logdir  # noqa: E402


@pytest.fixture(scope="session")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_logdir(tmp_path_factory.mktemp("fleet") / "logs")
