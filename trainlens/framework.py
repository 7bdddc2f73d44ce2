"""Guess which framework wrote a run, from its file kinds, config and key names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trainlens.metrics import normalise_key

_VERL_PREFIXES = (
    "actor/",
    "critic/score/",
    "critic/rewards/",
    "critic/vf_",
    "val-core/",
    "perf/mfu",
    "response_length/",
    "timing_s/",
    "training/global_step",
)
_OPENRLHF_KEYS = {"policy_loss", "ppo_clip_ratio", "actor_lr", "critic_loss", "return"}
_TRL_MARKERS = (
    "objective/",
    "policy/approxkl",
    "rewards/chosen",
    "logps/",
    "completions/",
    "frac_reward_zero_std",
    "num_tokens",
    "rewards/margins",
    "reward_std",
    "completion_length",
    "sampling/",
)
_HF_KEYS = {"loss", "learning_rate", "epoch", "grad_norm", "eval_loss", "train_runtime"}
#: Fields only ms-swift writes into args.json.
_SWIFT_CONFIG_KEYS = ("train_type", "rlhf_type", "model_type", "tuner_backend", "swift_version")


def guess_framework(fmt: str, keys: Iterable[str], config: dict[str, Any] | None) -> str:
    """One of ``ms-swift, trl, verl, openrlhf, llama-factory, hf-trainer, unknown``."""
    if fmt == "swift_jsonl" or (config and any(k in config for k in _SWIFT_CONFIG_KEYS)):
        return "ms-swift"
    if fmt in ("verl_jsonl", "verl_console"):
        return "verl"
    if fmt == "llamafactory_jsonl" or (
        config and "stage" in config and "finetuning_type" in config
    ):
        return "llama-factory"
    if config and "actor_rollout_ref" in config:  # a verl (Hydra) config
        return "verl"
    raw = list(keys)
    norm = {normalise_key(k) for k in raw}
    if any(k.startswith(_VERL_PREFIXES) for k in norm):
        return "verl"
    if len(norm & _OPENRLHF_KEYS) >= 2:
        return "openrlhf"
    if any(k.startswith(_TRL_MARKERS) for k in norm):
        return "trl"
    hf_tb = sum(k.startswith("train/") for k in raw) and norm & _HF_KEYS
    if fmt in ("hf_trainer_state", "hf_console") or (hf_tb and norm & {"learning_rate", "epoch"}):
        return "hf-trainer"
    return "unknown"
