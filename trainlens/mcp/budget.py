"""Answers sized for a context window: compact JSON, rounded floats, and lists (or a long text)
cut to a character budget with the cut said explicitly."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from trainlens.findings import json_safe

#: Characters of JSON one tool answer may take, unless the server is started with another.
DEFAULT_BUDGET = 12_000


def compact(value: Any) -> Any:
    """JSON-ready, floats to 6 significant digits (NaN/Inf as strings)."""
    value = json_safe(value)
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def fit(
    doc: dict[str, Any], budget: int, lists: Sequence[str] = (), text: str | None = None
) -> str:
    """``doc`` as compact JSON of at most ``budget`` characters: the named top-level ``lists``
    lose items from their end (the last named first) and ``text`` is cut, each cut recorded
    under ``truncated`` with what was kept, so an agent knows to narrow its request."""
    doc = compact(doc)
    out = dumps(doc)
    if len(out) <= budget:
        return out
    cuts: dict[str, Any] = {}
    doc["truncated"] = cuts
    for key in reversed(lists):
        items = doc.get(key)
        if not isinstance(items, list) or not items:
            continue
        lo, hi = 0, len(items)
        while lo < hi:  # the most items that still fit
            mid = (lo + hi + 1) // 2
            cuts[key] = {"kept": mid, "total": len(items)}
            if len(dumps({**doc, key: items[:mid]})) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cuts[key] = {"kept": lo, "total": len(items)}
        doc[key] = items[:lo]
        if len(dumps(doc)) <= budget:
            return dumps(doc)
    if text is not None and isinstance(doc.get(text), str):
        body: str = doc[text]
        lo, hi = 0, len(body)
        while lo < hi:  # the longest prefix that fits once escaped
            mid = (lo + hi + 1) // 2
            cuts[text] = {"kept_chars": mid, "total_chars": len(body)}
            if len(dumps({**doc, text: body[:mid]})) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cuts[text] = {"kept_chars": lo, "total_chars": len(body)}
        doc[text] = body[:lo]
        out = dumps(doc)
        if len(out) <= budget:
            return out
    return dumps(
        {
            "truncated": {"all": True, "chars": len(out)},
            "note": f"the answer ({len(out)} characters) does not fit the budget of {budget}; "
            "narrow the request",
        }
    )
