"""Fuzz suite settings: ``TRAINLENS_FUZZ=fast`` (default, CI: under a minute in all) or ``long``
(``make fuzz``: thousands of cases, by hand); ``medium`` in between. The helpers of this folder
are importable."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("fuzz-fast", max_examples=12, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz-medium", max_examples=150, **_COMMON)
settings.register_profile("fuzz-long", max_examples=1500, **_COMMON)
