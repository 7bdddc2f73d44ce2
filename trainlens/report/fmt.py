"""Deterministic number and path formatting shared by the report model, templates and charts."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

DASH = "–"


def num(x: float | None, digits: int = 4) -> str:
    """A compact, stable rendering: ``19.6``, ``0.875``, ``95.21``, ``5e-5``, ``1.2e+06``."""
    if x is None:
        return DASH
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        mantissa, exp = f"{x:.{max(digits - 2, 1)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exp)}"
    if float(x).is_integer() or abs(x) >= 10**digits:  # 14910.3 → "14910", not "1.491e+04"
        return str(round(x))
    return f"{x:.{digits}g}"


def signed(x: float | None, digits: int = 4) -> str:
    """A change with an explicit sign: ``+30.37``, ``-0.5``; ``–`` when unknown."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    text = num(x, digits)
    return text if text.startswith("-") or text == "0" else "+" + text


def relative(change: float | None, before: float | None) -> str | None:
    """The change as a percentage of ``before`` (``+46.8%``); None when it means nothing."""
    if (
        change is None
        or before is None
        or not math.isfinite(change)
        or not math.isfinite(before)
        or abs(before) < 1e-12
    ):
        return None
    pct = 100.0 * change / abs(before)
    if abs(pct) >= 1e3:  # a change from near zero: the percentage says nothing
        return None
    return f"{pct:+.1f}%"


def display_path(path: str | Path, base: Path | None = None) -> str:
    """A path for the report: relative to ``base`` when inside it, else to the working directory
    when inside it, else as given if relative, else its last component (never absolute)."""
    p = Path(path)
    candidates = [b for b in (base, Path.cwd()) if b is not None]
    absolute = Path(os.path.abspath(p))
    for b in candidates:
        try:
            rel = absolute.relative_to(os.path.abspath(b))
        except ValueError:
            continue
        return rel.as_posix() if str(rel) != "." else os.path.basename(os.path.abspath(b))
    if not p.is_absolute():
        return p.as_posix()
    return p.name


def slug(text: str) -> str:
    """A file-name-safe form of a metric or run name: ``reward/format`` → ``reward-format``."""
    out = "".join(c if c.isalnum() or c in "._" else "-" for c in text)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-.") or "metric"


#: A chart's file name stem is at most this many UTF-8 bytes: far below the 255-byte limit of
#: common file systems, leaving room for a suffix and for CJK (3 bytes a character).
MAX_ASSET_STEM = 96


def asset_name(stem: str, suffix: str = ".png") -> str:
    """``stem + suffix`` with the stem bounded to :data:`MAX_ASSET_STEM` bytes: a longer stem
    keeps its start and ends with a short hash of the whole, so distinct long names stay
    distinct and the same name always gives the same file."""
    if len(stem.encode("utf-8")) <= MAX_ASSET_STEM:
        return stem + suffix
    digest = hashlib.sha1(stem.encode("utf-8")).hexdigest()[:10]
    head = stem
    while len(head.encode("utf-8")) > MAX_ASSET_STEM - len(digest) - 1:
        head = head[:-1]
    return f"{head.rstrip('-.')}-{digest}{suffix}"
