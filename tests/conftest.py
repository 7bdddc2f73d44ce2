"""Suite-wide set-up: the result cache lives in a temporary folder, never in the user's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TRAINLENS_CACHE_DIR", str(tmp_path_factory.mktemp("trainlens-cache")))
    mp.delenv("TRAINLENS_NO_CACHE", raising=False)
    yield
    mp.undo()
