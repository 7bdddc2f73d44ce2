"""The one check of what a log may use as a step: an integer in ``[0, MAX_STEP)``.

Every reader validates a step field here before it reaches an ``int64`` column, so a JSON array,
a text, ``1e300``, ``10**30`` or a negative number is a skipped record with a warning, never an
exception or a numpy ``RuntimeWarning``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Steps at or above this are not steps (every such step fits int64 and float64 arithmetic).
MAX_STEP = 2**53


def as_step(value: Any) -> int | None:
    """``value`` as a step: an int (not a bool), an integral finite float, or digits, in range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < MAX_STEP else None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and 0 <= value < MAX_STEP:
            return int(value)
        return None
    if isinstance(value, (str, bytes)) and 0 < len(value) <= 16 and value.isdigit():
        return as_step(int(value))
    return None


def step_mask(values: np.ndarray) -> np.ndarray:
    """Which floats of ``values`` are valid steps (NaN and out-of-range values are not)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(values) & (values >= 0) & (values < MAX_STEP) & (values == np.floor(values))
        )


def brief(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a warning about a bad field."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
