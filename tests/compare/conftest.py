"""Shared fixtures of the compare tests: the seed scenario written once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compare_builders import SEED, seed_swift, write_verl_jsonl

from trainlens.load import load_runs


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three seed runs as ms-swift output dirs (args.json, checkpoint-N every 20 steps)."""
    return seed_swift(tmp_path_factory.mktemp("seed") / "grpo")


@pytest.fixture(scope="session")
def seed_runs(seed_dir: Path) -> list:
    result = load_runs(seed_dir)
    assert not result.warnings
    return result.runs


@pytest.fixture(scope="session")
def verl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed runs as verl file-logger runs ``<project>/<experiment>.jsonl`` with verl's
    ``checkpoints/<project>/<experiment>/global_step_N`` layout beside them."""
    base = tmp_path_factory.mktemp("verl")
    for spec in SEED:
        write_verl_jsonl(spec, base / "logs" / "math" / f"{spec.name}.jsonl")
        for step in range(20, 201, 20):
            (base / "checkpoints" / "math" / spec.name / f"global_step_{step}").mkdir(parents=True)
    return base
