"""The literal strings every match of a regex must contain: a prefilter for scanning big text.

``bytes.find`` runs at memory speed; a regex that starts with a character class, a word boundary
or ``(?i)`` makes Python's ``re`` try every position of a block. :func:`required_literals`
reads a pattern's parse tree and returns a set of literals, one of which occurs in every match
(the longest run of literal characters at the top level, or the alternatives of a top-level
group whose branches are all literal), so a scanner looks for those first and runs the regex only
on the lines that hold one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:  # the parser of the standard library's ``re``; stable in what is used here since 3.0
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older layouts
    import sre_parse as _sre_parse  # type: ignore[no-redef]

#: Shorter literals hit too many lines to be worth it.
MIN_LITERAL = 3


@dataclass(frozen=True)
class Literals:
    """Strings one of which every match contains; ``folded``: compare lower-cased (``(?i)``)."""

    options: frozenset[bytes]
    folded: bool


def required_literals(pattern: str) -> Literals | None:
    """The literals every match of ``pattern`` holds, or None when there are none long enough
    (the caller then runs the regex itself)."""
    try:
        tree = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    folded = bool(tree.state.flags & re.IGNORECASE)
    best = _best(_sequence_options(list(tree)))
    if best is None:
        return None
    if folded:
        best = frozenset(o.lower() for o in best)
    # an option that holds another is implied by it: 'attempted loss scale' by 'loss scale'
    best = frozenset(o for o in best if not any(p != o and p in o for p in best))
    return Literals(best, folded)


def _best(candidates: list[frozenset[bytes]]) -> frozenset[bytes] | None:
    usable = [c for c in candidates if c and min(len(o) for o in c) >= MIN_LITERAL]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(o) for o in c), -len(c)))


def _sequence_options(items: list) -> list[frozenset[bytes]]:
    """Candidate literal sets of a sequence: each run of literal characters, and each group
    whose alternatives are all plain literals."""
    out: list[frozenset[bytes]] = []
    run = bytearray()
    for op, arg in items:
        name = str(op)
        if name == "LITERAL" and arg < 256:
            run.append(arg)
            continue
        if run:
            out.append(frozenset([bytes(run)]))
            run = bytearray()
        if name == "SUBPATTERN":
            sub = list(arg[-1])
            flags_on = arg[1] if len(arg) > 3 else 0
            if flags_on & re.IGNORECASE:
                continue  # a scoped (?i:...) is not handled: not a required literal
            alts = _alternatives(sub)
            if alts is not None:
                out.append(alts)
            else:
                out.extend(_sequence_options(sub))
        elif name == "BRANCH":
            alts = _branch_literals(arg[1])
            if alts is not None:
                out.append(alts)
    if run:
        out.append(frozenset([bytes(run)]))
    return out


def _alternatives(sub: list) -> frozenset[bytes] | None:
    if len(sub) == 1 and str(sub[0][0]) == "BRANCH":
        return _branch_literals(sub[0][1][1])
    return None


def _branch_literals(branches: list) -> frozenset[bytes] | None:
    """One literal per branch (each branch's best), or None when a branch has none."""
    options: set[bytes] = set()
    for branch in branches:
        candidates = _sequence_options(list(branch))
        best = _best(candidates)
        if best is None:
            return None
        options |= best
    return frozenset(options)
