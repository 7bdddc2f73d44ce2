"""Makes the rule case builders (``tests/rules/rulecases.py``) importable by the engine tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rules"))
