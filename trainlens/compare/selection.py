"""Which score metric the runs are compared on, and which way is better.

``select_metric`` honours ``--metric`` (canonical or raw name) or picks the first of
:data:`SCORE_CANDIDATES` the runs have; ``resolve_score`` finds the raw key one run logs it under.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainlens.compare.model import Note
from trainlens.errors import TrainlensError
from trainlens.run import Run

#: Score metrics tried in order when ``metric`` is not given: validation score (verl val-core,
#: ms-swift eval_reward...), training reward / raw score, eval loss, training loss.
SCORE_CANDIDATES = ("eval_score", "reward", "eval_loss", "loss")


def select_metric(runs: Sequence[Run], metric: str | None) -> tuple[str | None, bool, list[Note]]:
    """``(metric, higher_is_better, notes)``: the metric to compare on (None when no run has a
    candidate), its direction and the notes that explain both. Raises :class:`TrainlensError`
    for a ``metric`` no run has."""
    notes: list[Note] = []
    if metric is not None:
        if not any(resolve_score(run, metric)[0] for run in runs):
            available = sorted({c for run in runs for c in run.canonical_names})
            raise TrainlensError(
                f"no run has a metric named {metric!r} (canonical or raw); "
                f"canonical metrics found: {', '.join(available) or 'none'}"
            )
        chosen: str | None = metric
        notes.append(Note("metric_user", {"metric": metric}))
    else:
        chosen, count = _choose_metric(runs)
        partial = (
            [
                c
                for c in SCORE_CANDIDATES[: SCORE_CANDIDATES.index(chosen)]
                if any(run.resolve(c) is not None for run in runs)
            ]
            if chosen
            else []
        )
        if chosen is None:
            notes.append(Note("metric_none", {"candidates": list(SCORE_CANDIDATES)}))
        else:
            notes.append(
                Note(
                    "metric_default",
                    {
                        "metric": chosen,
                        "runs": count,
                        "total": len(runs),
                        "candidates": list(SCORE_CANDIDATES),
                    },
                )
            )
        if partial:
            notes.append(Note("metric_partial", {"metrics": partial, "chosen": chosen}))
    higher, assumed = _direction(runs, chosen)
    if chosen is not None and not higher:
        notes.append(Note("lower_is_better", {"metric": chosen}))
    if assumed and chosen is not None:
        notes.append(Note("direction_assumed", {"metric": chosen}))
    return chosen, higher, notes


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


def _choose_metric(runs: Sequence[Run]) -> tuple[str | None, int]:
    """The first candidate every run has; else the one most runs have (earlier wins ties)."""
    best: tuple[str | None, int] = (None, 0)
    for cand in SCORE_CANDIDATES:
        count = sum(run.resolve(cand) is not None for run in runs)
        if count == len(runs):
            return cand, count
        if count > best[1]:
            best = (cand, count)
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
