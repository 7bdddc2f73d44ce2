"""Instability episodes: findings of different metric families that start close together
(the "KL → length / clipping → reward" chain) become one finding naming its members."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from trainlens.engine.registry import MAX_COUNT, Count, Count0, Range, detector
from trainlens.findings import EvidenceRow, Finding, Severity


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


#: A point of a watched series joins an episode when it moved this many times its own
#: point-to-point noise (and by at least ``JUMP_REL`` of its level) from the median of the
#: ``JUMP_BEFORE`` points before the episode.
JUMP_K, JUMP_REL, JUMP_BEFORE = 8.0, 0.25, 20
JUMP = "jump"  # the rule id of a point member: no rule reported it


@dataclass(frozen=True)
class Watched:
    """A series an episodic rule reads: its rule's family, metric name, key and points."""

    family: str
    metric: str
    key: str
    steps: np.ndarray
    values: np.ndarray
    direction: str | None = None  # "up": higher is better (only a fall is an anomaly), "down"


def jumps(
    run: str, watched: Sequence[Watched], onsets: Sequence[int], span: float
) -> list[Finding]:
    """Single points that belong to an episode although no rule reported them (a GRPO loss that
    carries beta*KL and goes negative, so no loss rule reads it; a one-point length jump): for
    each watched series, the points within ``span`` steps after an onset that moved from the
    median of the points before that onset by ≥ ``JUMP_K`` × their noise and ≥ ``JUMP_REL`` ×
    their level, in the direction that is worse for it (a metric with a ``direction`` moves away
    from better; others either way). One Finding per series (rule ``jump``, from the first such
    point, its peak the furthest one, its family in ``params``)."""
    out: list[Finding] = []
    for w in watched:
        for onset in sorted(set(onsets)):
            before = w.values[w.steps < onset][-JUMP_BEFORE:]
            at = np.flatnonzero((w.steps >= onset) & (w.steps <= onset + span))
            before = before[np.isfinite(before)]
            if len(before) < 5 or not len(at):
                continue
            level = float(np.median(before))
            d = np.diff(before)
            noise = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0)
            dev = w.values[at] - level  # away from better: a rise of a lower-is-better one
            dev = -dev if w.direction == "up" else dev if w.direction == "down" else np.abs(dev)
            with np.errstate(invalid="ignore"):
                moved = at[dev >= max(JUMP_K * noise, JUMP_REL * abs(level), 1e-12)]
            if not len(moved):
                continue
            p = int(at[int(np.nanargmax(dev))])
            out.append(
                Finding(
                    rule=JUMP,
                    severity=Severity.WARNING,
                    run=run,
                    metric=w.metric,
                    key=w.key,
                    start_step=int(w.steps[moved[0]]),
                    end_step=int(w.steps[moved[-1]]),
                    peak_step=int(w.steps[p]),
                    peak_value=float(w.values[p]),
                    baseline=level,
                    params={"family": w.family},
                )
            )
            break  # one point per series
    return out


def episode_findings(
    members: Sequence[Finding],
    families: Mapping[str, str],
    rule: str,
    severity: Any,
    params: Mapping[str, Any],
    interval: float,
    start_values: Sequence[float | None] | None = None,
    extras: Sequence[Finding] = (),
) -> list[Finding]:
    """Run the episode pass over one run's findings (``families``: rule id → family). The
    evidence has one row per member: its start step, its metric and ``start_values`` (the
    member's value at that step; NaN when not known), so the table matches the episode's step
    range. ``extras`` (:func:`jumps`) join a group of findings they fall in, on a series none of
    its members is about, as point members; they never make a group by themselves."""
    events = [Event(f.start_step, families.get(f.rule, "other")) for f in members]
    groups = co_occurrence(events, **params, interval=interval)
    span = max(float(params.get("window", 50)), float(params.get("points", 10)) * interval)
    values: list[float | None] = list(start_values) if start_values else [None] * len(members)
    members = list(members)
    for group in groups:
        first = min(members[i].start_step for i in group)
        keys = {members[i].key for i in group}
        for x in extras:
            if first <= x.start_step <= first + span and x.key not in keys:
                keys.add(x.key)
                members.append(x)
                values.append(x.peak_value)
                group.append(len(members) - 1)
    out = []
    for group in groups:
        rank = {fam.strip(): i for i, fam in enumerate(str(params.get("order", "")).split(","))}
        order = sorted(
            group,
            key=lambda i: (
                members[i].start_step,
                rank.get(_family(members[i], families), len(rank)),
                members[i].rule,
            ),
        )
        found = [members[i] for i in order]
        at_start = [values[i] for i in order]
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
            fam = _family(f, families)
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


def _family(f: Finding, families: Mapping[str, str]) -> str:
    """A member's family: its rule's, or for a point member the family it carries."""
    return families.get(f.rule) or str(f.params.get("family", "other"))
