"""Per-token head outputs → sample scores (EOS included and excluded) → batch summary.
Plain numpy: no torch here, so tests and renderers can use it without the replay extra."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from trainlens.replay.encode import Encoded

#: A pair whose teacher − student gap is below this is "hard" (the discriminator barely
#: separates it).
HARD_GAP = 0.1


class Aggregate(str, Enum):
    """How a value head's per-token values become one score."""

    mean = "mean"
    sum = "sum"
    last = "last"


@dataclass(frozen=True)
class SampleScore:
    """One scored sample. ``score`` is the variant the run uses (``include_eos``);
    ``score_without_eos`` is None when the response is nothing but EOS."""

    id: str
    role: str | None
    line: int
    step: int | None
    n_tokens: int  # response tokens, EOS included
    n_eos: int  # trailing EOS tokens of the response
    score_with_eos: float
    score_without_eos: float | None
    score: float | None
    gap: float | None = None  # teacher − student of the sample's pair


@dataclass(frozen=True)
class IdenticalGroup:
    """Samples whose texts are identical, or identical up to a trailing EOS (indices into the
    scored samples), and how far apart their scores are."""

    members: tuple[int, ...]
    gap_with_eos: float
    gap_without_eos: float | None
    gap: float | None  # of ``score``


@dataclass(frozen=True)
class ScoreSummary:
    """The batch at a glance (None where the batch has nothing to compute it from)."""

    n_samples: int
    n_pairs: int
    d_acc: float | None
    mean_gap: float | None
    hard_pair_share: float | None
    length_score_corr: float | None
    identical_text_max_gap: float | None


def aggregate_scores(
    values: np.ndarray, enc: Encoded, head: str, aggregate: Aggregate
) -> tuple[float, float | None]:
    """(score with EOS, score without the trailing EOS tokens) of one sample from its
    per-token head outputs: the reward head reads the last response token; a value head
    aggregates over the response tokens."""
    response = values[enc.prompt_len :]
    kept = response[: len(response) - enc.n_eos]
    if head == "reward":
        return float(response[-1]), (float(kept[-1]) if len(kept) else None)
    return _reduce(response, aggregate), (_reduce(kept, aggregate) if len(kept) else None)


def _reduce(values: np.ndarray, aggregate: Aggregate) -> float:
    if aggregate is Aggregate.sum:
        return float(values.sum())
    if aggregate is Aggregate.last:
        return float(values[-1])
    return float(values.mean())


def with_pair_gaps(samples: Sequence[SampleScore]) -> list[SampleScore]:
    """The samples with ``gap`` set on both members of every fully scored pair."""
    gaps = {key: g for key, g in _pair_gaps(samples)}
    out = []
    for s in samples:
        gap = gaps.get((s.line, s.id)) if s.role is not None else None
        out.append(s if gap is None else replace(s, gap=gap))
    return out


def _pair_gaps(samples: Sequence[SampleScore]) -> list[tuple[tuple[int, str], float]]:
    members: dict[tuple[int, str], dict[str, SampleScore]] = {}
    for s in samples:
        if s.role is not None:
            members.setdefault((s.line, s.id), {})[s.role] = s
    out = []
    for key, roles in members.items():
        t, st = roles.get("teacher"), roles.get("student")
        if t is None or st is None or t.score is None or st.score is None:
            continue
        out.append((key, t.score - st.score))
    return out


def identical_groups(
    samples: Sequence[SampleScore], encoded: Sequence[Encoded]
) -> list[IdenticalGroup]:
    """Groups of two or more samples whose prompt and response are identical up to a trailing
    EOS, largest score gap (EOS included) first."""
    by_key: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
    for i, enc in enumerate(encoded):
        by_key.setdefault(enc.text_key, []).append(i)
    out = []
    for members in by_key.values():
        if len(members) < 2:
            continue
        out.append(
            IdenticalGroup(
                members=tuple(members),
                gap_with_eos=_spread([samples[i].score_with_eos for i in members]) or 0.0,
                gap_without_eos=_spread([samples[i].score_without_eos for i in members]),
                gap=_spread([samples[i].score for i in members]),
            )
        )
    return sorted(out, key=lambda g: -g.gap_with_eos)


def _spread(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return max(finite) - min(finite) if len(finite) >= 2 else None


def length_score_corr(samples: Sequence[SampleScore]) -> float | None:
    """Pearson r between response length and score; None for fewer than 3 samples or when
    either is constant."""
    pts = [(s.n_tokens, s.score) for s in samples if s.score is not None and math.isfinite(s.score)]
    if len(pts) < 3:
        return None
    x = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def summarize(samples: Sequence[SampleScore], groups: Sequence[IdenticalGroup]) -> ScoreSummary:
    """Discriminator accuracy, gaps, hard pairs, length correlation, identical-text gap."""
    gaps = np.array([g for _, g in _pair_gaps(samples)], dtype=float)
    n_pairs = len(gaps)
    identical = [g.gap for g in groups if g.gap is not None]
    return ScoreSummary(
        n_samples=len(samples),
        n_pairs=n_pairs,
        d_acc=float((gaps > 0).mean()) if n_pairs else None,
        mean_gap=float(gaps.mean()) if n_pairs else None,
        hard_pair_share=float((gaps < HARD_GAP).mean()) if n_pairs else None,
        length_score_corr=length_score_corr(samples),
        identical_text_max_gap=max(identical) if identical else None,
    )
