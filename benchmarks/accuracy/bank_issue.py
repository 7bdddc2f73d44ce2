"""Fixed scenarios restating the failure classes seen on real runs (issue 12, "What was seen"):
each one the shape a person spots at a glance, labelled as a careful engineer would."""

from __future__ import annotations

import numpy as np
from bank_profiles import critic, grpo, ppo
from bank_scenarios import VAL_SCORE, Label, Scenario


def _early_reward_zero() -> Scenario:
    """Class 1: a reward that rises for 3 logged points and is then exactly 0 for 30."""
    s = grpo(33, 1, 1.0, 11)
    st = s["reward"][0]
    s["reward"] = (st, np.r_[0.2, 0.4, 0.6, np.zeros(len(st) - 3)])
    return Scenario(
        "issue-early-reward-zero-grpo-swift_v3",
        "grpo",
        "swift_v3",
        s,
        [Label("reward_collapse", 4, 33, "error", slack=2)],
    )


def _critic_student_falls() -> Scenario:
    """Class 1: the critic warm-up's ten steps: the student falls while the teacher wobbles."""
    s = critic(10, 1, 1.0, 12)
    st = s["critic/student_score_mean"][0]
    s["critic/student_score_mean"] = (
        st,
        np.array([1.03, 0.43, -0.12, -0.72, -0.94, -1.12, -0.90, -0.85, -0.64, -0.67]),
    )
    s["critic/teacher_score_mean"] = (
        st,
        np.array([1.24, 1.49, 1.83, 1.46, 1.31, 1.08, 1.00, 1.04, 0.96, 1.04]),
    )
    return Scenario(
        "issue-critic-student-falls-critic_tb",
        "critic",
        "critic_tb",
        s,
        [Label("score_collapse", 1, 10, "error", slack=2)],
    )


def _noisy_then_flat() -> Scenario:
    """Class 2: noisy around a high level, then settled far lower for 1,500 points."""
    s = grpo(3000, 1, 1.0, 13)
    st = s["reward"][0]
    rng = np.random.default_rng(13)
    half = len(st) // 2
    s["reward"] = (
        st,
        np.r_[rng.normal(1.2, 0.25, half), rng.normal(0.45, 0.02, len(st) - half)],
    )
    onset = int(st[half])
    return Scenario(
        "issue-noisy-then-flat-grpo-swift_v4",
        "grpo",
        "swift_v4",
        s,
        [Label("reward_collapse", onset, 3000, "error", slack=20)],
    )


def _grad_before_after_clip(upper: bool) -> Scenario:
    """Class 4 and 8: one spike logged before and after clipping (one quantity, one finding);
    clipping handled it, so a warning."""
    s = critic(200, 1, 1.0, 14 + upper)
    before_key = "critic/grad_norm_BEFORE_clip" if upper else "critic/grad_norm_before_clip"
    st, before = s.pop("critic/grad_norm_before_clip")
    before = before.copy()
    before[120] = 39.18
    s[before_key] = (st, before)
    s["critic/grad_norm_after_clip"] = (st, np.minimum(before, 5.0))
    name = "upper" if upper else "lower"
    return Scenario(
        f"issue-grad-before-after-clip-{name}-critic_tb",
        "critic",
        "critic_tb",
        s,
        [Label("grad_explosion", int(st[120]), int(st[120]), "warning", slack=2)],
    )


def _verl_tb_val_score() -> Scenario:
    """Class 5: verl's ``val-core/.../mean@1`` arrives as ``mean_1`` in event files."""
    s = ppo(300, 1, 1.0, 15)
    ev = np.arange(10, 301, 10)
    vals = np.r_[np.linspace(0.6, 0.9, 15), np.linspace(0.8, 0.5, 15)]
    s[VAL_SCORE] = (ev, vals)
    return Scenario(
        "issue-verl-tb-val-score-ppo-verl_tb",
        "ppo",
        "verl_tb",
        s,
        [Label("degradation_after_best", 150, 300, "warning", slack=10)],
    )


def _td3() -> Scenario:
    """Class 9: a custom TD3 agent: episode reward collapses, the actor loss runs to -1.4e4."""
    rng = np.random.default_rng(16)
    st = np.arange(100, 5001, 100)
    n = len(st)
    reward = np.r_[rng.normal(900, 60, n // 2), rng.normal(130, 20, n - n // 2)]
    actor = -2.37 * 1.22 ** np.arange(n)
    s = {
        "train/episode_reward": (st, reward),
        "train/actor_loss": (st, actor),
        "train/critic_loss": (st, 40 + 10 * np.abs(rng.normal(0, 1, n))),
        "train/q1_value": (st, -actor / 2),
    }
    return Scenario(
        "issue-td3-custom-critic_tb",
        "critic",
        "critic_tb",
        s,
        [
            Label("reward_collapse", int(st[n // 2]), 5000, "error", slack=200),
            Label("loss_divergence", 100, 5000, "error", slack=200),
        ],
        every=100,
    )


def _kl_length_reward_episode() -> Scenario:
    """Class 7: KL -> length -> reward episode; the loss (beta*KL) jumps, mean length +59 %."""
    s = grpo(600, 5, 1.0, 17)
    st = s["kl"][0]
    i = int(np.searchsorted(st, 300))
    for key, fn in (
        ("kl", lambda v: np.full_like(v, 8.0)),
        ("loss", lambda v: np.array([0.2, 0.78])[: len(v)]),
        ("completions/mean_length", lambda v: v * 1.59),
        ("rewards/Format/mean", lambda v: v * 0.5),
    ):
        steps, vals = s[key]
        vals = vals.copy()
        vals[i : i + 2] = fn(vals[i : i + 2])
        s[key] = (steps, vals)
    lo = int(st[i])
    return Scenario(
        "issue-kl-length-reward-episode-grpo-swift_v3",
        "grpo",
        "swift_v3",
        s,
        [
            Label("instability_episode", lo, lo + 10, "error", slack=10),
            *(
                Label(r, lo, lo + 10, sev, slack=10, required=False)
                for r, sev in (
                    ("kl_spike", "error"),
                    ("loss_spike", "warning"),
                    ("length_surge", "warning"),
                    ("reward_collapse", "error"),
                )
            ),
        ],
        every=5,
    )


def issue_cases() -> list[Scenario]:
    return [
        _early_reward_zero(),
        _critic_student_falls(),
        _noisy_then_flat(),
        _grad_before_after_clip(False),
        _grad_before_after_clip(True),
        _verl_tb_val_score(),
        _td3(),
        _kl_length_reward_episode(),
    ]
