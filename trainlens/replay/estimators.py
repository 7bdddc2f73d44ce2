"""KL estimators and the training–inference mismatch, from per-token log-probs (numpy only).

Sign convention (Schulman's k1/k2/k3): with Δ = log p_ref − log p_policy on tokens sampled from
the policy, ``k1 = −Δ``, ``k2 = ½Δ²``, ``k3 = exp(Δ) − Δ − 1``. Each estimates KL(policy ‖ ref);
k1 is unbiased but can be negative, k2 is biased with low variance, k3 is unbiased and never
negative but grows exponentially where the reference is far more likely than the policy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimates:
    """Per-token estimators for one sample (arrays over its response tokens)."""

    delta: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    k3: np.ndarray


def kl_estimates(logp_policy: np.ndarray, logp_ref: np.ndarray) -> Estimates:
    """k1, k2, k3 per token from the two models' log-probs of the same tokens."""
    delta = np.asarray(logp_ref, dtype=float) - np.asarray(logp_policy, dtype=float)
    with np.errstate(over="ignore"):
        k3 = np.expm1(delta) - delta  # exp(Δ) − 1 − Δ, accurate for small Δ
    return Estimates(delta=delta, k1=-delta, k2=0.5 * delta**2, k3=k3)


def blowup_mask(est: Estimates, ratio: float) -> np.ndarray:
    """Tokens where k3 exceeds ``ratio`` × k2 (Δ ≠ 0)."""
    return (est.k2 > 0) & (est.k3 > ratio * est.k2)


@dataclass(frozen=True)
class Mismatch:
    """Sampler (rollout engine) vs policy (trainer) log-probs over the samples that carry
    them: per-token |log p_sampler − log p_policy| and the sequence importance ratio
    ``exp(Σ log p_policy − Σ log p_sampler)``."""

    n_samples: int
    n_tokens: int
    mean_abs: float
    max_abs: float
    ratio_min: float
    ratio_max: float
    log_ratio_std: float
    ratios: tuple[float, ...]  # per sample, in the order given
    worst: int  # index (into the samples given) of the ratio farthest from 1


def mismatch(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Mismatch | None:
    """``pairs``: (sampler log-probs, policy log-probs) per sample, over the same tokens."""
    if not pairs:
        return None
    diffs = [np.asarray(s, dtype=float) - np.asarray(p, dtype=float) for s, p in pairs]
    every = np.concatenate(diffs)
    if not len(every):
        return None
    log_ratios = np.array([-float(d.sum()) for d in diffs])
    with np.errstate(over="ignore"):
        ratios = np.exp(log_ratios)
    worst = int(np.argmax(np.abs(log_ratios)))
    return Mismatch(
        n_samples=len(pairs),
        n_tokens=len(every),
        mean_abs=float(np.abs(every).mean()),
        max_abs=float(np.abs(every).max()),
        ratio_min=float(ratios.min()),
        ratio_max=float(ratios.max()),
        log_ratio_std=float(log_ratios.std()) if len(log_ratios) > 1 else 0.0,
        ratios=tuple(float(r) for r in ratios),
        worst=worst,
    )


def finite_mean(values: np.ndarray) -> float | None:
    """Mean of the finite values, None when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def safe_float(x: float) -> float | None:
    return x if math.isfinite(x) else None
