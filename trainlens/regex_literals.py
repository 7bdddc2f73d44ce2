"""The literal strings every match of a regex must contain: a prefilter for scanning big text.

``bytes.find`` runs at memory speed; a regex that starts with a character class, a word boundary
or ``(?i)`` makes Python's ``re`` try every position of a block. :func:`required_literals`
reads a pattern's parse tree and returns a set of literals, one of which occurs in every match
(the longest run of literal characters at the top level, or the alternatives of a top-level
group whose branches are all literal), so a scanner looks for those first and runs the regex only
on the lines that hold one. When every match starts a fixed distance before the literal
(``offset``), the regex is tried only there (``match`` at each occurrence), not searched along
the whole line.
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
    #: Every match starts exactly this many characters before the literal (None: not fixed),
    #: so a scanner can try the regex there only instead of searching the whole line.
    offset: int | None = None


def required_literals(pattern: str) -> Literals | None:
    """The literals every match of ``pattern`` holds, or None when there are none long enough
    (the caller then runs the regex itself)."""
    try:
        tree = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    folded = bool(tree.state.flags & re.IGNORECASE)
    best = _best(_sequence_options(list(tree), tree.state))
    if best is None:
        return None
    options = best.options
    if folded:
        options = frozenset(o.lower() for o in options)
    # an option that holds another is implied by it: 'attempted loss scale' by 'loss scale'
    reduced = frozenset(o for o in options if not any(p != o and p in o for p in options))
    offset = best.offset if reduced == options and pattern.isascii() else None
    return Literals(reduced, folded, offset)


@dataclass(frozen=True)
class _Candidate:
    options: frozenset[bytes]
    offset: int | None  # fixed distance from the start of a match to the literal, when known


def _best(candidates: list[_Candidate]) -> _Candidate | None:
    usable = [c for c in candidates if c.options and min(map(len, c.options)) >= MIN_LITERAL]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(map(len, c.options)), -len(c.options)))


def _fixed_width(items: list, state: object) -> int | None:
    """The width of a sequence of parse items when it is fixed (min == max), else None."""
    if not items:
        return 0
    low, high = _sre_parse.SubPattern(state, list(items)).getwidth()
    return int(low) if low == high else None


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _sequence_options(items: list, state: object) -> list[_Candidate]:
    """Candidate literal sets of a sequence: each run of literal characters, and each group
    whose alternatives are all plain literals, with their fixed offset from the sequence's
    start when it has one."""
    out: list[_Candidate] = []
    run = bytearray()
    run_start = 0
    for index, (op, arg) in enumerate(items):
        name = str(op)
        if name == "LITERAL" and arg < 256:
            if not run:
                run_start = index
            run.append(arg)
            continue
        if run:
            out.append(_Candidate(frozenset([bytes(run)]), _fixed_width(items[:run_start], state)))
            run = bytearray()
        before = _fixed_width(items[:index], state)
        if name == "SUBPATTERN":
            sub = list(arg[-1])
            flags_on = arg[1] if len(arg) > 3 else 0
            if flags_on & re.IGNORECASE:
                continue  # a scoped (?i:...) is not handled: not a required literal
            alts = _alternatives(sub, state)
            if alts is not None:
                out.append(_Candidate(alts.options, _plus(before, alts.offset)))
            else:
                out.extend(
                    _Candidate(c.options, _plus(before, c.offset))
                    for c in _sequence_options(sub, state)
                )
        elif name == "BRANCH":
            alts = _branch_literals(arg[1], state)
            if alts is not None:
                out.append(_Candidate(alts.options, _plus(before, alts.offset)))
    if run:
        out.append(_Candidate(frozenset([bytes(run)]), _fixed_width(items[:run_start], state)))
    return out


def _alternatives(sub: list, state: object) -> _Candidate | None:
    if len(sub) == 1 and str(sub[0][0]) == "BRANCH":
        return _branch_literals(sub[0][1][1], state)
    return None


def _branch_literals(branches: list, state: object) -> _Candidate | None:
    """One literal per branch (each branch's best), or None when a branch has none; the offset
    is known when every branch's literal sits at the same fixed distance from its start."""
    options: set[bytes] = set()
    offsets: set[int | None] = set()
    for branch in branches:
        best = _best(_sequence_options(list(branch), state))
        if best is None:
            return None
        options |= best.options
        offsets.add(best.offset)
    offset = offsets.pop() if len(offsets) == 1 else None
    return _Candidate(frozenset(options), offset)


def first_match(
    pattern: re.Pattern[bytes], literals: Literals, line: bytes, text: bytes
) -> re.Match[bytes] | None:
    """The leftmost match of ``pattern`` in ``line`` (``text``: the line as the literals are
    compared, lower-cased when folded); with a known offset, tried only where a literal is."""
    if literals.offset is None:
        return pattern.search(line)
    starts: set[int] = set()
    for option in literals.options:
        pos = text.find(option)
        while pos >= 0:
            if pos >= literals.offset:
                starts.add(pos - literals.offset)
            pos = text.find(option, pos + 1)
    for start in sorted(starts):
        m = pattern.match(line, start)
        if m is not None:
            return m
    return None
