"""Fixtures shared by the replay tests: tiny saved models and a tokenizer, built once per
session on first use. Makes ``replay_fixtures`` importable."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay")


@pytest.fixture(scope="session")
def tokenizer_dir(replay_dir: Path) -> Path:
    from replay_fixtures import save_tokenizer

    return save_tokenizer(replay_dir / "tokenizer")


@pytest.fixture(scope="session")
def model_dir(replay_dir: Path) -> Callable[..., Path]:
    """``model_dir(kind, arch="qwen2", seed=0)``: a saved tiny model (``value``, ``reward``,
    ``lm``), built on first use."""
    from replay_fixtures import save_model

    built: dict[tuple[str, str, int], Path] = {}

    def get(kind: str, arch: str = "qwen2", seed: int = 0) -> Path:
        key = (kind, arch, seed)
        if key not in built:
            built[key] = save_model(replay_dir / f"{kind}-{arch}-{seed}", kind, arch, seed)
        return built[key]

    return get
