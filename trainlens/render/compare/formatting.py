"""Numbers and config values as ``trainlens compare`` prints them, the same in every language."""

from __future__ import annotations

import json
from typing import Any

from trainlens.report.fmt import num as report_num

DASH = "—"
_MAX_CELL = 60


def num(x: float | None) -> str:
    """Compact number: the report's formatter (one for every output), ``—`` when unknown."""
    if x is None:
        return DASH
    text = report_num(x)
    return "0" if text == "-0" else text


def pct(x: float | None, *, signed: bool = False) -> str:
    """A fraction as a whole percentage (``74%``; ``+12%`` with ``signed``)."""
    if x is None:
        return DASH
    value = x * 100
    text = f"{value:+.0f}%" if signed else f"{value:.0f}%"
    return "0%" if text in ("+0%", "-0%") else text


def change(x: float | None) -> str:
    """A relative change: ``-37%``, ``+45%``, or ``×8.0`` from a doubling on."""
    if x is not None and x >= 1:
        ratio = 1 + x
        return f"×{ratio:.1f}" if ratio < 100 else f"×{ratio:,.0f}"
    return pct(x, signed=True)


def plain(value: Any) -> str:
    """A config value in one short cell: numbers compact, lists and dicts as JSON, cut at 60."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return num(value)
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
