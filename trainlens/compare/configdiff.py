"""The run-config keys that differ between runs: known concepts by name (model, learning rate,
KL coefficient...) whatever framework key holds them, then every other key that all configs set
to different values (except paths, names and hosts), then the keys only some configs set, the
most relevant first (another framework version adds dozens of such keys that say nothing)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from trainlens.compare.model import ConfigDiff
from trainlens.run import Run
from trainlens.settings import flatten_config, setting_specs

#: Config concepts shown by name, whatever framework key holds them (first key found wins): the
#: settings of ``rules/settings.yaml`` that carry a ``compare`` name.
CONFIG_CONCEPTS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (spec.compare, spec.all_keys) for spec in setting_specs().values() if spec.compare
)
#: Config keys that differ between any two runs without meaning anything (paths, names, hosts).
_NOISE_TAILS = {
    "output_dir",
    "logging_dir",
    "run_name",
    "experiment_name",
    "project_name",
    "add_version",
    "local_rank",
    "hub_model_id",
    "hub_token",
    "hub_strategy",
    "push_to_hub",
    "report_to",
    "resume_from_checkpoint",
    "default_local_dir",
    "default_hdfs_dir",
    "save_dir",
    "ckpt_dir",
    "logging_steps",
    "logging_first_step",
    "ignore_data_skip",
    "deepspeed",
    "wandb_project",
    "wandb_run_name",
    "swanlab_project",
    "swanlab_exp_name",
    "output",
    "time",
    "timestamp",
    "date",
    "hostname",
    "master_addr",
    "master_port",
    "device_map",
    "local_world_size",
    "dataloader_num_workers",
}
_NOISE_SUFFIXES = ("_dir", "_path", "_file", "_time", "_timestamp", "_token", "_url")


#: Words (``_``-separated parts) and phrases that make a key set by only some configs worth
#: showing first: training settings.
_RELEVANT_WORDS = frozenset(
    {
        "lr",
        "batch",
        "epoch",
        "epochs",
        "warmup",
        "lora",
        "dtype",
        "precision",
        "beta",
        "kl",
        "clip",
        "temperature",
        "seed",
        "optim",
        "optimizer",
        "scheduler",
        "quant",
        "quantization",
    }
)
_RELEVANT_PHRASES = (
    "learning_rate",
    "train_type",
    "num_generations",
    "max_length",
    "max_steps",
    "seq_length",
    "completion_length",
    "gradient_accumulation",
    "weight_decay",
)


def config_differences(runs: Sequence[Run]) -> ConfigDiff:
    """The model plus every config concept whose value differs, every key all configs set to
    different values, and (``partial``) the keys only some configs set, most relevant first (with
    one config: the model and the known concepts it sets)."""
    flat = {run.name: flatten_config(run.meta.config) for run in runs if run.meta.config}
    names = tuple(flat)
    without = tuple(run.name for run in runs if not run.meta.config)
    keys: list[str] = []
    values: dict[str, dict[str, Any]] = {n: {} for n in names}
    consumed: set[str] = set()
    for concept, candidates in CONFIG_CONCEPTS:
        per_run: dict[str, Any] = {}
        for n in names:
            hit = next((c for c in candidates if c in flat[n]), None)
            if hit is not None:
                consumed.add(hit)
            per_run[n] = flat[n][hit] if hit is not None else None
        present = any(v is not None for v in per_run.values())
        if not present:
            continue
        if concept == "model" or len(names) == 1 or not _same(list(per_run.values())):
            keys.append(concept)
            for n in names:
                values[n][concept] = per_run[n]
    partial: list[str] = []
    if len(names) > 1:
        all_keys = sorted(set().union(*(flat[n] for n in names)) - consumed)
        for key in all_keys:
            if _is_noise(key):
                continue
            holders = [n for n in names if key in flat[n]]
            if len(holders) < len(names):
                if all(flat[n][key] is None for n in holders):
                    continue  # null where set, absent elsewhere: no difference
                partial.append(key)
                for n in holders:
                    values[n][key] = flat[n][key]
                continue
            vals = [flat[n][key] for n in names]
            if not _same(vals):
                keys.append(key)
                for n in names:
                    values[n][key] = flat[n][key]
    families: dict[str, int] = {}
    for key in partial:
        families[_family(key)] = families.get(_family(key), 0) + 1
    partial.sort(
        key=lambda k: _relevance(k, [values[n].get(k) for n in names], families[_family(k)])
    )
    return ConfigDiff(
        keys=tuple(keys),
        values=values,
        with_config=names,
        without_config=without,
        partial=tuple(partial),
    )


def _family(key: str) -> str:
    """``adalora_beta1`` → ``adalora``: the first word of the key's last part."""
    return key.rsplit(".", 1)[-1].lower().lstrip("_").split("_", 1)[0]


def _relevance(key: str, values: list[Any], family: int) -> tuple[bool, bool, bool, int, str]:
    """Sort key of a key only some configs set: keys outside a large family of options (the
    eight ``adalora_*`` options of a tuner nobody uses) first, then training-setting words, then
    keys set to something (not None / false / empty), then shallow keys, then by name."""
    lowered = key.lower()
    words = set(lowered.replace(".", "_").split("_"))
    relevant = bool(words & _RELEVANT_WORDS) or any(p in lowered for p in _RELEVANT_PHRASES)
    is_set = any(_is_set(v) for v in values)
    return (family >= 3, not relevant, not is_set, key.count("."), key)


def _is_set(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict)):
        return bool(value)
    return True


def _is_noise(key: str) -> bool:
    tail = key.rsplit(".", 1)[-1].lower()
    return tail in _NOISE_TAILS or tail.endswith(_NOISE_SUFFIXES) or "token" in tail


def _same(values: list[Any]) -> bool:
    dumped = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return len(dumped) <= 1
