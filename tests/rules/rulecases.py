"""Per-rule test cases as data: realistic healthy runs that must stay quiet, and the same runs
with one injected anomaly that must fire at the right steps.

Healthy bases carry the noise real runs have: log-normal grad norms with a warm-up transient,
KL that is exactly 0 at step 1 and then rises slowly, noisy rewards, GRPO losses near 0 and often
negative, a cosine learning-rate schedule with warm-up, throughput with single slow eval steps,
sparse eval metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlens.engine.memory import run_from_series
from trainlens.run import Restart, Run

Series = dict[str, tuple[np.ndarray, np.ndarray]]


def cosine_lr(steps: np.ndarray, peak: float, warmup: int, total: int) -> np.ndarray:
    warm = np.minimum(1.0, steps / max(warmup, 1))
    prog = np.clip((steps - warmup) / max(total - warmup, 1), 0, 1)
    return np.where(steps < warmup, peak * warm, peak * 0.5 * (1 + np.cos(np.pi * prog)))


def grpo(n: int = 600, every: int = 1, seed: int = 0) -> Series:
    """A healthy ms-swift/TRL-style GRPO run."""
    rng = np.random.default_rng(seed)
    steps = (
        np.concatenate(([1], np.arange(every, n + 1, every))) if every > 1 else np.arange(1, n + 1)
    )
    steps = np.unique(steps)
    m = len(steps)
    t = steps / n
    grad = np.exp(rng.normal(np.log(0.4), 0.3, m))
    grad[:3] *= np.array([6.0, 4.0, 2.5])[: min(3, m)]  # warm-up transient
    kl = 0.002 + 0.25 * t**1.2
    kl = kl * np.exp(rng.normal(0, 0.15, m))
    kl[0] = 0.0
    loss = rng.normal(0.004, 0.012, m)  # near 0, often negative
    reward = 1.0 + 0.45 * t + rng.normal(0, 0.08, m)
    fmt = np.clip(0.93 + 0.04 * t + rng.normal(0, 0.02, m), 0, 1)
    length = 240 + 30 * t + rng.normal(0, 8, m)
    return {
        "loss": (steps, loss),
        "grad_norm": (steps, grad),
        "learning_rate": (steps, cosine_lr(steps, 1e-6, max(n // 20, 1), n)),
        "kl": (steps, kl),
        "reward": (steps, reward),
        "reward_std": (steps, np.abs(0.35 + rng.normal(0, 0.04, m))),
        "rewards/Format/mean": (steps, fmt),
        "rewards/Accuracy/mean": (steps, np.clip(0.45 + 0.3 * t + rng.normal(0, 0.06, m), 0, 1)),
        "frac_reward_zero_std": (steps, np.clip(0.17 + rng.normal(0, 0.03, m), 0, 1)),
        "completions/mean_length": (steps, length),
        "completions/clipped_ratio": (steps, np.clip(0.02 + rng.gamma(2, 0.006, m), 0, 1)),
        "clip_ratio/region_mean": (steps, np.zeros(m)),  # on-policy: exactly 0
        "entropy/mean": (steps, 0.6 - 0.06 * t + rng.normal(0, 0.01, m)),
        "train_speed(iter/s)": (steps, throughput(rng, m, 0.07)),
    }


def grpo_noisy(n: int = 4000, seed: int = 0) -> Series:
    """A healthy GRPO run with much noisier metrics than usual: grad norms log-normal with
    σ = 0.5, KL with σ = 0.4 around its trend, heavy-tailed (Student t, 3 dof) rewards, a very
    noisy reward component, a truncated share with a long right tail, entropy drifting −20 %."""
    rng = np.random.default_rng(1000 + seed)
    s = grpo(n, seed=seed)
    st = s["grad_norm"][0]
    m = len(st)
    s["grad_norm"] = (st, np.exp(rng.normal(np.log(0.4), 0.5, m)))
    s["kl"] = (st, np.r_[0.0, (0.002 + 0.3 * st[1:] / n) * np.exp(rng.normal(0, 0.4, m - 1))])
    s["reward"] = (st, 1.0 + 0.3 * st / n + 0.15 * rng.standard_t(3, m))
    s["rewards/Accuracy/mean"] = (st, np.clip(0.5 + 0.2 * rng.standard_normal(m), 0, 1))
    s["completions/clipped_ratio"] = (st, np.clip(rng.gamma(2.0, 0.015, m), 0, 1))
    s["entropy/mean"] = (st, 0.6 - 0.12 * st / n + rng.normal(0, 0.03, m))
    return s


def throughput(rng: np.random.Generator, m: int, level: float) -> np.ndarray:
    """±4 % noise and one slow step (eval / checkpoint save) every 50 points."""
    x = level * (1 + rng.normal(0, 0.02, m))
    x[49::50] *= 0.3
    return x


def sft(n: int = 1500, every: int = 10, seed: int = 0, overfit: bool = False) -> Series:
    """A healthy ms-swift SFT run: epoch drops in the train loss, sparse eval every 100 steps."""
    rng = np.random.default_rng(seed)
    steps = np.unique(np.concatenate(([1], np.arange(every, n + 1, every))))
    m = len(steps)
    epoch = np.floor((steps - 1) / (n / 3))
    loss = 2.2 * np.exp(-steps / 600) + 0.9 - 0.15 * epoch + rng.normal(0, 0.04, m)
    grad = np.exp(rng.normal(np.log(1.1), 0.25, m))
    grad[0] = 2.9
    ev_steps = np.arange(100, n + 1, 100)
    ev = 1.5 + 0.3 * np.exp(-ev_steps / 300)
    if overfit:
        ev = ev + np.where(ev_steps > 600, 0.0015 * (ev_steps - 600), 0.0)
    ev = ev + rng.normal(0, 0.004, len(ev_steps))
    return {
        "loss": (steps, loss),
        "grad_norm": (steps, grad),
        "learning_rate": (steps, cosine_lr(steps, 1e-4, n // 20, n)),
        "token_acc": (steps, np.clip(0.5 + 0.25 * steps / n + rng.normal(0, 0.01, m), 0, 1)),
        "train_speed(iter/s)": (steps, throughput(rng, m, 0.39)),
        "eval_loss": (ev_steps, ev),
        "eval_token_acc": (ev_steps, 0.6 + 0.02 * (1 - np.exp(-ev_steps / 300))),
    }


def critic(n: int = 60, seed: int = 0) -> Series:
    """A healthy teacher-vs-student critic warm-up, logged every step with critic/ tags."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1)
    t = steps / n
    return {
        "critic/d_acc": (steps, 55 + 25 * t + rng.normal(0, 1.5, n)),
        "critic/score_diff": (steps, 1.6 + rng.normal(0, 0.15, n)),
        "critic/teacher_score_mean": (steps, 2.6 + rng.normal(0, 0.04, n)),
        "critic/student_score_mean": (steps, 1.0 + rng.normal(0, 0.05, n)),
        "critic/hard_sample_ratio": (steps, 16 + rng.normal(0, 2.0, n)),
        "critic/length_reward_corr": (steps, rng.normal(0, 0.06, n)),
        "critic/grad_norm_before_clip": (steps, np.exp(rng.normal(np.log(1.8), 0.3, n))),
        "critic/loss": (steps, 0.6 * np.exp(-steps / 20) + 0.08 + rng.normal(0, 0.01, n)),
    }


def ppo(n: int = 400, seed: int = 0) -> Series:
    """A healthy verl PPO run (GAE, actor and critic), resumed at step 101."""
    rng = np.random.default_rng(seed)
    steps = np.arange(101, 101 + n)
    m = n
    return {
        "actor/pg_loss": (steps, rng.normal(0.0, 0.25, m)),
        "actor/ppo_kl": (steps, rng.normal(0.0005, 0.0012, m)),  # negative at times: normal
        "actor/pg_clipfrac": (steps, np.abs(rng.normal(0.002, 0.0012, m))),
        "actor/entropy_loss": (steps, 0.03 + rng.normal(0, 0.003, m)),
        "actor/grad_norm": (steps, np.exp(rng.normal(np.log(2.2), 0.2, m))),
        "actor/kl_loss": (steps, 1e-4 + 0.05 * (steps - 100) / m * np.exp(rng.normal(0, 0.1, m))),
        "critic/grad_norm": (steps, np.exp(rng.normal(np.log(13), 0.5, m))),
        "critic/vf_loss": (steps, np.abs(rng.normal(0.03, 0.02, m))),
        "critic/score/mean": (steps, np.clip(0.94 + rng.normal(0, 0.015, m), 0, 1)),
        "response_length/mean": (steps, 130 + rng.normal(0, 4, m)),
        "response_length/clip_ratio": (steps, np.abs(rng.normal(0.008, 0.005, m))),
        "perf/throughput": (steps, throughput(rng, m, 350.0)),
        "perf/mfu/actor": (steps, 0.07 + rng.normal(0, 0.003, m)),
    }


def make(series: Series, **kw: Any) -> Run:
    return run_from_series(series, **kw)


def at(series: Series, key: str, steps: Any, value: Any, *, mode: str = "set") -> Series:
    """A copy of ``series`` with ``key`` changed at ``steps`` (a list or a (lo, hi) range):
    ``set`` replaces, ``mul`` multiplies."""
    out = dict(series)
    s, v = series[key]
    v = v.astype(float).copy()
    mask = (s >= steps[0]) & (s <= steps[1]) if isinstance(steps, tuple) else np.isin(s, steps)
    if mode == "mul":
        v[mask] = v[mask] * value
    else:
        v[mask] = value if np.ndim(value) == 0 else np.asarray(value)[: mask.sum()]
    out[key] = (s, v)
    return out


@dataclass(frozen=True)
class Case:
    """``build`` makes the run; an anomaly case lists the windows that must be found (each a
    ``(lo, hi)`` range the finding's start step must fall in; ``peak`` optionally the peak)."""

    rule: str
    name: str
    build: Callable[[], Run]
    fires: tuple[tuple[int, int], ...] = ()
    peak: int | None = None
    select: tuple[str, ...] = ()  # extra rules to run with it (episodes need members)
    check: Callable[[Any], None] | None = None  # extra assertions on the findings
    skipped_code: str | None = None  # healthy case: the rule must be skipped with this code
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.fires

    @property
    def id(self) -> str:
        return f"{self.rule}-{'fires' if self.fires else 'quiet'}-{self.name}"


def _exp_growth(n: int) -> Series:
    steps = np.arange(1100, 1100 + 100 * n, 100)
    return {
        "train/actor_loss": (steps, -2.37 * 1.3 ** np.arange(n)),
        "train/critic_loss": (steps, 40 + 10 * np.sin(np.arange(n))),
    }


def _late_growth(onset: float, decades: float, sign: float = 1.0) -> Series:
    """An SFT run whose loss grows geometrically by ``decades`` decades from ``onset`` (a share
    of the run) to its end (``sign`` -1: an actor loss running to -inf)."""
    s = sft()
    steps, loss = s["loss"]
    i = int(onset * len(steps))
    grown = loss.copy()
    grown[i:] = loss[i] * 10 ** (decades * np.arange(1, len(steps) - i + 1) / (len(steps) - i))
    s["loss"] = (steps, sign * grown)
    return s


def _noisy_then_flat(level_after: float = 0.45) -> Series:
    """A reward noisy around 1.2 (σ 0.25) for 1,500 steps, then flat at ``level_after``."""
    s = grpo(3000)
    steps = s["reward"][0]
    rng = np.random.default_rng(13)
    half = len(steps) // 2
    s["reward"] = (steps, np.r_[rng.normal(1.2, 0.25, half), rng.normal(level_after, 0.02, half)])
    return s


def _reward_drift() -> Series:
    """A reward drifting down by 70 % over the run (a penalty growing with length): no step."""
    s = grpo(600)
    steps = s["reward"][0]
    rng = np.random.default_rng(5)
    s["reward"] = (steps, 1.0 - 0.7 * steps / 600 + rng.normal(0, 0.08, len(steps)))
    return s


def _sparse_reward() -> Series:
    """Binary rewards over groups of 8 that mostly all fail, rarer successes late in the run."""
    s = grpo(600)
    steps = s["reward"][0]
    rng = np.random.default_rng(6)
    p = np.where(steps < 400, 0.04, 0.02)
    s["reward"] = (steps, rng.binomial(8, p) / 8)
    return s


def _settled(findings: list[Any]) -> None:
    (f,) = findings
    assert f.params["settled"] and f.params["rho"] > -0.6  # fell for good, not steadily


def _noisy_corr() -> Series:
    """A critic whose per-step length-reward correlation is noisy (σ 0.12) around 0."""
    s = critic(1000)
    steps = s["critic/length_reward_corr"][0]
    rng = np.random.default_rng(8)
    s["critic/length_reward_corr"] = (steps, rng.normal(0, 0.12, len(steps)))
    return s


def _kl_ramp() -> Series:
    """A healthy GRPO run whose KL climbs steeply from 0 (x10 every few steps) to 0.13 at step
    19 and settles around 0.07."""
    s = grpo(200)
    steps = s["kl"][0]
    rng = np.random.default_rng(9)
    ramp = 0.134 * np.clip(steps / 19, 0, 1) ** 4
    settle = 0.07 + 0.06 * np.exp(-(steps - 19) / 10)
    kl = np.where(steps <= 19, ramp, settle) * np.exp(rng.normal(0, 0.15, len(steps)))
    kl[:2] = 0.0
    s["kl"] = (steps, kl)
    return s


def _epoch_loss(second: float) -> Series:
    """A Keras-style log, one point per epoch from 0: 12.4 at epoch 0, ``second`` at epoch 1,
    then 5.6 and a slow decline to 4."""
    steps = np.arange(30)
    rng = np.random.default_rng(10)
    loss = np.r_[12.4, second, 5.6, 4.6 - 0.6 * np.arange(27) / 26 + rng.normal(0, 0.02, 27)]
    return {"loss": (steps, loss), "lr": (steps, np.where(steps < 8, 0.1, 0.02))}


def _ten_step_warmup(teacher_falls: bool = False) -> Series:
    """The critic warm-up of issue 12: ten logged steps, the student falling from 1.03 while
    the teacher wobbles (``teacher_falls``: the teacher falls as far as the student)."""
    s = {k: (st[:10], v[:10]) for k, (st, v) in critic().items()}
    student = np.array([1.03, 0.43, -0.12, -0.72, -0.94, -1.12, -0.90, -0.85, -0.64, -0.67])
    teacher = np.array([1.24, 1.49, 1.83, 1.46, 1.31, 1.08, 1.00, 1.04, 0.96, 1.04])
    s["critic/student_score_mean"] = (s["critic/student_score_mean"][0], student)
    s["critic/teacher_score_mean"] = (
        s["critic/teacher_score_mean"][0],
        teacher - (1.7 * np.arange(10) / 9 if teacher_falls else 0.0),
    )
    return s


def _restarted() -> Run:
    base = grpo(200)
    return make(
        base,
        restarts=[Restart(step=120, previous_step=150, source="logging.jsonl", overwritten=31)],
    )


def _restart_flood() -> Run:
    """53 backward jumps (a log not ordered by step), one of them reported twice."""
    jumps = [
        Restart(step=s, previous_step=s + 2, source="logging.jsonl", overwritten=2)
        for s in range(3, 160, 3)
    ]
    return make(grpo(200), restarts=[*jumps, jumps[0]])


def _twice_reported() -> Run:
    r = Restart(step=120, previous_step=150, source="logging.jsonl", overwritten=31)
    return make(grpo(200), restarts=[r, r])


def _one_summary(findings: list[Any]) -> None:
    (f,) = findings
    assert f.params["summarised"] and f.params["n_restarts"] == 53
    assert (f.start_step, f.end_step) == (3, 161)
    assert f.params["restart_steps"][:3] == (3, 6, 9) and f.params["restart_steps"][-1] == "…"


def _severity(level: str) -> Callable[[list[Any]], None]:
    def check(findings: list[Any]) -> None:
        assert [f.severity.value for f in findings] == [level] * len(findings)

    return check


def _drop_points(n: int) -> Callable[[list[Any]], None]:
    def check(findings: list[Any]) -> None:  # the window starts at the first low point
        assert [f.params["n_points"] for f in findings] == [n]

    return check


def _dips_listed(findings: list[Any]) -> None:
    (f,) = findings
    assert f.params["at_steps"] == (100, 250, 400) and f.params["n_points"] == 3
    assert f.severity.value == "info"


def _degrade_checks(findings: list[Any]) -> None:
    f = findings[0]
    assert f.best_step == 600 and abs(f.best_value - 1.52) < 0.01
    assert f.recommended_checkpoint == "checkpoint-600"


def _sft_degrading() -> Run:
    s = sft()
    ev_s = s["eval_loss"][0]
    ev = np.interp(ev_s, [100, 600, 1500], [1.8, 1.52, 2.28])
    s["eval_loss"] = (ev_s, ev)
    return make(s, checkpoints=[300, 600, 900, 1200, 1500], path="/tmp/sft")


def _episode_run() -> Run:
    s = grpo(600, every=5)
    s = at(s, "kl", [300], 15.0)
    s = at(s, "completions/clipped_ratio", [300], 0.7)
    s = at(s, "rewards/Format/mean", [300, 305], [0.1, 0.4])
    return make(s)


def _two_far_spikes() -> Run:
    s = grpo(600, every=5)
    s = at(s, "kl", [200], 12.0)
    return make(at(s, "completions/clipped_ratio", [400], 0.7))


def _per_sample(r: float) -> Run:
    rng = np.random.default_rng(3)
    n = 400
    length = rng.normal(300, 80, n)
    score = r * (length - 300) / 80 + np.sqrt(1 - r * r) * rng.normal(0, 1, n)
    steps = np.arange(n)
    return make({"sample/length": (steps, length), "sample/score": (steps, score)})


def _stuck_series(lr_zero: bool = False) -> Series:
    s = grpo(300, every=5)
    m = len(s["kl"][0])
    s["kl"] = (s["kl"][0], np.zeros(m))
    if lr_zero:
        s["learning_rate"] = (s["learning_rate"][0], np.zeros(m))
    return s


def _stuck(lr_zero: bool = False) -> Run:
    return make(_stuck_series(lr_zero))


def _kl_sits(level: float) -> Series:
    """A GRPO run whose KL sits at ``level`` (log-normal noise, σ 0.15) from step 2 on."""
    s = grpo()
    st = s["kl"][0]
    rng = np.random.default_rng(7)
    s["kl"] = (st, np.r_[0.0, level * np.exp(rng.normal(0, 0.15, len(st) - 1))])
    return s


def _kl_drift() -> Series:
    """A KL at its healthy level that from step 300 climbs steadily to 1.2 by the end."""
    s = grpo()
    st, kl = s["kl"]
    rng = np.random.default_rng(8)
    up = st >= 300
    ramp = np.linspace(kl[up][0], 1.2, int(up.sum())) * np.exp(rng.normal(0, 0.1, int(up.sum())))
    s["kl"] = (st, np.where(up, np.r_[kl[~up], ramp], kl))
    return s


def _mismatch(
    framework: str = "verl",
    *,
    gap_from: int | None = None,
    gap_to: float = 0.0,
    ess_to: float | None = None,
    level: float | None = None,
) -> Series:
    """A run that logs the trainer-vs-rollout log-prob gap (k3 KL ~1e-3, log-normal, with
    single-point excursions to 10x) and the IS effective sample size (~0.95); from step
    ``gap_from`` the gap climbs to ``gap_to`` and the ESS falls to ``ess_to``; ``level``: the
    gap sits there from the first step."""
    s = ppo() if framework == "verl" else grpo()
    st = s["actor/pg_loss" if framework == "verl" else "loss"][0]
    m = len(st)
    rng = np.random.default_rng(9)
    gap = 1e-3 * np.exp(rng.normal(0, 0.4, m))
    gap[rng.choice(m, 4, replace=False)] *= 10  # isolated excursions: healthy
    if level is not None:
        gap = level * np.exp(rng.normal(0, 0.2, m))
    ess = np.clip(0.95 + rng.normal(0, 0.02, m), 0, 1)
    ess[rng.choice(m, 3, replace=False)] = 0.5
    if gap_from is not None:
        up = st >= gap_from
        gap[up] = np.geomspace(gap[up][0], gap_to, int(up.sum())) * np.exp(
            rng.normal(0, 0.2, int(up.sum()))
        )
        if ess_to is not None:
            ess[up] = np.linspace(ess[up][0], ess_to, int(up.sum()))
    if framework == "trl":  # mean |Δ log p| (healthy ~0.01), no ESS
        s["sampling/sampling_logp_difference/mean"] = (st, 8 * gap)
        return s
    prefix = "rollout_corr/" if framework == "verl" else "rollout_correction/"
    s[prefix + "k3_kl"] = (st, gap)
    s[prefix + ("rollout_is_eff_sample_size" if framework == "verl" else "ess")] = (st, ess)
    return s


def _eval_turns_up() -> np.ndarray:
    """15 eval points (every 100 steps) falling to 1.55 at step 1000, then 1.57 and slowly up
    (the shape of a LLaMA-Factory run overfitting in its last epoch), noise 0.0005."""
    falling = 1.586 - 0.004 * np.arange(10)
    rising = np.array([1.5716, 1.5741, 1.5759, 1.5768, 1.5775])
    return np.r_[falling, rising] + np.random.default_rng(3).normal(0, 0.0005, 15)


def _finite_growth(found: list[Any]) -> None:
    assert all(0 < f.params["growth"] < 1e3 for f in found), [f.params for f in found]


def run_with_config(series: Series, config: dict[str, Any]) -> Run:
    return make(series, config=config)


CASES: list[Case] = [
    # --- KL ---------------------------------------------------------------------------------
    Case("kl_spike", "grpo", lambda: make(grpo())),
    Case("kl_spike", "grpo_every5", lambda: make(grpo(3000, every=5, seed=1))),
    Case("kl_spike", "ppo_kl_loss", lambda: make(ppo())),
    Case(
        "kl_spike",
        "robust",
        lambda: make(at(grpo(), "kl", [300, 301], 3.0)),
        fires=((300, 300),),
        peak=300,
    ),
    Case("kl_spike", "limit", lambda: make(at(grpo(), "kl", [450], 19.6)), fires=((450, 450),)),
    # KL climbing steeply from 0 over the first 20 steps (LoRA, high lr), then settling lower
    Case("kl_spike", "steep_ramp", lambda: make(_kl_ramp())),
    Case(
        "kl_spike",
        "spike_after_ramp",
        lambda: make(at(_kl_ramp(), "kl", [120], 1.2)),
        fires=((120, 120),),
    ),
    Case("kl_stuck_zero", "grpo", lambda: make(grpo())),
    Case("kl_stuck_zero", "lr_zero", lambda: _stuck(lr_zero=True)),
    Case(
        "kl_stuck_zero",
        "beta_zero",
        lambda: run_with_config(_stuck_series(), {"beta": 0.0}),
        skipped_code="kl_off",
    ),
    Case("kl_stuck_zero", "stuck", lambda: _stuck(), fires=((1, 1),)),
    # late onset: the last 5% at 0 while the learning rate decays to 0 on the last points
    Case(
        "kl_stuck_zero",
        "late",
        lambda: make(at(grpo(400), "kl", (381, 400), 0.0)),
        fires=((381, 381),),
    ),
    Case(  # 10 points at 0 logged every 10 steps, the learning rate 0 on the last one
        "kl_stuck_zero",
        "late_coarse",
        lambda: make(at(grpo(200, every=10), "kl", (110, 200), 0.0)),
        fires=((110, 110),),
    ),
    Case("kl_stuck_zero", "short", lambda: make(at(grpo(8), "kl", (1, 8), 0.0)), fires=((1, 1),)),
    Case("kl_stuck_zero", "short_healthy", lambda: make(grpo(8))),
    # 0 for a few points in the middle (a reference-model sync, a logging gap): it recovers
    Case("kl_stuck_zero", "brief_zero", lambda: make(at(grpo(400), "kl", (200, 215), 0.0))),
    # kl_level: sits above its healthy range, or drifts out of it
    Case("kl_level", "grpo", lambda: make(grpo())),
    Case("kl_level", "grpo_noisy", lambda: make(grpo_noisy())),
    Case("kl_level", "grpo_every5", lambda: make(grpo(3000, every=5, seed=1))),
    Case("kl_level", "ppo_kl_loss", lambda: make(ppo())),
    Case("kl_level", "one_spike", lambda: make(at(grpo(), "kl", [300, 301], 3.0))),
    Case(
        "kl_level",
        "beta_zero",
        lambda: run_with_config(_kl_sits(0.6), {"beta": 0.0}),
        skipped_code="kl_off",
    ),
    Case("kl_level", "sits_high", lambda: make(_kl_sits(0.318)), fires=((1, 5),)),
    Case(
        "kl_level",
        "sits_above_a_large_beta_ceiling",
        lambda: run_with_config(_kl_sits(0.15), {"beta": 0.1}),
        fires=((1, 5),),
    ),
    Case(
        "kl_level",
        "same_level_small_beta",
        lambda: run_with_config(_kl_sits(0.15), {"beta": 0.04}),
    ),
    Case("kl_level", "drift", lambda: make(_kl_drift()), fires=((250, 330),)),
    # rollout_mismatch: the trainer's log-probs part from the rollout engine's
    Case("rollout_mismatch", "verl", lambda: make(_mismatch("verl"))),
    Case("rollout_mismatch", "swift", lambda: make(_mismatch("swift"))),
    Case("rollout_mismatch", "not_logged", lambda: make(grpo()), skipped_code="not_logged"),
    Case(
        "rollout_mismatch",
        "verl_gap_climbs",
        lambda: make(_mismatch("verl", gap_from=300, gap_to=0.3, ess_to=0.2)),
        fires=((300, 420),),
    ),
    Case(
        "rollout_mismatch",
        "swift_gap_grows_tenfold",
        lambda: make(_mismatch("swift", gap_from=300, gap_to=0.05)),
        fires=((300, 560),),
    ),
    Case(
        "rollout_mismatch",
        "high_from_the_start",
        lambda: make(_mismatch("swift", level=0.25)),
        fires=((1, 3),),
    ),
    Case("rollout_mismatch", "trl_logp_diff", lambda: make(_mismatch("trl"))),
    Case(
        "rollout_mismatch",
        "trl_logp_diff_high",  # 8 x 0.004 = 0.032 per token from the start: above 0.02
        lambda: make(_mismatch("trl", level=0.004)),
        fires=((1, 3),),
    ),
    Case(
        "rollout_mismatch",
        "exactly_zero_early_then_grows",  # growth is measured from gap_floor / growth
        lambda: make(
            at(
                _mismatch("verl"),
                "rollout_corr/k3_kl",
                (101, 500),
                np.r_[np.zeros(200), np.geomspace(1e-3, 0.05, 200)],
            )
        ),
        fires=((300, 460),),
        check=lambda found: _finite_growth(found),
    ),
    Case(
        "rollout_mismatch",
        "ess_only",
        lambda: make(
            {
                k: v
                for k, v in _mismatch("verl", gap_from=350, gap_to=0.001, ess_to=0.1).items()
                if not k.endswith("k3_kl")
            }
        ),
        fires=((350, 500),),
    ),
    # --- gradients --------------------------------------------------------------------------
    Case("grad_explosion", "grpo_warmup", lambda: make(grpo())),
    Case("grad_explosion", "sft", lambda: make(sft())),
    Case("grad_explosion", "ppo_critic", lambda: make(ppo())),
    Case(
        "grad_explosion",
        "spike",
        lambda: make(at(grpo(), "grad_norm", [300], 20.0, mode="mul")),
        fires=((300, 300),),
        peak=300,
    ),
    Case(
        "grad_explosion",
        "big_scale",
        lambda: make(
            {
                "grad_norm": (
                    np.arange(1, 301),
                    np.r_[
                        np.exp(np.random.default_rng(2).normal(np.log(3e4), 0.3, 199)),
                        3e7,
                        np.exp(np.random.default_rng(3).normal(np.log(3e4), 0.3, 100)),
                    ],
                )
            }
        ),
        fires=((200, 200),),
        peak=200,
    ),
    Case(
        "grad_explosion",
        "critic_step5",
        lambda: make(at(critic(), "critic/grad_norm_before_clip", [5], 39.18)),
        fires=((5, 5),),
    ),
    Case("grad_vanishing", "grpo", lambda: make(grpo())),
    Case(
        "grad_vanishing",
        "single_dips",
        lambda: make(at(grpo(), "grad_norm", [100, 250, 400], 1.5e-4)),
    ),
    Case(
        "grad_vanishing",
        "sft_memorised",
        lambda: make(
            {
                "grad_norm": (np.arange(1, 501), np.r_[np.full(200, 20.0), np.full(300, 0.005)]),
                "loss": (np.arange(1, 501), np.r_[np.full(200, 0.3), np.full(300, 1e-4)]),
            }
        ),
    ),
    Case(
        "grad_vanishing",
        "zero",
        lambda: make(at(grpo(), "grad_norm", (300, 600), 0.0)),
        fires=((300, 300),),
    ),
    Case("grad_collapsed_steps", "grpo", lambda: make(grpo())),
    Case("grad_collapsed_steps", "grpo_noisy", lambda: make(grpo_noisy())),
    Case("grad_collapsed_steps", "sft", lambda: make(sft())),
    Case("grad_collapsed_steps", "ppo", lambda: make(ppo())),
    Case("grad_collapsed_steps", "critic", lambda: make(critic())),
    Case(
        "grad_collapsed_steps",
        "vanishing_is_not_isolated",
        lambda: make(at(grpo(), "grad_norm", (300, 600), 0.0)),
    ),
    Case(
        "grad_collapsed_steps",
        "heavy_tailed_norm",  # a norm that routinely swings by two orders of magnitude
        lambda: make(
            at(
                grpo(),
                "grad_norm",
                (1, 600),
                np.exp(np.random.default_rng(7).normal(np.log(5.0), 1.6, 600)),
            )
        ),
    ),
    Case(
        "grad_collapsed_steps",
        "single_dips",
        lambda: make(at(grpo(), "grad_norm", [100, 250, 400], 1.5e-4)),
        fires=((100, 100),),
        check=_dips_listed,
    ),
    # --- loss -------------------------------------------------------------------------------
    Case("loss_spike", "sft_epochs", lambda: make(sft())),
    Case("loss_spike", "grpo_negative", lambda: make(grpo()), skipped_code="negative_loss"),
    Case("loss_spike", "spike", lambda: make(at(sft(), "loss", [800], 4.5)), fires=((800, 800),)),
    # an epoch-level log: 12.4, 18.4 at the second point, then 5.6 and slowly down
    Case("loss_spike", "second_point", lambda: make(_epoch_loss(18.4)), fires=((1, 1),)),
    Case("loss_spike", "falling_start", lambda: make(_epoch_loss(9.0))),
    Case("loss_spike", "warmup_first_point", lambda: make(at(sft(), "loss", [1], 40.0))),
    Case("loss_divergence", "grpo", lambda: make(grpo())),
    Case("loss_divergence", "ppo", lambda: make(ppo())),
    Case("loss_divergence", "td3_actor", lambda: make(_exp_growth(40)), fires=((1100, 5000),)),
    Case("loss_divergence", "mid_run", lambda: make(_late_growth(0.5, 3.0)), fires=((700, 760),)),
    Case("loss_divergence", "late", lambda: make(_late_growth(0.9, 4.0)), fires=((1300, 1360),)),
    Case(
        "loss_divergence",
        "late_negative",
        lambda: make(_late_growth(0.8, 4.0, -1.0)),
        fires=((1140, 1210),),
    ),
    # a lasting 10x rise late in the run, and a loss slowly growing 30x: no divergence
    Case(
        "loss_divergence",
        "late_rise_10x",
        lambda: make(at(sft(), "loss", (1300, 1500), 10.0, mode="mul")),
    ),
    Case("loss_divergence", "slow_30x", lambda: make(_late_growth(0.0, 1.5))),
    Case("nan_inf", "grpo", lambda: make(grpo())),
    Case(
        "nan_inf",
        "nan_loss",
        lambda: make(at(grpo(), "loss", (350, 352), np.nan)),
        fires=((350, 350),),
    ),
    # --- clipping / truncation / length ------------------------------------------------------
    Case("ppo_clip_surge", "on_policy_zero", lambda: make(grpo())),
    Case("ppo_clip_surge", "ppo", lambda: make(ppo())),
    Case(
        "ppo_clip_surge",
        "surge",
        lambda: make(at(ppo(), "actor/pg_clipfrac", (300, 302), 0.15)),
        fires=((300, 300),),
    ),
    Case("clipped_ratio_surge", "grpo", lambda: make(grpo())),
    Case(
        "clipped_ratio_surge",
        "surge",
        lambda: make(at(grpo(), "completions/clipped_ratio", [300], 0.25)),
        fires=((300, 300),),
        check=_severity("warning"),  # one surge: a warning
    ),
    Case(
        "clipped_ratio_surge",
        "pinned",
        lambda: make(at(grpo(), "completions/clipped_ratio", (1, 600), 0.9)),
        fires=((1, 1),),
        check=_severity("error"),  # sustained truncation: escalated
    ),
    Case(
        "clipped_ratio_surge",
        "late_chronic",
        lambda: make(at(grpo(), "completions/clipped_ratio", (400, 600), 0.95)),
        fires=((400, 400),),
        check=_severity("error"),  # >= 90 % over 201 logged steps
    ),
    Case(
        "clipped_ratio_surge",
        "short_burst",
        lambda: make(at(grpo(), "completions/clipped_ratio", (300, 302), 0.95)),
        fires=((300, 300),),
        check=_severity("warning"),  # 3 points at 95 %: a surge, not sustained
    ),
    Case("length_surge", "grpo", lambda: make(grpo())),
    Case(
        "length_surge",
        "slow_growth",
        lambda: make(
            at(
                grpo(),
                "completions/mean_length",
                (1, 600),
                np.linspace(300, 900, 600) + np.random.default_rng(5).normal(0, 15, 600),
            )
        ),
    ),
    Case(
        "length_surge",
        "jump",
        lambda: make(at(grpo(), "completions/mean_length", (300, 600), 2.2, mode="mul")),
        fires=((300, 300),),
    ),
    Case(
        "length_surge",
        "jump_after_three_points_short_run",
        lambda: make(at(grpo(30), "completions/mean_length", (4, 30), 2.0, mode="mul")),
        fires=((4, 4),),
    ),
    Case(
        "length_surge",
        "short_run_growing_fast",  # +150 % over 30 points, at most +8 % a point: no surge
        lambda: make(at(grpo(30), "completions/mean_length", (1, 30), np.geomspace(240, 600, 30))),
    ),
    Case("length_collapse", "grpo", lambda: make(grpo())),
    Case(
        "length_collapse",
        "dip_recovers",
        lambda: make(at(grpo(), "completions/mean_length", (300, 310), 0.3, mode="mul")),
    ),
    Case(
        "length_collapse",
        "collapse",
        lambda: make(at(grpo(), "completions/mean_length", (400, 600), 0.15, mode="mul")),
        fires=((400, 400),),
    ),
    Case("degenerate_generation", "grpo", lambda: make(grpo())),
    Case(
        "degenerate_generation",
        "one_token",
        lambda: make(at(grpo(), "completions/mean_length", (200, 260), 1.0)),
        fires=((200, 200),),
    ),
    # --- reward / entropy -------------------------------------------------------------------
    Case("reward_collapse", "grpo", lambda: make(grpo())),
    Case("reward_collapse", "grpo_long", lambda: make(grpo(3000, every=5, seed=4))),
    Case(
        "reward_collapse",
        "single_bad_points",
        lambda: make(at(grpo(), "rewards/Format/mean", [200, 400], 0.2)),
    ),
    Case(
        "reward_collapse",
        "collapse",
        lambda: make(at(grpo(), "reward", (300, 600), 0.3)),
        fires=((300, 300),),
    ),
    Case(
        "reward_collapse",
        "format_crash",
        lambda: make(at(grpo(600, every=5), "rewards/Format/mean", [300, 305], [0.1, 0.45])),
        fires=((300, 300),),
        peak=300,
    ),
    Case(  # rises for 3 logged points, then exactly 0 for 30: no long running level needed
        "reward_collapse",
        "early_zero",
        lambda: make(at(grpo(33), "reward", (1, 33), np.r_[0.2, 0.4, 0.6, np.zeros(30)])),
        fires=((4, 4),),
    ),
    Case(
        "reward_collapse",
        "noisy_then_flat",
        lambda: make(_noisy_then_flat()),
        fires=((1490, 1510),),
    ),
    Case(
        "reward_collapse",
        "short_late",
        lambda: make(at(grpo(8), "reward", (5, 8), 0.1)),
        fires=((5, 5),),
    ),
    # a slow downward drift of the reward, a reward whose noise shrinks, sparse binary rewards
    Case("reward_collapse", "slow_drift", lambda: make(_reward_drift())),
    Case("reward_collapse", "noise_shrinks", lambda: make(_noisy_then_flat(level_after=1.2))),
    Case("reward_collapse", "sparse_binary", lambda: make(_sparse_reward())),
    Case("entropy_collapse", "grpo", lambda: make(grpo())),
    Case("entropy_collapse", "ppo", lambda: make(ppo())),
    Case(
        "entropy_collapse",
        "collapse",
        lambda: make(at(grpo(), "entropy/mean", (400, 600), 0.5, mode="mul")),
        fires=((400, 400),),
    ),
    Case("wasted_rollouts", "grpo", lambda: make(grpo())),
    Case(
        "wasted_rollouts",
        "zero_std_groups",
        lambda: make(at(grpo(), "frac_reward_zero_std", (200, 600), 0.85)),
        fires=((200, 200),),
    ),
    Case(
        "wasted_rollouts",
        "reward_std_to_zero",
        lambda: make(
            {
                k: v
                for k, v in at(grpo(), "reward_std", (300, 600), 0.01).items()
                if k != "frac_reward_zero_std"
            }
        ),
        fires=((300, 300),),
    ),
    # --- critic warm-up ---------------------------------------------------------------------
    Case("d_acc_jump", "gradual", lambda: make(critic())),
    Case(
        "d_acc_jump",
        "jump_step2",
        lambda: make(
            at(critic(), "critic/d_acc", (1, 60), np.r_[64.84, np.linspace(95.21, 98.9, 59)])
        ),
        fires=((1, 1),),
        peak=2,
    ),
    Case(
        "d_acc_jump",
        "noisy_step_then_saturated",  # +21 between medians, under 20 between two points
        lambda: make(
            at(
                critic(),
                "critic/d_acc",
                (1, 60),
                np.r_[np.tile([55.0, 57.0, 66.0], 14)[2:42], np.full(20, 84.0)],
            )
        ),
        fires=((40, 40),),
    ),
    Case(
        "d_acc_jump",
        "noisy_no_step",
        lambda: make(at(critic(), "critic/d_acc", (1, 60), np.tile([52.0, 68.0, 60.0], 20))),
    ),
    Case(
        "d_acc_jump",
        "jump_then_early_saturation_is_one_finding",
        lambda: make(
            at(
                critic(),
                "critic/d_acc",
                (1, 60),
                np.r_[np.full(4, 60.0), 86.0, 90.0, np.linspace(96, 98, 54)],
            )
        ),
        fires=((4, 4),),
    ),
    Case(
        "d_acc_jump",
        "fraction_jump",
        lambda: make(
            at(
                at(critic(), "critic/d_acc", (1, 60), np.r_[np.full(29, 0.6), np.full(31, 0.85)]),
                "critic/d_acc",
                [1],
                0.6,
            )
        ),
        fires=((29, 29),),
        peak=30,
    ),
    Case("score_collapse", "level", lambda: make(critic())),
    Case(
        "score_collapse",
        "both_fall",
        lambda: make(
            at(
                at(critic(), "critic/student_score_mean", (1, 60), np.linspace(1.0, -0.7, 60)),
                "critic/teacher_score_mean",
                (1, 60),
                np.linspace(2.6, 0.9, 60),
            )
        ),
    ),
    Case(
        "score_collapse",
        "student_falls",
        lambda: make(
            at(
                critic(),
                "critic/student_score_mean",
                (1, 60),
                np.linspace(1.03, -0.67, 60) + np.random.default_rng(1).normal(0, 0.05, 60),
            )
        ),
        fires=((1, 10),),
    ),
    Case(  # the critic warm-up's ten steps: falls, rebounds a little, stays down (rho -0.47)
        "score_collapse",
        "warmup_ten_steps",
        lambda: make(_ten_step_warmup()),
        fires=((1, 2),),
        check=lambda fs: _settled(fs),
    ),
    Case(
        "score_collapse",
        "late_fall",
        lambda: make(
            at(
                critic(200),
                "critic/student_score_mean",
                (181, 200),
                1.0 - np.linspace(0.09, 1.8, 20),
            )
        ),
        fires=((170, 185),),
    ),
    # a dip that comes back; the same ten steps with the teacher falling as far
    Case(
        "score_collapse",
        "dip_recovers",
        lambda: make(
            at(
                critic(),
                "critic/student_score_mean",
                (20, 40),
                1.0 - np.r_[np.linspace(0, 1.5, 11), np.linspace(1.35, 0, 10)],
            )
        ),
    ),
    Case(
        "score_collapse", "ten_steps_both_fall", lambda: make(_ten_step_warmup(teacher_falls=True))
    ),
    Case("score_diff_out_of_range", "in_band", lambda: make(critic())),
    Case(
        "score_diff_out_of_range",
        "late",
        lambda: make(at(critic(), "critic/score_diff", (45, 60), 3.2)),
        fires=((45, 45),),
    ),
    Case("length_bias", "none", lambda: make(critic())),
    Case("length_bias", "per_sample_none", lambda: _per_sample(0.05)),
    Case(
        "length_bias",
        "logged",
        lambda: make(at(critic(), "critic/length_reward_corr", (1, 60), -0.217)),
        fires=((1, 1),),
    ),
    Case("length_bias", "per_sample", lambda: _per_sample(0.5), fires=((0, 0),)),
    Case(  # turns negative only over the last 10 % of the run
        "length_bias",
        "turns_late",
        lambda: make(at(critic(200), "critic/length_reward_corr", (181, 200), -0.25, mode="set")),
        fires=((178, 183),),
    ),
    # a noisy correlation around 0 (small batches), and one brief excursion that comes back
    Case("length_bias", "noisy_zero", lambda: make(_noisy_corr())),
    Case(
        "length_bias",
        "brief_excursion",
        lambda: make(at(critic(200), "critic/length_reward_corr", (150, 160), -0.3)),
    ),
    Case("hard_sample_collapse", "steady", lambda: make(critic())),
    Case(
        "hard_sample_collapse",
        "vanish",
        lambda: make(at(critic(), "critic/hard_sample_ratio", (20, 60), 2.2)),
        fires=((20, 20),),
    ),
    # --- eval / throughput / meta -----------------------------------------------------------
    Case("degradation_after_best", "sft", lambda: make(sft())),
    Case(
        "degradation_after_best",
        "flat_score",
        lambda: make(
            ppo()
            | {
                "val-core/gsm8k/reward/mean@1": (
                    np.arange(110, 500, 30),
                    0.89 + np.random.default_rng(0).normal(0, 0.012, 13),
                )
            }
        ),
    ),
    Case(
        "degradation_after_best",
        "eval_loss",
        _sft_degrading,
        fires=((1000, 1000),),
        check=_degrade_checks,
    ),
    Case("overfit_onset", "sft", lambda: make(sft())),
    Case("overfit_onset", "overfit", lambda: make(sft(overfit=True)), fires=((700, 700),)),
    Case(
        "overfit_onset",
        "smooth_eval_small_rise",  # +1.5 %, but 5 points far above a smooth eval's noise
        lambda: make(at(sft(), "eval_loss", (100, 1500), _eval_turns_up())),
        fires=((1100, 1100),),
    ),
    *(
        Case(
            "overfit_onset",
            f"noisy_eval_plateau_{seed}",
            lambda seed=seed: make(
                at(
                    sft(),
                    "eval_loss",
                    (100, 1500),
                    1.55 + np.random.default_rng(seed).normal(0, 0.006, 15),
                )
            ),
        )
        for seed in range(6)
    ),
    Case("throughput_drop", "grpo_eval_dips", lambda: make(grpo())),
    Case("throughput_drop", "ppo", lambda: make(ppo())),
    Case(
        "throughput_drop",
        "drop",
        lambda: make(at(ppo(), "perf/throughput", (250, 400), 0.5, mode="mul")),
        fires=((250, 250),),
        check=_drop_points(151),
    ),
    Case(
        "throughput_drop",
        "drop_in_the_last_points",
        lambda: make(at(ppo(), "perf/throughput", (495, 500), 0.5, mode="mul")),
        fires=((493, 496),),
    ),
    Case(
        "throughput_drop",
        "two_slow_final_steps",  # the final save and eval: not a drop
        lambda: make(at(ppo(), "perf/throughput", (499, 500), 0.3, mode="mul")),
    ),
    Case("run_restart", "none", lambda: make(grpo(200))),
    Case("run_restart", "resumed", _restarted, fires=((120, 120),)),
    Case("run_restart", "reported_twice", _twice_reported, fires=((120, 120),)),
    Case("run_restart", "flood", _restart_flood, fires=((3, 3),), check=_one_summary),
    Case(
        "instability_episode",
        "grpo",
        lambda: make(grpo(600, every=5)),
        select=("kl_spike", "grad_explosion", "clipped_ratio_surge", "reward_collapse"),
    ),
    Case(
        "instability_episode",
        "far_apart",
        _two_far_spikes,
        select=("kl_spike", "clipped_ratio_surge"),
    ),
    Case(
        "instability_episode",
        "chain",
        _episode_run,
        fires=((300, 300),),
        select=("kl_spike", "clipped_ratio_surge", "reward_collapse"),
    ),
]
