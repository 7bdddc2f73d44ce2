"""Recommendations that read the run's real configuration (ms-swift ``args.json``, HF trainer
args): which setting to change, from what, to what. A setting the run already has is never
recommended; without a config the advice says what to check instead. The rules' own generic
advice and causes are shown after these, minus the items that the run's config settles
(:mod:`trainlens.report.settings`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trainlens.findings import Finding
from trainlens.report.evidence import member_metrics
from trainlens.report.fmt import num
from trainlens.report.replay_advice import replay_command
from trainlens.report.settings import (
    ADVISED,
    BETA_MIN,
    CLIP_HIGH,
    CLIP_MAX,
    TEMPERATURE_MIN,
    Settings,
    unsettled,
)
from trainlens.report.shape import direction
from trainlens.report.text import Text
from trainlens.run import Run

#: Metrics whose anomaly in this direction means "updates are too large" (lr / clipping advice).
UNSTABLE_WHEN = {
    "kl": "up",
    "grad_norm": "up",
    "loss": "up",
    "approx_kl": "up",
    "clip_ratio": "up",
    "d_acc": "up",
    "score_diff": "up",
    "hard_sample_ratio": "down",
}
LENGTH_METRICS = ("clipped_ratio", "response_length_mean", "response_length_max")
SIGNAL_METRICS = ("frac_reward_zero_std", "reward_std", "entropy")
RL_LR_HIGH = 1e-5  # above this, RL fine-tuning learning rates are unusually high (a cause)
#: Above these a learning rate is cut 10x, below them halved (RL policy, other training).
LR_CUT_TENFOLD = {"rl": 3e-6, "other": 5e-5}
EARLY_FRACTION = 0.1  # an anomaly in the first 10% of training points at warmup
#: Truncation is a cause (length-limit advice) only when the run's normal level is this high:
#: the median clipped_ratio, which one-step spikes do not move.
CHRONIC_CLIPPED = 0.05
#: A KL spike is "transient" when KL is back under this multiple of its median at the next
#: logged step; the KL baseline is healthy under KL_HEALTHY.
KL_RECOVERED = 3.0
KL_HEALTHY = 1.0


@dataclass(frozen=True)
class Advice:
    """One recommendation: ``setting`` is the config key it changes (for de-duplication)."""

    text: Text
    setting: str
    priority: int  # lower first


@dataclass(frozen=True)
class Cause:
    """One cause read from the run: ``setting`` is the config key it is about (the rule's generic
    causes about the same setting are then left out), "" when it is about none."""

    text: Text
    setting: str = ""


@dataclass(frozen=True)
class FindingAdvice:
    """What the report adds to a finding: run-specific causes (ranked before the rule's) and
    config-aware recommendations (before the rule's generic advice)."""

    causes: tuple[Cause, ...]
    advice: tuple[Advice, ...]
    #: Settings the run shows are not the problem (the length limit when truncation is no
    #: chronic state): the rule's generic causes and advice about them are left out.
    dismissed: tuple[str, ...] = ()


def _round_lr(x: float) -> str:
    """A learning rate as a user would type it: one significant digit (``5e-6``)."""
    exp = math.floor(math.log10(x))
    mantissa = round(x / 10**exp)
    if mantissa == 10:
        mantissa, exp = 1, exp + 1
    return f"{mantissa}e{exp}"


def _peak_lr(run: Run) -> float | None:
    arrays = run.arrays("learning_rate")
    if arrays is None:
        return None
    values = arrays[1][np.isfinite(arrays[1])]
    return float(values.max()) if len(values) and values.max() > 0 else None


def _no_warmup(run: Run, cfg: Settings) -> bool | None:
    """True when the run had no warmup (config, else the logged learning rate), None unknown."""
    if cfg.has("warmup_ratio") or cfg.has("warmup_steps"):
        return not (cfg.number("warmup_ratio") or cfg.number("warmup_steps"))
    arrays = run.arrays("learning_rate")
    if arrays is None or len(arrays[1]) < 3:
        return None
    values = arrays[1][np.isfinite(arrays[1])]
    return bool(len(values) and values[0] >= 0.9 * values.max() > 0)


def _is_early(run: Run, finding: Finding) -> bool:
    first, last = run.first_step, run.last_step
    if first is None or last is None or last <= first:
        return False
    return finding.start_step - first <= EARLY_FRACTION * (last - first)


Part = tuple[list[Cause], list[Advice]]


def _stability(run: Run, finding: Finding, cfg: Settings) -> Part:
    causes: list[Cause] = []
    advice: list[Advice] = []
    lr = cfg.number("learning_rate")
    source = "config"
    if lr is None:
        lr, source = _peak_lr(run), "logs"
    rl = cfg.is_rl or run.resolve("kl") is not None
    if lr:
        key = "advice.lr_lower" if source == "config" else "advice.lr_lower_logged"
        factor = 10 if lr > LR_CUT_TENFOLD["rl" if rl else "other"] else 2
        advice.append(
            Advice(Text(key, {"lr": num(lr), "new": _round_lr(lr / factor)}), "learning_rate", 20)
        )
        if rl and lr >= RL_LR_HIGH:
            causes.append(Cause(Text("cause.lr_high_rl", {"lr": num(lr)}), "learning_rate"))
    else:
        advice.append(Advice(Text("advice.lr_unknown"), "learning_rate", 20))
    no_warmup = _no_warmup(run, cfg)
    if no_warmup:
        advice.append(Advice(Text("advice.warmup_add"), "warmup_ratio", 25))
        if _is_early(run, finding):
            causes.append(
                Cause(Text("cause.no_warmup", {"step": str(finding.start_step)}), "warmup_ratio")
            )
    return causes, advice


def _clipping(finding: Finding, cfg: Settings) -> Part:
    if not cfg.known:
        return [], [Advice(Text("advice.clip_unknown"), "max_grad_norm", 30)]
    clip = cfg.number("max_grad_norm")
    if clip is None or clip <= 0:
        return (
            [Cause(Text("cause.no_clip"), "max_grad_norm")],
            [Advice(Text("advice.clip_set"), "max_grad_norm", 15)],
        )
    if clip > CLIP_MAX:
        return [], [Advice(Text("advice.clip_lower", {"clip": num(clip)}), "max_grad_norm", 15)]
    if finding.metric == "grad_norm":
        return [Cause(Text("cause.clip_active", {"clip": num(clip)}), "max_grad_norm")], []
    return [], []


def _transient_kl(run: Run) -> bool:
    """True when the KL baseline is healthy and every spike is gone at the next logged step:
    the penalty then held the policy back, and raising beta is no first remedy."""
    arrays = run.arrays("kl")
    if arrays is None or len(arrays[1]) < 10:
        return False
    values = arrays[1][np.isfinite(arrays[1])]
    if not len(values):
        return False
    median = float(np.median(values))
    if median > KL_HEALTHY:
        return False
    high = np.flatnonzero(values > KL_RECOVERED * max(median, 1e-6))
    runs_end = [int(i) for i in high if i + 1 not in set(high.tolist())]
    return all(i + 1 < len(values) for i in runs_end) and len(high) <= 0.02 * len(values)


def _kl(run: Run, finding: Finding, cfg: Settings) -> Part:
    transient = _transient_kl(run)
    if not cfg.known:
        return [], [Advice(Text("advice.beta_unknown"), "beta", 12)]
    beta = cfg.number("beta")
    if beta is None:
        return [], [Advice(Text("advice.beta_unknown"), "beta", 12)] if cfg.is_rl else []
    if beta == 0:
        return (
            [Cause(Text("cause.beta_zero"), "beta")],
            [Advice(Text("advice.beta_zero"), "beta", 10)],
        )
    if beta < BETA_MIN:
        return (
            [Cause(Text("cause.beta_weak", {"beta": num(beta)}), "beta")],
            [
                Advice(
                    Text("advice.beta_raise", {"beta": num(beta)}), "beta", 40 if transient else 10
                )
            ],
        )
    return [Cause(Text("cause.beta_strong", {"beta": num(beta)}), "beta")], []


def truncation_chronic(run: Run) -> bool:
    """True when truncation is the run's normal state, not a one-step consequence of a bad
    update: the median clipped_ratio (spikes do not move it) is at least CHRONIC_CLIPPED."""
    arrays = run.arrays("clipped_ratio")
    if arrays is None:
        return False
    values = arrays[1][np.isfinite(arrays[1])]
    return bool(len(values)) and float(np.median(values)) >= CHRONIC_CLIPPED


def _resume(run: Run, first: int) -> list[Advice]:
    """Recurring spikes: resume from the last checkpoint saved before the first one (named)."""
    before = [c for c in run.meta.checkpoints if c.step < first]
    if not before:
        return []
    chosen = max(before, key=lambda c: c.step)
    params = {"checkpoint": chosen.path.name, "step": str(first)}
    return [Advice(Text("advice.resume_from", params), "checkpoint", 22)]


def _length(run: Run, finding: Finding, cfg: Settings) -> Part:
    """Truncation or a length surge. A lower limit truncates more completions, never fewer: the
    advice is to raise it when answers are legitimately long, otherwise to keep truncated
    completions out of the loss or penalise length."""
    peak = finding.peak_value
    step = finding.peak_step if finding.peak_step is not None else finding.start_step
    clipped = _value_at(run, "clipped_ratio", step) if finding.metric != "clipped_ratio" else peak
    params = {"step": str(step), "clipped": num(clipped)}
    limit = cfg.number("max_completion_length")
    causes: list[Cause] = []
    advice: list[Advice] = []
    if limit:
        params["limit"] = num(limit)
        params["key"] = cfg.key("max_completion_length") or "max_completion_length"
        key = "advice.length_limit" if clipped is not None else "advice.length_limit_noclip"
        advice.append(Advice(Text(key, params), "max_completion_length", 10))
        causes.append(Cause(Text("cause.length_limit", params), "max_completion_length"))
    else:
        longest = _max_of(run, "response_length_max")
        if longest is not None:
            params["limit"] = num(longest)
            advice.append(
                Advice(Text("advice.length_limit_inferred", params), "max_completion_length", 10)
            )
        else:
            advice.append(Advice(Text("advice.length_unknown"), "max_completion_length", 10))
    masking = cfg.get("mask_truncated_completions")
    switch = cfg.key("mask_truncated_completions")
    if masking is False and switch is not None:
        advice.append(
            Advice(Text("advice.mask_truncated", {"key": switch}), "mask_truncated_completions", 11)
        )
    elif masking is True and switch is not None:
        advice.append(
            Advice(
                Text("advice.length_penalty_masked", {"key": switch}),
                "mask_truncated_completions",
                11,
            )
        )
    else:  # the config does not say: name both frameworks' switches
        advice.append(Advice(Text("advice.mask_truncated_unset"), "mask_truncated_completions", 11))
    return causes, advice


def _signal(metric: str, cfg: Settings) -> list[Advice]:
    advice = []
    temperature = cfg.number("temperature")
    if temperature is not None and temperature < TEMPERATURE_MIN:
        advice.append(
            Advice(Text("advice.temperature_raise", {"t": num(temperature)}), "temperature", 12)
        )
    elif temperature is not None and metric == "entropy" and cfg.is_rl:
        # already sampled at 1.0, so the rules' "raise the temperature" is settled; the other
        # half of that advice, clip-higher, is what is left to try (unless the run has it)
        if ADVISED["epsilon_high"].followed(cfg) is not True:
            advice.append(
                Advice(
                    Text("advice.clip_higher", {"t": num(temperature), "high": num(CLIP_HIGH)}),
                    "epsilon_high",
                    12,
                )
            )
    generations = cfg.number("num_generations")
    if metric != "entropy" and generations is not None and generations > 0:
        advice.append(
            Advice(
                Text(
                    "advice.generations_more", {"n": num(generations), "new": num(2 * generations)}
                ),
                "num_generations",
                13,
            )
        )
    if not cfg.known:
        advice.append(Advice(Text("advice.signal_unknown"), "temperature", 14))
    return advice


def _degradation(run: Run, finding: Finding, cfg: Settings) -> list[Advice]:
    advice = []
    checkpoint = checkpoint_for(run, finding)
    params = {
        "metric": finding.metric,
        "best": num(finding.best_value),
        "best_step": str(finding.best_step),
        "onset": str(finding.start_step),
    }
    if checkpoint is not None:
        params["checkpoint"] = checkpoint
        key = {
            "overfit_onset": "advice.checkpoint_use_overfit",
            "degradation_after_best": "advice.checkpoint_use_crossed",
        }.get(finding.rule, "advice.checkpoint_use")
        advice.append(Advice(Text(key, params), "checkpoint", 1))
    elif not run.meta.checkpoints:
        advice.append(Advice(Text("advice.checkpoint_unseen", params), "checkpoint", 1))
    else:
        save = cfg.number("save_steps")
        if save and save > 1:
            params |= {"save": num(save), "new": num(max(1, int(save // 4)))}
            advice.append(Advice(Text("advice.checkpoint_save_more", params), "save_steps", 5))
        else:
            advice.append(Advice(Text("advice.checkpoint_none", params), "checkpoint", 5))
    if finding.metric.startswith("eval") and cfg.get("load_best_model_at_end") is False:
        advice.append(
            Advice(
                Text("advice.best_at_end", {"metric": finding.metric}), "load_best_model_at_end", 6
            )
        )
    epochs = cfg.number("num_train_epochs")
    best_epoch = _value_at(run, "epoch", finding.best_step)
    if finding.metric.startswith("eval") and epochs and best_epoch and best_epoch < epochs - 0.5:
        # round to the nearest epoch: the next whole epoch is usually already past the best
        new = max(1, int(math.floor(best_epoch + 0.5)))
        advice.append(
            Advice(
                Text(
                    "advice.epochs_fewer",
                    {
                        "epochs": num(epochs),
                        "best_epoch": num(round(best_epoch, 1)),
                        "best_step": str(finding.best_step),
                        "new": str(new),
                    },
                ),
                "num_train_epochs",
                7,
            )
        )
    return advice


def finding_advice(
    run: Run, finding: Finding, occurrences: Sequence[Finding] = ()
) -> FindingAdvice:
    """Run-specific causes and config-aware recommendations for one finding (``occurrences``:
    every time its rule fired, for recurring spikes)."""
    cfg = run.meta.settings
    metrics = member_metrics(finding)
    way = direction(run, finding)
    causes: list[Cause] = []
    advice: list[Advice] = []

    def add(part: Part) -> None:
        causes.extend(part[0])
        advice.extend(part[1])

    if finding.best_step is not None:
        advice.extend(_degradation(run, finding, cfg))
    episode = len(metrics) > 1
    if "kl" in metrics and (way == "up" or episode):
        add(_kl(run, finding, cfg))
    # Length-limit advice only when truncation is chronic (its normal level is high), never
    # for a length collapse nor for a one-step surge that follows a bad update.
    dismissed: tuple[str, ...] = ()
    if any(m in LENGTH_METRICS for m in metrics):
        if way != "down" and truncation_chronic(run):
            add(_length(run, finding, cfg))
        else:
            dismissed = ("max_completion_length", "mask_truncated_completions")
    if UNSTABLE_WHEN.get(finding.metric) == way or (
        episode and any(m in UNSTABLE_WHEN for m in metrics)
    ):
        add(_stability(run, finding, cfg))
        if any(m in ("grad_norm", "loss", "kl") for m in metrics):
            add(_clipping(finding, cfg))
        if finding.best_step is None and (len(occurrences) > 1 or episode):
            first = min((o.start_step for o in occurrences), default=finding.start_step)
            advice.extend(_resume(run, min(first, finding.start_step)))
    if finding.metric == "frac_reward_zero_std" or (
        finding.metric in SIGNAL_METRICS and way in ("down", "flat")
    ):
        advice.extend(_signal(finding.metric, cfg))
    replay = replay_command(run, finding, metrics, way)
    if replay is not None:
        advice.append(Advice(replay, "replay", 60))
    return FindingAdvice(tuple(dict.fromkeys(causes)), tuple(_dedupe(advice)), dismissed)


def generic_advice(
    texts: Mapping[str, Sequence[str]], lang: str, extra: FindingAdvice, settings: Settings
) -> list[str]:
    """A rule's own advice in ``lang`` minus the items about settings only that the config-aware
    advice already covers or that the run already has at the advised value (``max_grad_norm
    1.0`` when it is 1.0, ``raise beta`` when it is 0.2), minus items about settings the run's
    framework does not have, with the keys they name in the run's own spelling."""
    covered = {a.setting for a in extra.advice} | set(extra.dismissed)
    return unsettled(texts, lang, covered, settings)


def generic_causes(
    texts: Mapping[str, Sequence[str]], lang: str, extra: FindingAdvice
) -> list[str]:
    """A rule's own causes in ``lang`` minus those about settings only that a cause read from
    the run already states with its value (``beta too small`` after "the KL penalty is weak
    (beta 0.04)"; ``learning rate too high`` after "the learning rate 5e-5 is high"). The
    advised values are no test here: "bf16 precision loss" is a cause precisely when the run
    has bf16 on."""
    stated = {c.setting for c in extra.causes if c.setting} | set(extra.dismissed)
    return unsettled(texts, lang, stated, terms=True)


def _dedupe(advice: list[Advice]) -> list[Advice]:
    seen: set[str] = set()
    out = []
    for item in sorted(advice, key=lambda a: a.priority):
        if item.setting not in seen:
            seen.add(item.setting)
            out.append(item)
    return out


def immediate_actions(per_finding: list[FindingAdvice], limit: int = 5) -> list[Advice]:
    """The first recommendation per setting across findings (findings in rank order)."""
    seen: set[str] = set()
    out: list[Advice] = []
    for fa in per_finding:
        for item in fa.advice:
            if item.setting not in seen:
                seen.add(item.setting)
                out.append(item)
    out.sort(key=lambda a: a.priority)
    return out[:limit]


def checkpoint_for(run: Run, finding: Finding) -> str | None:
    """The checkpoint to keep for a degradation finding: the engine's choice, else the saved
    checkpoint nearest the best step and not after the decline (its folder name)."""
    if finding.recommended_checkpoint:
        return _checkpoint_name(finding.recommended_checkpoint)
    if finding.best_step is None or not run.meta.checkpoints:
        return None
    from trainlens.checkpoints import recommend_checkpoint

    chosen = recommend_checkpoint(run.meta.checkpoints, finding.best_step, finding.start_step)
    return chosen.path.name if chosen is not None else None


def _checkpoint_name(text: str) -> str:
    """``/remote/out/v0-.../checkpoint-400`` → ``checkpoint-400`` (no absolute paths)."""
    return text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _value_at(run: Run, name: str, step: int | None) -> float | None:
    arrays = run.arrays(name)
    if arrays is None or step is None or not len(arrays[0]):
        return None
    steps, values = arrays
    i = int(np.searchsorted(steps, step, side="right")) - 1
    if i < 0:
        return None
    value = float(values[i])
    return value if math.isfinite(value) else None


def _max_of(run: Run, name: str) -> float | None:
    arrays = run.arrays(name)
    if arrays is None:
        return None
    values = arrays[1][np.isfinite(arrays[1])]
    return float(values.max()) if len(values) else None
