"""The labelled scenario bank: healthy bases (``bank_profiles.py``) with injected anomalies, each
carrying the labels a correct analysis must reproduce, plus hard healthy runs with no label.

Deterministic from a seed. ``build_bank(seed, per_rule=12)`` gives every series rule
``per_rule`` variations (length, logging interval, alternate-step logging, noise, onset at the
start / middle / end, a second anomaly in every fourth run, output format); ``hard_per_kind``
sets how many runs of each hard healthy kind are made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bank_profiles import PROFILES, Series


@dataclass(frozen=True)
class Label:
    """One expected finding: ``rule`` fires with a window overlapping ``[start, end]`` (give or
    take ``slack`` steps), at ``severity``. ``required=False``: a consequence that may be reported
    (not counted in recall, not a false alarm)."""

    rule: str
    start: int
    end: int
    severity: str
    slack: int = 0
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "window": [self.start, self.end],
            "severity": self.severity,
            "slack": self.slack,
            "required": self.required,
        }


@dataclass
class Scenario:
    """One run of the bank: its series, on-disk format, labels and what makes it interesting."""

    name: str
    profile: str
    fmt: str
    series: Series
    labels: list[Label] = field(default_factory=list)
    every: int = 1
    config: dict[str, Any] | None = None
    restart: tuple[int, int] | None = None  # (resume step, step reached before) for ms-swift
    note: str = ""

    @property
    def healthy(self) -> bool:
        return not self.labels


# --- metric keys per profile --------------------------------------------------------------------

KEYS: dict[str, dict[str, str]] = {
    "grpo": {
        "kl": "kl",
        "grad": "grad_norm",
        "length": "completions/mean_length",
        "clipped": "completions/clipped_ratio",
        "clip": "clip_ratio/region_mean",
        "reward": "reward",
        "entropy": "entropy",
        "zero_std": "frac_reward_zero_std",
        "loss": "loss",
        "format": "rewards/Format/mean",
    },
    "sft": {"grad": "grad_norm", "loss": "loss", "eval": "eval_loss"},
    "ppo": {
        "kl": "actor/kl_loss",
        "grad": "actor/grad_norm",
        "length": "response_length/mean",
        "clipped": "response_length/clip_ratio",
        "clip": "actor/pg_clipfrac",
        "reward": "critic/score/mean",
        "entropy": "actor/entropy_loss",
        "loss": "critic/vf_loss",
        "throughput": "perf/throughput",
    },
    "critic": {
        "grad": "critic/grad_norm_before_clip",
        "d_acc": "critic/d_acc",
        "score_diff": "critic/score_diff",
        "student": "critic/student_score_mean",
        "teacher": "critic/teacher_score_mean",
        "hard": "critic/hard_sample_ratio",
        "corr": "critic/length_reward_corr",
        "loss": "critic/loss",
    },
}

VAL_SCORE = "val-core/openai/gsm8k/reward/mean@1"

# --- injections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    """What an injection needs: the run's profile, random stream, onset position and interval."""

    profile: str
    rng: np.random.Generator
    where: str  # start | middle | end
    every: int

    def key(self, name: str) -> str:
        return KEYS[self.profile][name]


def onset_index(m: int, where: str, need_after: int = 1, need_before: int = 3) -> int:
    """The point at which an anomaly starts: after ``need_before`` points (start), the middle,
    or near the end leaving ``need_after`` points."""
    if where == "start":
        i = max(need_before, round(0.05 * m))
    elif where == "middle":
        i = m // 2
    else:
        i = round(0.9 * m)
    return int(max(1, min(i, m - need_after)))


def _modify(
    s: Series, key: str, i0: int, i1: int, fn: Callable[[np.ndarray], np.ndarray]
) -> tuple[int, int]:
    steps, values = s[key]
    values = values.astype(float).copy()
    values[i0:i1] = fn(values[i0:i1])
    s[key] = (steps, values)
    return int(steps[i0]), int(steps[min(i1, len(steps)) - 1])


def _label(c: Ctx, rule: str, lo: int, hi: int, severity: str, **kw: Any) -> Label:
    return Label(rule, lo, hi, severity, slack=2 * c.every, **kw)


def _spike(rule: str, name: str, factor: tuple[float, float], severity: str, width: int = 1):
    def inject(s: Series, c: Ctx) -> list[Label]:
        key = c.key(name)
        m = len(s[key][0])
        i = onset_index(m, c.where, need_after=1, need_before=5)
        f = float(c.rng.uniform(*factor))
        lo, hi = _modify(s, key, i, i + width, lambda v: v * f)
        return [_label(c, rule, lo, hi, severity)]

    return inject


def _shift(
    rule: str, name: str, fn: Callable[[np.ndarray, np.random.Generator], np.ndarray], severity: str
):
    """A level change from the onset to the end of the run."""

    def inject(s: Series, c: Ctx) -> list[Label]:
        key = c.key(name)
        m = len(s[key][0])
        i = onset_index(m, c.where, need_after=5)
        lo, hi = _modify(s, key, i, m, lambda v: fn(v, c.rng))
        return [_label(c, rule, lo, hi, severity)]

    return inject


def _kl_spike(s: Series, c: Ctx) -> list[Label]:
    key = c.key("kl")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_before=5)
    peak = float(c.rng.uniform(12, 40))
    lo, hi = _modify(s, key, i, i + 1, lambda v: np.full_like(v, peak))
    return [_label(c, "kl_spike", lo, hi, "error")]


def _kl_stuck(s: Series, c: Ctx) -> list[Label]:
    key = c.key("kl")
    m = len(s[key][0])
    i = 0 if c.where == "start" else onset_index(m, c.where, need_after=10)
    lo, hi = _modify(s, key, i, m, np.zeros_like)
    return [_label(c, "kl_stuck_zero", lo, hi, "error")]


def _kl_level(s: Series, c: Ctx) -> list[Label]:
    """KL an order of magnitude above its healthy range: sitting at 0.35-0.9 from an early or
    middle onset, or (onset "end") climbing steadily from mid-run to 0.6-1.5 at the end."""
    key = c.key("kl")
    m = len(s[key][0])
    if c.where == "end":
        i = onset_index(m, "middle", need_after=8)
        top = float(c.rng.uniform(0.6, 1.5))

        def climb(v: np.ndarray) -> np.ndarray:
            ramp = np.linspace(max(float(v[0]), 1e-3), top, len(v))
            return ramp * np.exp(c.rng.normal(0, 0.1, len(v)))

        lo, hi = _modify(s, key, i, m, climb)
    else:
        i = 1 if c.where == "start" else onset_index(m, c.where, need_after=8)
        level = float(c.rng.uniform(0.35, 0.9))
        lo, hi = _modify(s, key, i, m, lambda v: level * np.exp(c.rng.normal(0, 0.15, len(v))))
    # a KL that rises tenfold may also read as KL spikes along the way
    return [
        _label(c, "kl_level", lo, hi, "warning"),
        _label(c, "kl_spike", lo, hi, "error", required=False),
    ]


#: Training-inference mismatch keys: verl ``rollout_corr/*``, ms-swift ``rollout_correction/*``.
MISMATCH_KEYS = {
    "ppo": ("rollout_corr/k3_kl", "rollout_corr/rollout_is_eff_sample_size"),
    "grpo": ("rollout_correction/k3_kl", "rollout_correction/ess"),
}


def add_mismatch_series(s: Series, profile: str, rng: np.random.Generator) -> None:
    """Healthy trainer-vs-rollout log-prob gap (k3 KL ~1e-3, log-normal, a few single-step
    excursions to 5-15x) and IS effective sample size (~0.95, a few dips to ~0.5)."""
    gap_key, ess_key = MISMATCH_KEYS[profile]
    steps = s["kl" if profile == "grpo" else "actor/kl_loss"][0]
    m = len(steps)
    gap = float(rng.uniform(3e-4, 3e-3)) * np.exp(rng.normal(0, 0.4, m))
    ess = np.clip(float(rng.uniform(0.9, 0.98)) + rng.normal(0, 0.02, m), 0, 1)
    for _ in range(max(1, m // 40)):
        j = int(rng.integers(m))
        gap[j] *= float(rng.uniform(5, 15))
        ess[j] = float(rng.uniform(0.4, 0.6))
    s[gap_key] = (steps, gap)
    s[ess_key] = (steps, ess)


def _rollout_mismatch(s: Series, c: Ctx) -> list[Label]:
    """The gap sits high from an early onset (start), climbs 10-300x from the middle with the
    ESS falling, or (end) only the ESS collapses."""
    add_mismatch_series(s, c.profile, c.rng)
    gap_key, ess_key = MISMATCH_KEYS[c.profile]
    m = len(s[gap_key][0])
    i = onset_index(m, c.where, need_after=5)
    if c.where == "start":
        level = float(c.rng.uniform(0.12, 0.4))
        lo, hi = _modify(s, gap_key, i, m, lambda v: level * np.exp(c.rng.normal(0, 0.2, len(v))))
    elif c.where == "middle":
        top = float(c.rng.uniform(0.03, 0.3))
        lo, hi = _modify(
            s,
            gap_key,
            i,
            m,
            lambda v: (
                np.geomspace(max(float(v[0]), 1e-4), top, len(v))
                * np.exp(c.rng.normal(0, 0.2, len(v)))
            ),
        )
        _modify(s, ess_key, i, m, lambda v: np.linspace(float(v[0]), 0.25, len(v)))
    else:
        low = float(c.rng.uniform(0.05, 0.25))
        lo, hi = _modify(
            s, ess_key, i, m, lambda v: np.clip(low + 0.03 * c.rng.standard_normal(len(v)), 0, 1)
        )
    return [_label(c, "rollout_mismatch", lo, hi, "warning")]


def _grad_vanish(s: Series, c: Ctx) -> list[Label]:
    key = c.key("grad")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=6)
    lo, hi = _modify(s, key, i, m, lambda v: v * 0.0)
    return [_label(c, "grad_vanishing", lo, hi, "error")]


def _grad_dips(s: Series, c: Ctx) -> list[Label]:
    key = c.key("grad")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=3, need_before=6)
    picks = [i, min(m - 2, i + max(2, m // 10))]
    steps = s[key][0]
    for p in picks:
        _modify(s, key, p, p + 1, lambda v: v * 3e-4)
    return [_label(c, "grad_collapsed_steps", int(steps[picks[0]]), int(steps[picks[-1]]), "info")]


def _loss_divergence(s: Series, c: Ctx) -> list[Label]:
    key = c.key("loss")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=8)
    rate = 10 ** (float(c.rng.uniform(3, 5)) / max(m - i, 1))  # 3-5 decades by the end
    lo, hi = _modify(s, key, i, m, lambda v: np.abs(v).mean() * rate ** np.arange(1, len(v) + 1))
    return [
        _label(c, "loss_divergence", lo, hi, "error"),
        _label(c, "loss_spike", lo, hi, "warning", required=False),  # its first jumps
    ]


def _nan(s: Series, c: Ctx) -> list[Label]:
    key = c.key("grad") if c.profile == "critic" else c.key("loss")
    m = len(s[key][0])
    i = onset_index(m, c.where)
    width = int(c.rng.integers(1, 4))
    lo, hi = _modify(s, key, i, i + width, lambda v: np.full_like(v, np.nan))
    return [
        _label(c, "nan_inf", lo, hi, "error"),
        # a console prints the nan: its log-pattern rule may say so too
        Label("nonfinite_loss_message", 0, 10**9, "error", required=False),
    ]


def _clipped_surge(s: Series, c: Ctx) -> list[Label]:
    key = c.key("clipped")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_before=5)
    if c.rng.random() < 0.5:  # a single surge: a warning
        val = float(c.rng.uniform(0.35, 0.6))
        lo, hi = _modify(s, key, i, i + 1, lambda v: np.full_like(v, val))
        return [_label(c, "clipped_ratio_surge", lo, hi, "warning")]
    lo, hi = _modify(
        s, key, i, m, lambda v: np.clip(0.95 + 0.02 * c.rng.standard_normal(len(v)), 0, 1)
    )
    return [_label(c, "clipped_ratio_surge", lo, hi, "error")]


def _clip_surge(s: Series, c: Ctx) -> list[Label]:
    key = c.key("clip")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=3, need_before=5)
    val = float(c.rng.uniform(0.15, 0.35))
    lo, hi = _modify(s, key, i, i + 3, lambda v: np.full_like(v, val))
    return [_label(c, "ppo_clip_surge", lo, hi, "warning")]


def _degenerate(s: Series, c: Ctx) -> list[Label]:
    key = c.key("length")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=5)
    lo, hi = _modify(s, key, i, m, np.ones_like)
    return [
        _label(c, "degenerate_generation", lo, hi, "error"),
        _label(c, "length_collapse", lo, hi, "error", required=False),
    ]


def _episode(s: Series, c: Ctx) -> list[Label]:
    """KL -> truncation -> format reward in one window (GRPO)."""
    kl, clipped, fmt = c.key("kl"), c.key("clipped"), c.key("format")
    m = min(len(s[kl][0]), len(s[fmt][0]))
    i = onset_index(m, c.where, need_after=3, need_before=6)
    step = int(s[fmt][0][i])
    j = int(np.searchsorted(s[kl][0], step))
    lo, _ = _modify(s, kl, j, j + 1, lambda v: np.full_like(v, 15.0))
    k = int(np.searchsorted(s[clipped][0], step))
    _modify(s, clipped, k, k + 1, lambda v: np.full_like(v, 0.7))
    _modify(s, fmt, i, i + 2, lambda v: np.array([0.1, 0.4])[: len(v)])
    hi = lo + 3 * c.every
    return [
        _label(c, "instability_episode", lo, hi, "error"),
        *(
            _label(c, r, lo, hi, sev, required=False)
            for r, sev in (
                ("kl_spike", "error"),
                ("clipped_ratio_surge", "warning"),
                ("reward_collapse", "error"),
            )
        ),
    ]


def _d_acc_jump(s: Series, c: Ctx) -> list[Label]:
    key = c.key("d_acc")
    m = len(s[key][0])
    i = onset_index(m, c.where, need_after=2, need_before=1)
    lo, hi = _modify(s, key, i, m, lambda v: np.minimum(98.0, v + 30.0))
    steps = s[key][0]
    return [_label(c, "d_acc_jump", int(steps[i - 1]), lo, "warning")]


def _score_collapse(s: Series, c: Ctx) -> list[Label]:
    key = c.key("student")
    m = len(s[key][0])
    i = 0 if c.where == "start" else onset_index(m, c.where, need_after=8)
    noise = c.rng.normal(0, 0.05, m - i)
    lo, hi = _modify(s, key, i, m, lambda v: v - np.linspace(0, 1.8, len(v)) + noise)
    return [_label(c, "score_collapse", lo, hi, "error")]


def _eval_rise(rule: str, rise: tuple[float, float], also: str):
    def inject(s: Series, c: Ctx) -> list[Label]:
        key = c.key("eval")
        steps, v = s[key]
        m = len(steps)
        i = onset_index(m, c.where, need_after=3)
        r = float(c.rng.uniform(*rise))
        base = v[i - 1]
        lo, hi = _modify(s, key, i, m, lambda x: base * (1 + r * np.linspace(0.4, 1, len(x))))
        return [
            _label(c, rule, int(steps[i - 1]), hi, "warning"),
            _label(c, also, int(steps[i - 1]), hi, "warning", required=False),
        ]

    return inject


def _val_score_drop(s: Series, c: Ctx) -> list[Label]:
    """A verl validation score (``mean@1``) that peaks and then falls by 30-50 %."""
    steps = s[c.key("reward")][0]
    ev = steps[:: max(1, len(steps) // 12)]
    m = len(ev)
    i = onset_index(m, c.where, need_after=3)
    vals = 0.5 + 0.3 * np.minimum(1.0, np.arange(m) / max(i, 1)) + c.rng.normal(0, 0.005, m)
    drop = float(c.rng.uniform(0.3, 0.5))
    vals[i + 1 :] = vals[i] * (1 - drop * np.linspace(0.6, 1, m - i - 1))
    s[VAL_SCORE] = (ev, vals)
    return [_label(c, "degradation_after_best", int(ev[i]), int(ev[-1]), "warning")]


def _degradation(s: Series, c: Ctx) -> list[Label]:
    if c.profile == "ppo":
        return _val_score_drop(s, c)
    return _eval_rise("degradation_after_best", (0.3, 0.6), "overfit_onset")(s, c)


def _throughput(s: Series, c: Ctx) -> list[Label]:
    return _shift(
        "throughput_drop", "throughput", lambda v, r: v * r.uniform(0.3, 0.55), "warning"
    )(s, c)


def _restart(s: Series, c: Ctx) -> list[Label]:  # marker: the writer replays steps
    return []


@dataclass(frozen=True)
class RuleBank:
    """How a rule's anomaly is injected, into which profiles, and which formats can carry it."""

    inject: Callable[[Series, Ctx], list[Label]]
    profiles: tuple[str, ...]


RULES: dict[str, RuleBank] = {
    "kl_spike": RuleBank(_kl_spike, ("grpo", "ppo")),
    "kl_stuck_zero": RuleBank(_kl_stuck, ("grpo", "ppo")),
    "kl_level": RuleBank(_kl_level, ("grpo", "ppo")),
    "rollout_mismatch": RuleBank(_rollout_mismatch, ("ppo", "grpo")),
    "grad_explosion": RuleBank(
        _spike("grad_explosion", "grad", (20, 80), "error"), ("grpo", "sft", "ppo", "critic")
    ),
    "grad_vanishing": RuleBank(_grad_vanish, ("grpo", "sft", "ppo", "critic")),
    "grad_collapsed_steps": RuleBank(_grad_dips, ("grpo", "sft", "ppo")),
    "loss_spike": RuleBank(_spike("loss_spike", "loss", (3, 6), "warning"), ("sft",)),
    "loss_divergence": RuleBank(_loss_divergence, ("sft", "ppo")),
    "nan_inf": RuleBank(_nan, ("grpo", "sft", "ppo", "critic")),
    "clipped_ratio_surge": RuleBank(_clipped_surge, ("grpo", "ppo")),
    "ppo_clip_surge": RuleBank(_clip_surge, ("ppo", "grpo_alt")),
    "length_surge": RuleBank(
        _shift("length_surge", "length", lambda v, r: v * r.uniform(1.8, 2.6), "warning"),
        ("grpo", "ppo"),
    ),
    "length_collapse": RuleBank(
        _shift("length_collapse", "length", lambda v, r: v * r.uniform(0.1, 0.3), "error"),
        ("grpo", "ppo"),
    ),
    "degenerate_generation": RuleBank(_degenerate, ("grpo", "ppo")),
    "reward_collapse": RuleBank(
        _shift("reward_collapse", "reward", lambda v, r: v * r.uniform(0.05, 0.4), "error"),
        ("grpo", "ppo"),
    ),
    "entropy_collapse": RuleBank(
        _shift("entropy_collapse", "entropy", lambda v, r: v * r.uniform(0.2, 0.5), "warning"),
        ("grpo", "ppo"),
    ),
    "wasted_rollouts": RuleBank(
        _shift(
            "wasted_rollouts",
            "zero_std",
            lambda v, r: np.clip(r.uniform(0.75, 0.95) + 0.02 * r.standard_normal(len(v)), 0, 1),
            "warning",
        ),
        ("grpo",),
    ),
    "d_acc_jump": RuleBank(_d_acc_jump, ("critic",)),
    "score_collapse": RuleBank(_score_collapse, ("critic",)),
    "score_diff_out_of_range": RuleBank(
        _shift(
            "score_diff_out_of_range", "score_diff", lambda v, r: v + r.uniform(1.7, 2.5), "warning"
        ),
        ("critic",),
    ),
    "length_bias": RuleBank(
        _shift("length_bias", "corr", lambda v, r: v - r.uniform(0.2, 0.4), "warning"),
        ("critic",),
    ),
    "hard_sample_collapse": RuleBank(
        _shift("hard_sample_collapse", "hard", lambda v, r: v * r.uniform(0.05, 0.2), "warning"),
        ("critic",),
    ),
    "degradation_after_best": RuleBank(_degradation, ("sft", "ppo_val")),
    "overfit_onset": RuleBank(
        _eval_rise("overfit_onset", (0.12, 0.18), "degradation_after_best"), ("sft",)
    ),
    "throughput_drop": RuleBank(_throughput, ("ppo",)),
    "run_restart": RuleBank(_restart, ("grpo_restart", "sft_restart")),
    "instability_episode": RuleBank(_episode, ("grpo",)),
}

#: Second anomalies for multi-anomaly runs, by profile (metrics disjoint from most rules').
SECOND = {
    "grpo": ("grad_explosion", "kl_spike", "reward_collapse"),
    "sft": ("grad_explosion", "loss_spike"),
    "ppo": ("grad_explosion", "throughput_drop", "kl_spike"),
    "critic": ("grad_explosion", "hard_sample_collapse"),
}

# --- formats ------------------------------------------------------------------------------------

FORMATS = {
    "grpo": ("swift_v3", "swift_v4", "trl_tb", "trainer_state", "hf_console"),
    "sft": ("swift_v3", "swift_v4", "trl_tb", "trainer_state"),
    "ppo": ("verl_console", "verl_tb"),
    "critic": ("critic_tb",),
}
#: Largest number of scalars written through tensorboardX (slow writer) per run.
TB_BUDGET = 60_000

LENGTHS = {
    "grpo": (8, 30, 60, 200, 600, 2000, 10_000, 100_000),
    "sft": (100, 400, 1500, 5000, 20_000, 100_000),
    "ppo": (30, 100, 400, 2000),
    "critic": (10, 20, 60, 200, 1000),
}
EVERY = (1, 1, 2, 5, 10, 20, 50)
NOISE = (0.5, 1.0, 1.0, 2.0)
WHERE = ("start", "middle", "end")


def _pick_shape(
    rng: np.random.Generator, profile: str, max_n: int, min_points: int
) -> tuple[int, int]:
    lengths = [n for n in LENGTHS[profile] if n <= max_n] or [min(LENGTHS[profile])]
    for _ in range(50):
        n = int(rng.choice(lengths))
        every = int(rng.choice(EVERY))
        if n // every >= min_points and n // every <= 20_000:
            return n, every
    return min(lengths), 1


def _pick_format(rng: np.random.Generator, profile: str, n_scalars: int, every: int) -> str:
    fmts = [
        f
        for f in FORMATS[profile]
        if not (f.endswith("_tb") and n_scalars > TB_BUDGET)
        and not (f == "hf_console" and every > 10)
    ]
    return str(rng.choice(fmts or ["swift_v3"]))


MIN_POINTS = {"grpo": 8, "sft": 24, "ppo": 16, "critic": 8}


def _anomaly_run(rule: str, v: int, seed: int, max_n: int) -> Scenario:
    bank = RULES[rule]
    rng = np.random.default_rng([seed, v, sum(map(ord, rule))])
    variant = bank.profiles[v % len(bank.profiles)]
    profile = variant.split("_")[0]
    where = WHERE[v % 3]
    alt = variant == "grpo_alt" or (profile == "grpo" and v % 5 == 2)
    n, every = _pick_shape(rng, profile, max_n, MIN_POINTS[profile])
    if variant.endswith("restart"):
        n = max(n, 60)
    noise = float(rng.choice(NOISE))
    series = PROFILES[profile](n, every, noise, int(rng.integers(1 << 30)), **_alt(profile, alt))
    c = Ctx(profile, rng, where, every)
    labels = bank.inject(series, c)
    restart = None
    if rule == "run_restart":
        steps = series[next(iter(series))][0]
        i = onset_index(len(steps), where, need_after=4)
        back = max(1, min(i, int(rng.integers(2, 6)))) if len(steps) > 4 else 1
        restart = (int(steps[i - back]), int(steps[i]))
        labels = [Label("run_restart", restart[0], restart[1], "info", slack=2 * every)]
    if v % 4 == 3 and rule != "run_restart":  # a second anomaly elsewhere in the run
        options = [r for r in SECOND[profile] if r != rule and KEYS[profile].get(_metric(r))]
        if options:
            other = str(rng.choice(options))
            far = WHERE[(v + 1) % 3] if where != "middle" else "end"
            if far == where:
                far = "start"
            labels += RULES[other].inject(series, Ctx(profile, rng, far, every))
    fmt = "swift_v3" if restart else _pick_format(rng, profile, n // every * len(series), every)
    name = f"{rule}-{v:02d}-{profile}-{fmt}-n{n}-e{every}{'-alt' if alt else ''}-{where}"
    note = f"noise x{noise}" + (
        f", +{labels[-1].rule}" if len({lb.rule for lb in labels}) > 1 else ""
    )
    return Scenario(name, profile, fmt, series, labels, every, restart=restart, note=note)


def _alt(profile: str, alt: bool) -> dict[str, Any]:
    return {"alt": True} if profile == "grpo" and alt else {}


def _metric(rule: str) -> str:
    return {
        "grad_explosion": "grad",
        "kl_spike": "kl",
        "reward_collapse": "reward",
        "loss_spike": "loss",
        "throughput_drop": "throughput",
        "hard_sample_collapse": "hard",
    }[rule]


def build_bank(
    seed: int = 0, *, per_rule: int = 12, hard_per_kind: int = 10, max_n: int = 100_000
) -> list[Scenario]:
    """Every series rule x ``per_rule`` anomaly runs, then ``hard_per_kind`` of each hard
    healthy kind (profiles taken in turn), then the fixed cases of ``bank_issue.py``."""
    out = [_anomaly_run(rule, v, seed, max_n) for rule in sorted(RULES) for v in range(per_rule)]
    from bank_healthy import HARD, healthy_run  # noqa: PLC0415 (it imports this module)

    for kind, (profiles, build) in HARD.items():
        for i in range(hard_per_kind):
            out.append(healthy_run(kind, i, seed, max_n, build)(profiles[i % len(profiles)]))
    from bank_issue import issue_cases  # the failure classes of issue 12, fixed (not seeded)

    return out + issue_cases()


def fast_bank(seed: int = 0) -> list[Scenario]:
    """About 60 runs for the test suite: 2 variations per rule, 1 hard healthy run per kind
    (profiles capped at 600 steps)."""
    return build_bank(seed, per_rule=2, hard_per_kind=1, max_n=600)
