"""Makes ``rulecases`` (the per-rule case data) importable by the rule tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
