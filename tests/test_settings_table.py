"""The config-spellings table (``rules/settings.yaml``) resolved per run: one setting name
whatever the framework spelled it, verl's switches honoured, advice in the run's spelling."""

from __future__ import annotations

import pytest

from trainlens.report.recommendations import FindingAdvice, generic_advice
from trainlens.report.settings import in_framework_spelling
from trainlens.settings import RunSettings, flatten_config, setting_specs

VERL = {
    "actor_rollout_ref": {
        "actor": {
            "grad_clip": 1.0,
            "use_kl_loss": False,
            "kl_loss_coef": 0.001,
            "entropy_coeff": 0,
            "optim": {"lr": 1e-6, "lr_warmup_steps": -1, "lr_warmup_steps_ratio": 0.0},
        },
        "rollout": {"n": 8, "temperature": 1.0, "response_length": "${oc.select:x,512}"},
    },
    "algorithm": {
        "adv_estimator": "grpo",
        "use_kl_in_reward": False,
        "kl_ctrl": {"kl_coef": 0.001},
    },
    "data": {"max_response_length": 1024},
    "trainer": {"total_epochs": 15, "save_freq": -1},
}


def test_every_row_is_well_formed() -> None:
    specs = setting_specs()
    assert {"learning_rate", "max_grad_norm", "beta", "num_generations"} <= set(specs)
    for spec in specs.values():
        assert spec.keys, spec.name
        assert spec.prose_names or spec.name in ("model", "algorithm"), spec.name


def test_verl_nested_config_resolves_to_the_common_names() -> None:
    s = RunSettings(VERL, "verl")
    assert s.number("learning_rate") == 1e-6
    assert s.key("learning_rate") == "actor_rollout_ref.actor.optim.lr"
    assert s.number("max_grad_norm") == 1.0
    assert s.number("num_generations") == 8
    assert s.get("algorithm") == "grpo" and s.is_rl
    assert s.number("num_train_epochs") == 15
    # the rollout's own length is an unresolved interpolation: the data setting is used
    assert s.key("max_completion_length") == "data.max_response_length"


@pytest.mark.parametrize(
    "actor, reward, expected, key",
    [
        (False, False, 0.0, "use_kl_loss"),  # every KL term off
        (True, False, 0.001, "actor_rollout_ref.actor.kl_loss_coef"),
        (False, True, 0.002, "algorithm.kl_ctrl.kl_coef"),
    ],
)
def test_verl_kl_coefficient_follows_its_switches(actor, reward, expected, key) -> None:
    cfg = {
        "actor_rollout_ref": {"actor": {"use_kl_loss": actor, "kl_loss_coef": 0.001}},
        "algorithm": {"use_kl_in_reward": reward, "kl_ctrl": {"kl_coef": 0.002}},
    }
    s = RunSettings(cfg, "verl")
    assert s.kl_coef == expected
    assert key in (s.key("beta") or "")


def test_flat_configs_resolve_as_before() -> None:
    assert RunSettings({"beta": 0.04}).kl_coef == 0.04
    assert RunSettings({"kl_coef": 0.1}).kl_coef == 0.1
    assert RunSettings({}).kl_coef is None
    assert RunSettings({"learning_rate": "1e-6"}).number("learning_rate") == 1e-6  # YAML string
    assert RunSettings({"max_grad_norm": True}).number("max_grad_norm") is None


def test_spelling_for_advice_per_framework() -> None:
    assert RunSettings({}, "verl").spelling("max_grad_norm") == "actor_rollout_ref.actor.grad_clip"
    assert RunSettings({}, "trl").spelling("max_grad_norm") == "max_grad_norm"
    assert RunSettings({}, "llama-factory").spelling("beta") == "pref_beta"
    assert RunSettings({}, "verl").spelling("load_best_model_at_end") is None
    assert not RunSettings({}, "verl").applies("load_best_model_at_end")
    assert RunSettings({}, "trl").applies("load_best_model_at_end")


def test_advice_names_keys_as_the_runs_framework_spells_them() -> None:
    s = RunSettings(VERL, "verl")
    assert (
        in_framework_spelling("Set max_grad_norm to 1.0 and raise beta.", s)
        == "Set actor_rollout_ref.actor.grad_clip to 1.0 and raise "
        "actor_rollout_ref.actor.kl_loss_coef."
    )
    flat = RunSettings({"max_grad_norm": 5.0}, "trl")
    assert in_framework_spelling("Set max_grad_norm to 1.0.", flat) == "Set max_grad_norm to 1.0."


def test_advice_of_another_framework_is_dropped() -> None:
    texts = {
        "en": [
            "Set load_best_model_at_end with metric_for_best_model.",
            "Keep the best checkpoint.",
        ],
        "zh": ["设置 load_best_model_at_end 与 metric_for_best_model。", "保留最佳检查点。"],
    }
    empty = FindingAdvice((), (), ())
    for lang in ("en", "zh"):
        assert generic_advice(texts, lang, empty, RunSettings(VERL, "verl")) == texts[lang][1:]
        assert generic_advice(texts, lang, empty, RunSettings({}, "trl")) == texts[lang]


def test_verl_warmup_minus_one_is_no_warmup() -> None:
    from trainlens.report.settings import ADVISED

    assert ADVISED["warmup_ratio"].followed(RunSettings(VERL, "verl")) is False


def test_flatten_config() -> None:
    assert flatten_config({"a": {"b": 1, "c": {}}, "d": [1]}) == {"a.b": 1, "a.c": {}, "d": [1]}
