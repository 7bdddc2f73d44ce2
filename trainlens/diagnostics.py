"""Warnings about bad input: readers collect them instead of raising."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadWarning:
    """A problem found while reading: ``source`` is the file, ``message`` names the position."""

    source: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "message": self.message}

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


#: Per file, at most this many warnings are shown one by one; the rest are summarised.
MAX_WARNINGS_PER_FILE = 3


def condense(warnings: list[ReadWarning], limit: int = MAX_WARNINGS_PER_FILE) -> list[ReadWarning]:
    """Keep the first ``limit`` warnings of each file and summarise the rest in one more, so a
    binary file named ``logging.jsonl`` gives four lines, not thousands."""
    by_source: dict[str, list[ReadWarning]] = {}
    for w in warnings:
        by_source.setdefault(w.source, []).append(w)
    out: list[ReadWarning] = []
    for source, items in by_source.items():
        out.extend(items[:limit])
        rest = items[limit:]
        if rest:
            last = rest[-1].message.split(":", 1)[0]
            out.append(
                ReadWarning(
                    source,
                    f"{len(rest)} more problem(s) in this file, the last at {last}",
                )
            )
    return out
