"""Healthy base runs for the accuracy bank, parameterised by length, logging interval, noise and
seed: GRPO (ms-swift / TRL keys), SFT with sparse eval, verl PPO (actor + critic) and a custom
teacher-vs-student critic warm-up. Series are ``{key: (steps, values)}`` as in
``trainlens.engine.memory.run_from_series``; the writers in ``generate.py`` put them on disk."""

from __future__ import annotations

import numpy as np

Series = dict[str, tuple[np.ndarray, np.ndarray]]

#: Keys a TRL GRPO run with ``num_iterations=2`` logs only on generation steps (every other step).
ROLLOUT_KEYS = (
    "reward",
    "reward_std",
    "rewards/",
    "frac_reward_zero_std",
    "completions/",
    "entropy",
)


def logged_steps(n: int, every: int, start: int = 1) -> np.ndarray:
    """Steps ``start .. start+n-1`` logged every ``every`` steps (the first step always)."""
    last = start + n - 1
    first = ((start + every - 1) // every) * every
    return np.unique(np.concatenate(([start], np.arange(max(first, start), last + 1, every))))


def cosine_lr(steps: np.ndarray, peak: float, warmup: int, total: int) -> np.ndarray:
    warm = np.minimum(1.0, steps / max(warmup, 1))
    prog = np.clip((steps - warmup) / max(total - warmup, 1), 0, 1)
    return np.where(steps < warmup, peak * warm, peak * 0.5 * (1 + np.cos(np.pi * prog)))


def throughput(rng: np.random.Generator, m: int, level: float, noise: float) -> np.ndarray:
    """±2 % x noise and one slow step (eval / checkpoint save) every 50 points."""
    x = level * (1 + rng.normal(0, 0.02 * noise, m))
    x[49::50] *= 0.3
    return np.abs(x)


def grpo(
    n: int, every: int, noise: float, seed: int, *, alt: bool = False, start: int = 1
) -> Series:
    """A healthy ms-swift/TRL GRPO run. ``alt``: rollout metrics only on every other logged step
    (TRL ``num_iterations=2``), with a non-zero PPO clip ratio (off-policy second iteration)."""
    rng = np.random.default_rng(seed)
    steps = logged_steps(n, every, start)
    m = len(steps)
    t = (steps - start + 1) / n
    grad = np.exp(rng.normal(np.log(0.4), 0.3 * noise, m))
    grad[: min(3, m)] *= np.array([6.0, 4.0, 2.5])[: min(3, m)]  # warm-up transient
    kl = (0.002 + 0.25 * t**1.2) * np.exp(rng.normal(0, 0.15 * noise, m))
    if start == 1:
        kl[0] = 0.0
    out: Series = {
        "loss": (steps, rng.normal(0.004, 0.012 * noise, m)),
        "grad_norm": (steps, grad),
        "learning_rate": (steps, cosine_lr(steps, 1e-6, max(n // 20, 1), n)),
        "kl": (steps, kl),
        "reward": (steps, 1.0 + 0.45 * t + rng.normal(0, 0.08 * noise, m)),
        "reward_std": (steps, np.abs(0.35 + rng.normal(0, 0.04 * noise, m))),
        "rewards/Format/mean": (steps, np.clip(0.93 + 0.04 * t + rng.normal(0, 0.02, m), 0, 1)),
        "rewards/Accuracy/mean": (
            steps,
            np.clip(0.45 + 0.3 * t + rng.normal(0, 0.06 * noise, m), 0, 1),
        ),
        "frac_reward_zero_std": (steps, np.clip(0.17 + rng.normal(0, 0.03 * noise, m), 0, 1)),
        "completions/mean_length": (steps, 240 + 30 * t + rng.normal(0, 8 * noise, m)),
        "completions/clipped_ratio": (
            steps,
            np.clip(0.02 + rng.gamma(2, 0.006 * noise, m), 0, 1),
        ),
        "clip_ratio/region_mean": (
            steps,
            np.abs(rng.normal(0.002, 0.001, m)) if alt else np.zeros(m),
        ),
        "entropy": (steps, 0.6 - 0.06 * t + rng.normal(0, 0.01 * noise, m)),
    }
    if alt:
        keep = np.arange(m) % 2 == 0
        for key in list(out):
            if key.startswith(ROLLOUT_KEYS):
                s, v = out[key]
                out[key] = (s[keep], v[keep])
    return out


def sft(n: int, every: int, noise: float, seed: int, *, start: int = 1) -> Series:
    """A healthy SFT run: epoch drops in the train loss, eval loss every ~n/12 steps."""
    rng = np.random.default_rng(seed)
    steps = logged_steps(n, every, start)
    m = len(steps)
    epoch = np.floor((steps - 1) / (n / 3))
    tau = max(n / 3, 1)
    loss = 2.2 * np.exp(-steps / tau) + 0.9 - 0.15 * epoch + rng.normal(0, 0.04 * noise, m)
    grad = np.exp(rng.normal(np.log(1.1), 0.25 * noise, m))
    ev_every = max(every, (n // 12) // every * every)
    ev_steps = np.arange(ev_every, start + n, ev_every)
    ev_steps = ev_steps[ev_steps >= start]
    ev = 1.5 + 0.3 * np.exp(-ev_steps / tau) + rng.normal(0, 0.004 * noise, len(ev_steps))
    return {
        "loss": (steps, loss),
        "grad_norm": (steps, grad),
        "learning_rate": (steps, cosine_lr(steps, 1e-4, max(n // 20, 1), n)),
        "token_acc": (steps, np.clip(0.5 + 0.25 * steps / n + rng.normal(0, 0.01, m), 0, 1)),
        "eval_loss": (ev_steps, ev),
    }


def ppo(n: int, every: int, noise: float, seed: int, *, start: int = 1) -> Series:
    """A healthy verl PPO run (GAE, actor and critic); dips in throughput at save steps."""
    rng = np.random.default_rng(seed)
    steps = logged_steps(n, every, start)
    m = len(steps)
    t = (steps - start + 1) / n
    return {
        "actor/pg_loss": (steps, rng.normal(0.0, 0.25 * noise, m)),
        "actor/ppo_kl": (steps, rng.normal(0.0005, 0.0012, m)),
        "actor/pg_clipfrac": (steps, np.abs(rng.normal(0.002, 0.0012 * noise, m))),
        "actor/entropy_loss": (steps, 0.03 + rng.normal(0, 0.003 * noise, m)),
        "actor/grad_norm": (steps, np.exp(rng.normal(np.log(2.2), 0.2 * noise, m))),
        "actor/kl_loss": (steps, (1e-4 + 0.05 * t) * np.exp(rng.normal(0, 0.1 * noise, m))),
        "critic/grad_norm": (steps, np.exp(rng.normal(np.log(13), 0.5 * noise, m))),
        "critic/vf_loss": (steps, np.abs(rng.normal(0.03, 0.02, m))),
        "critic/score/mean": (
            steps,
            np.clip(0.6 + 0.3 * t + rng.normal(0, 0.015 * noise, m), 0, 1),
        ),
        "response_length/mean": (steps, 130 + rng.normal(0, 4 * noise, m)),
        "response_length/clip_ratio": (steps, np.abs(rng.normal(0.008, 0.005, m))),
        "perf/throughput": (steps, throughput(rng, m, 350.0, noise)),
    }


def critic(n: int, every: int, noise: float, seed: int, *, start: int = 1) -> Series:
    """A healthy teacher-vs-student critic warm-up with ``critic/`` tags."""
    rng = np.random.default_rng(seed)
    steps = logged_steps(n, every, start)
    m = len(steps)
    t = (steps - start + 1) / n
    return {
        "critic/d_acc": (steps, 55 + 25 * t + rng.normal(0, 1.5 * noise, m)),
        "critic/score_diff": (steps, 1.6 + rng.normal(0, 0.15 * noise, m)),
        "critic/teacher_score_mean": (steps, 2.6 + rng.normal(0, 0.04 * noise, m)),
        "critic/student_score_mean": (steps, 1.0 + rng.normal(0, 0.05 * noise, m)),
        "critic/hard_sample_ratio": (steps, 16 + rng.normal(0, 2.0 * noise, m)),
        "critic/length_reward_corr": (steps, rng.normal(0, 0.05, m)),
        "critic/grad_norm_before_clip": (steps, np.exp(rng.normal(np.log(1.8), 0.3 * noise, m))),
        "critic/loss": (steps, 0.6 * np.exp(-steps / 20) + 0.08 + rng.normal(0, 0.01, m)),
    }


PROFILES = {"grpo": grpo, "sft": sft, "ppo": ppo, "critic": critic}
