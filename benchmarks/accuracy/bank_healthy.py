"""Hard healthy runs for the accuracy bank: nothing is wrong, yet a naive rule would fire
(chronic truncation by design, KL off, constant LR, noisy or sparse binary rewards, throughput
dips at save steps, warm-up spikes, resumed runs, slow drifts)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from bank_profiles import PROFILES, Series
from bank_scenarios import (
    MIN_POINTS,
    NOISE,
    Scenario,
    _pick_format,
    _pick_shape,
    add_mismatch_series,
)


def healthy_run(
    kind: str, i: int, seed: int, max_n: int, build: Callable[[Series, np.random.Generator], None]
) -> Callable[[str], Scenario]:
    def make(profile: str) -> Scenario:
        rng = np.random.default_rng([seed, i, sum(map(ord, kind))])
        n, every = _pick_shape(rng, profile, max_n, MIN_POINTS[profile])
        noise = float(rng.choice(NOISE))
        start = 101 if kind == "resumed" else 1
        series = PROFILES[profile](n, every, noise, int(rng.integers(1 << 30)), start=start)
        build(series, rng)
        fmt = _pick_format(rng, profile, n // every * len(series), every)
        if kind == "kl_off":
            fmt = "swift_v3"
        name = f"healthy-{kind}-{i:02d}-{profile}-{fmt}-n{n}-e{every}"
        config = {"beta": 0.0} if kind == "kl_off" else None
        return Scenario(
            name, profile, fmt, series, [], every, config=config, note=f"noise x{noise}"
        )

    return make


def _set(key: str, fn: Callable[[np.ndarray, np.random.Generator], np.ndarray]):
    def build(s: Series, rng: np.random.Generator) -> None:
        if key in s:
            steps, v = s[key]
            s[key] = (steps, fn(v.astype(float), rng))

    return build


def _chain(*builds: Callable[[Series, np.random.Generator], None]):
    def build(s: Series, rng: np.random.Generator) -> None:
        for b in builds:
            b(s, rng)

    return build


def _sparse_binary(s: Series, rng: np.random.Generator) -> None:
    """Binary rewards, small groups: many zero-std groups, tiny gradients on those steps."""
    steps, _ = s["reward_std"]
    m = len(steps)
    zero = rng.random(m) < rng.uniform(0.25, 0.45)
    s["reward_std"] = (steps, np.where(zero, 0.0, np.abs(rng.normal(0.4, 0.05, m))))
    s["reward"] = (steps, rng.binomial(4, 0.35, m) / 4.0)
    s["frac_reward_zero_std"] = (
        steps,
        np.clip(np.where(zero, 0.45, 0.2) + rng.normal(0, 0.05, m), 0, 1),
    )
    gs, gv = s["grad_norm"]
    tiny = np.isin(gs, steps[zero])
    gv = gv.copy()
    gv[tiny] = np.exp(rng.normal(np.log(0.002), 0.5, tiny.sum()))
    s["grad_norm"] = (gs, gv)


def _eval_dips(s: Series, rng: np.random.Generator) -> None:
    key = "perf/throughput" if "perf/throughput" in s else None
    if key:
        steps, v = s[key]
        period = int(rng.integers(5, 30))
        v = v.copy()
        v[period - 1 :: period] *= rng.uniform(0.2, 0.5)
        s[key] = (steps, v)


def _warmup_spike(s: Series, rng: np.random.Generator) -> None:
    for key, f in (("loss", rng.uniform(5, 20)), ("grad_norm", rng.uniform(20, 120))):
        for k in (key, f"actor/{key}", f"critic/{key}_before_clip"):
            if k in s:
                steps, v = s[k]
                v = v.copy()
                v[0] = abs(v[0]) * f + (f if k.endswith("loss") else 0)
                s[k] = (steps, v)


def _healthy_mismatch(s: Series, rng: np.random.Generator) -> None:
    profile = "grpo" if "kl" in s else "ppo"
    add_mismatch_series(s, profile, rng)
    key = next(k for k in s if k.endswith("k3_kl"))
    steps, v = s[key]
    s[key] = (steps, v * np.linspace(1, rng.uniform(1.5, 3), len(v)))


HARD: dict[str, tuple[tuple[str, ...], Callable[[Series, np.random.Generator], None]]] = {
    "chronic_truncation": (
        ("grpo", "ppo"),
        _chain(
            _set(
                "completions/clipped_ratio",
                lambda v, r: np.clip(r.uniform(0.4, 0.6) + 0.05 * r.standard_normal(len(v)), 0, 1),
            ),
            _set(
                "response_length/clip_ratio",
                lambda v, r: np.clip(r.uniform(0.4, 0.6) + 0.05 * r.standard_normal(len(v)), 0, 1),
            ),
        ),
    ),
    "kl_off": (("grpo",), _set("kl", lambda v, r: np.zeros_like(v))),  # beta = 0 in args.json
    "constant_lr": (
        ("grpo", "sft"),
        _set("learning_rate", lambda v, r: np.full_like(v, float(r.choice([1e-6, 5e-6, 1e-5])))),
    ),
    "noisy_small_batch": (
        ("grpo",),
        _chain(
            _set("reward", lambda v, r: r.binomial(2, 0.5, len(v)) / 2.0 + 0.0 * v),
            _set("reward_std", lambda v, r: np.abs(r.normal(0.3, 0.2, len(v)))),
            _set("rewards/Accuracy/mean", lambda v, r: r.binomial(2, 0.5, len(v)) / 2.0),
        ),
    ),
    "sparse_binary": (("grpo",), _sparse_binary),
    "throughput_dips": (("ppo",), _eval_dips),
    "warmup_spike": (("grpo", "sft", "ppo", "critic"), _warmup_spike),
    "resumed": (("grpo", "sft", "ppo"), lambda s, r: None),
    "plain": (("grpo", "sft", "ppo", "critic"), lambda s, r: None),
    # the trainer-vs-rollout gap logged (verl rollout_corr/*, ms-swift rollout_correction/*),
    # noisy with single-step excursions and ESS dips, slowly doubling over the run
    "rollout_corr": (("ppo", "grpo"), lambda s, r: _healthy_mismatch(s, r)),
    "slow_drift": (
        ("grpo",),
        _chain(
            _set(
                "completions/mean_length",
                lambda v, r: v * np.linspace(1, r.uniform(1.5, 2.5), len(v)),
            ),
            _set("entropy", lambda v, r: v * np.linspace(1, r.uniform(0.75, 0.9), len(v))),
        ),
    ),
}
