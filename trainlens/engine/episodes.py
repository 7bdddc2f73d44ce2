"""Instability episodes: findings of different metric families that start close together
(the "KL → length / clipping → reward" chain) become one finding naming its members."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from trainlens.engine.registry import MAX_COUNT, Count, Count0, Range, detector
from trainlens.findings import EvidenceRow, Finding


@dataclass(frozen=True)
class Event:
    """The onset step of one finding and the family of its rule."""

    step: int
    family: str


@detector(outputs=("chain", "families", "n_members", "together", "onset_step"), post=True)
def co_occurrence(
    events: Sequence[Event],
    *,
    window: Count0 = 50,
    points: Count0 = 10,
    min_families: Count = 2,
    min_members: Annotated[int, Range(2, MAX_COUNT)] = 2,
    order: str = "",
    interval: float = 1.0,
) -> list[list[int]]:
    """Groups of events whose onsets lie within ``window`` steps (or ``points`` logging
    intervals, whichever is wider) of the group's first onset, with ≥ ``min_members`` events
    from ≥ ``min_families`` families. ``order`` (comma-separated families) only orders members
    that start at the same step; see :func:`episode_findings`. Returns lists of event indices."""
    if not events:
        return []
    span = max(float(window), points * interval)
    steps = np.array([e.step for e in events])
    by_step = np.argsort(steps, kind="stable")
    groups: list[list[int]] = []
    current: list[int] = []
    first = 0.0
    for i in by_step:  # one pass over findings (a handful), not over points
        if current and steps[i] - first > span:
            groups.append(current)
            current = []
        if not current:
            first = float(steps[i])
        current.append(int(i))
    groups.append(current)
    return [
        g
        for g in groups
        if len(g) >= min_members and len({events[i].family for i in g}) >= min_families
    ]


def episode_findings(
    members: Sequence[Finding],
    families: Mapping[str, str],
    rule: str,
    severity: Any,
    params: Mapping[str, Any],
    interval: float,
    start_values: Sequence[float | None] | None = None,
) -> list[Finding]:
    """Run the episode pass over one run's findings (``families``: rule id → family). The
    evidence has one row per member: its start step, its metric and ``start_values`` (the
    member's value at that step; NaN when not known), so the table matches the episode's step
    range."""
    events = [Event(f.start_step, families.get(f.rule, "other")) for f in members]
    groups = co_occurrence(events, **params, interval=interval)
    out = []
    for group in groups:
        rank = {fam.strip(): i for i, fam in enumerate(str(params.get("order", "")).split(","))}
        order = sorted(
            group,
            key=lambda i: (
                members[i].start_step,
                rank.get(families.get(members[i].rule, "other"), len(rank)),
                members[i].rule,
            ),
        )
        found = [members[i] for i in order]
        at_start = [start_values[i] if start_values else None for i in order]
        first = found[0]
        start = min(f.start_step for f in found)
        end = max(f.end_step for f in found)
        together = all(f.start_step == start for f in found)
        chain: list[str] = []
        for f in found:
            if f.metric not in chain:
                chain.append(f.metric)
        fams: list[str] = []
        for f in found:
            fam = families.get(f.rule, "other")
            if fam not in fams:
                fams.append(fam)
        evidence = tuple(
            EvidenceRow(
                step=f.start_step,
                value=float("nan") if value is None else float(value),
                change=None,
                metric=f.metric,
            )
            for f, value in zip(found, at_start)
        )
        out.append(
            Finding(
                rule=rule,
                severity=severity,
                run=first.run,
                metric=first.metric,
                key=first.key,
                start_step=start,
                end_step=end,
                peak_step=min(max(first.peak_step, start), end),
                peak_value=first.peak_value,
                baseline=first.baseline,
                evidence=evidence,
                params={
                    **params,
                    # members that start at the same step are in the fixed family order
                    # (likely cause first), not in time order: no arrows then
                    "chain": (", " if together else " → ").join(chain),
                    "together": together,
                    "onset_step": start,
                    "families": tuple(fams),  # joined per language by render_message
                    "n_members": len(found),
                },
                members=tuple(f"{f.rule}@{f.metric}" for f in found),
            )
        )
    return out
