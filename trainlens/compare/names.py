"""Run names made unique when several inputs hold runs of the same name."""

from __future__ import annotations

from collections.abc import Sequence


def unique_names(items: Sequence[tuple[str, str]]) -> list[str]:
    """Run names made unique across several inputs. Each item is ``(name, qualified)``, where
    ``qualified`` prefixes the name with its input's name (``logdir/run``); a name that occurs
    more than once takes its qualified form, and a counter (``#2``) is added if that still
    collides. Order is kept."""
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    seen: set[str] = set()
    out: list[str] = []
    for name, qualified in items:
        new = name if counts[name] == 1 else qualified
        base, i = new, 2
        while new in seen:
            new = f"{base}#{i}"
            i += 1
        seen.add(new)
        out.append(new)
    return out
