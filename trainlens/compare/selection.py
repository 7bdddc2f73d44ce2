"""Which score metric the runs are compared on, and which way is better.

``select_metric`` honours ``--metric`` (canonical or raw name) or picks, in the order of
:data:`SCORE_ORDER`, the first candidate every run logs (else the one most runs log, when at least
two do). ``resolve_score`` finds the raw key one run logs it under.

The default order, and why:

1. ``eval_score`` as a validation **score or reward** (verl ``val-core/...``, ms-swift
   ``eval_reward``): the task's own measure of quality;
2. ``eval_loss``: held-out loss, where overfitting shows first (an SFT run's eval token accuracy
   often stays flat while its eval loss climbs);
3. ``eval_score`` as an **accuracy** (``eval_acc``, ``eval_token_acc``,
   ``eval_rewards/accuracies``...);
4. ``reward``: the training reward of RL runs without a validation set.

A training or policy loss is never chosen by default: it is not a measure of quality (a PPO / GRPO
surrogate loss says nothing about how good the policy is) and it is not comparable across runs.
Pass ``--metric loss`` to compare on it anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlens.compare.model import Note
from trainlens.errors import TrainlensError
from trainlens.run import Run


@dataclass(frozen=True)
class Candidate:
    """A default score metric: a canonical name and, for ``eval_score``, which of its keys
    (``kind`` "score": not an accuracy; "accuracy": an accuracy; None: any)."""

    name: str
    kind: str | None = None

    @property
    def label(self) -> str:
        """``eval_score``, ``eval_score (accuracy)``."""
        return f"{self.name} ({self.kind})" if self.kind == "accuracy" else self.name


#: Score metrics tried in this order when ``metric`` is not given (see the module docstring).
SCORE_ORDER: tuple[Candidate, ...] = (
    Candidate("eval_score", "score"),
    Candidate("eval_loss"),
    Candidate("eval_score", "accuracy"),
    Candidate("reward"),
)
#: The canonical names of :data:`SCORE_ORDER`, in order, without repeats.
SCORE_CANDIDATES: tuple[str, ...] = tuple(dict.fromkeys(c.name for c in SCORE_ORDER))
#: The evaluation candidates: besides the one compared on, each is checked too (as notes).
EVAL_CANDIDATES: tuple[Candidate, ...] = SCORE_ORDER[:3]

_ACCURACY = re.compile(r"(?<![a-z])acc(uracy|uracies)?(?![a-z])")


def is_accuracy(key: str) -> bool:
    """True for accuracy-like keys: ``eval_acc``, ``eval_token_acc``, ``eval/accuracy``."""
    return _ACCURACY.search(key.lower()) is not None


@dataclass(frozen=True)
class Selection:
    """What ``select_metric`` decided."""

    metric: str | None  # the name compared on (None: nothing is compared)
    higher: bool
    notes: list[Note]
    candidate: Candidate | None = None  # the default candidate chosen (None with --metric)
    shared: bool = True  # every run logs the metric


def select_metric(runs: Sequence[Run], metric: str | None) -> Selection:
    """The metric to compare on, its direction and the notes that explain both. Raises
    :class:`TrainlensError` for a ``metric`` no run has."""
    notes: list[Note] = []
    candidate: Candidate | None = None
    if metric is not None:
        having = [run for run in runs if resolve_score(run, metric)[0]]
        if not having:
            available = sorted({c for run in runs for c in run.canonical_names})
            raise TrainlensError(
                f"no run has a metric named {metric!r} (canonical or raw); "
                f"canonical metrics found: {', '.join(available) or 'none'}"
            )
        chosen: str | None = metric
        shared = len(having) == len(runs)
        notes.append(Note("metric_user", {"metric": metric}))
        if not shared:
            without = [run.name for run in runs if run not in having]
            notes.append(Note("metric_not_shared", {"metric": metric, "without": without}))
    else:
        order = [c.label for c in SCORE_ORDER]
        logged = {c: [run.name for run in runs if candidate_key(run, c)] for c in SCORE_ORDER}
        candidate = _choose(logged, len(runs))
        chosen = candidate.name if candidate else None
        shared = candidate is not None and len(logged[candidate]) == len(runs)
        if candidate is None:
            present = {c.label: names for c, names in logged.items() if names}
            if present:
                notes.append(
                    Note(
                        "metric_unshared",
                        {"logged": {k: ", ".join(v) for k, v in present.items()}},
                    )
                )
            else:
                notes.append(Note("metric_none", {"candidates": order}))
        else:
            notes.append(
                Note(
                    "metric_default",
                    {
                        "metric": candidate.label,
                        "runs": len(logged[candidate]),
                        "total": len(runs),
                        "candidates": order,
                    },
                )
            )
            if not shared:
                notes.append(
                    Note(
                        "metric_not_shared",
                        {
                            "metric": candidate.label,
                            "without": [r.name for r in runs if r.name not in logged[candidate]],
                        },
                    )
                )
            before = SCORE_ORDER[: SCORE_ORDER.index(candidate)]
            partial = [c.label for c in before if logged[c]]
            if partial:
                notes.append(Note("metric_partial", {"metrics": partial, "chosen": chosen}))
    higher, assumed = _direction(runs, chosen)
    if chosen is not None and not higher:
        notes.append(Note("lower_is_better", {"metric": chosen}))
    if assumed and chosen is not None:
        notes.append(Note("direction_assumed", {"metric": chosen}))
    return Selection(chosen, higher, notes, candidate, shared)


def candidate_key(run: Run, candidate: Candidate) -> str | None:
    """The raw key ``run`` logs ``candidate`` under, with at least one finite value."""
    for key in run.keys_for(candidate.name):
        if candidate.kind is not None and (candidate.kind == "accuracy") != is_accuracy(key):
            continue
        arrays = run.arrays(key)
        if arrays is not None and np.isfinite(arrays[1]).any():
            return key
    return None


def resolve_score(run: Run, name: str) -> tuple[str | None, Note | None]:
    """The raw key to read for ``name`` in ``run``; a raw key missing from this run falls back to
    its canonical name (another framework's key for the same thing), with a note."""
    key = run.resolve(name)
    if key is not None:
        return key, None
    canonical = run.canonical(name)
    if canonical is not None and canonical != name:
        key = run.resolve(canonical)
        if key is not None:
            return key, Note(
                "metric_key_fallback", {"requested": name, "key": key, "canonical": canonical}
            )
    return None, None


def _choose(logged: dict[Candidate, list[str]], total: int) -> Candidate | None:
    """The first candidate every run logs; else the one most runs log, if two or more do
    (earlier wins ties); with a single run, the first it logs."""
    best: Candidate | None = None
    for cand in SCORE_ORDER:
        count = len(logged[cand])
        if count == total and count:
            return cand
        if count >= 2 and (best is None or count > len(logged[best])):
            best = cand
    return best


def _canonical_of(runs: Sequence[Run], name: str) -> str:
    for run in runs:
        if name in run.canonical_names:
            return name
        key = run.resolve(name)
        if key is not None:
            return run.canonical(key) or name
    return runs[0].canonical(name) or name


def _direction(runs: Sequence[Run], name: str | None) -> tuple[bool, bool]:
    """(higher_is_better, assumed): from the alias table, else guessed from the name."""
    if name is None:
        return True, False
    canonical = _canonical_of(runs, name)
    direction = runs[0].info(canonical).direction
    if direction is not None:
        return direction != "down", False
    lowered = name.lower()
    if any(w in lowered for w in ("loss", "perplexity", "ppl", "error", "wer")):
        return False, False
    return True, True
