"""A rule's causes ordered by the run's evidence (rules/cause_evidence.yaml): supported first,
contradicted last and marked unlikely with the reason, never another framework's story."""

from __future__ import annotations

import numpy as np
import pytest
from rulecases import at, grpo, make

from trainlens.engine.spec import load_rules
from trainlens.findings import Finding, Severity
from trainlens.report.cause_evidence import cause_table, ranked_causes

RULES = load_rules()


def _causes(rule: str, lang: str = "en") -> tuple[list[str], list[str]]:
    spec = RULES.get(rule)
    return list(spec.causes[lang]), list(spec.causes["en"])


def _spike(step: int, peak: float, key: str = "grad_norm") -> Finding:
    return Finding(
        "grad_explosion", Severity.ERROR, "run", "grad_norm", key, step, step, step, peak
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_spike_below_the_clip_is_an_odd_batch_not_the_learning_rate(lang) -> None:
    s = at(grpo(100), "grad_norm", [50], 39.18)
    run = make(s, config={"max_grad_norm": 40.0, "learning_rate": 1e-5})
    items, english = _causes("grad_explosion", lang)
    ranked = ranked_causes(run, "grad_explosion", [_spike(50, 39.18)], items, english, lang)
    assert ranked[0].startswith(items[1])  # the outlier batch, supported by the single spike
    assert ranked[-1].startswith(items[0])  # the learning rate: last, unlikely
    assert ("unlikely" if lang == "en" else "可能性低") in ranked[-1]
    assert "40" in ranked[-1]  # says why: below the clipping threshold


def test_repeated_spikes_above_the_clip_keep_the_learning_rate_first() -> None:
    s = grpo(300)
    run = make(s, config={"max_grad_norm": 1.0})
    spikes = [_spike(step, 5.0) for step in (50, 120, 200)]
    items, english = _causes("grad_explosion")
    ranked = ranked_causes(run, "grad_explosion", spikes, items, english, "en")
    assert ranked[0].startswith(items[0]) and "unlikely" not in ranked[0]


def test_identical_rewards_is_unlikely_when_groups_had_variance() -> None:
    s = grpo(100)
    steps = s["grad_norm"][0]
    s["frac_reward_zero_std"] = (steps, np.full(len(steps), 0.3))
    run = make(s)
    f = Finding("grad_collapsed_steps", Severity.WARNING, "run", "grad_norm", "grad_norm", 40, 40)
    items, english = _causes("grad_collapsed_steps")
    ranked = ranked_causes(run, "grad_collapsed_steps", [f], items, english, "en")
    assert ranked[-1].startswith(items[0]) and "0.3" in ranked[-1]
    s["frac_reward_zero_std"] = (steps, np.ones(len(steps)))
    ranked = ranked_causes(make(s), "grad_collapsed_steps", [f], items, english, "en")
    assert ranked[0].startswith(items[0]) and "supported" in ranked[0]


def test_overfitting_is_not_the_first_cause_of_an_rl_run() -> None:
    run = make(grpo(100))
    f = Finding("degradation_after_best", Severity.WARNING, "run", "reward", "reward", 60, 100)
    items, english = _causes("degradation_after_best")
    ranked = ranked_causes(run, "degradation_after_best", [f], items, english, "en")
    assert not ranked[0].startswith(items[0])
    assert ranked[-1].startswith(items[0]) and "unlikely" in ranked[-1]


def test_every_entry_names_one_cause_or_advice_item_of_its_rule() -> None:
    for rule, entries in cause_table().items():
        spec = RULES.get(rule)
        for e in entries:
            texts = spec.advice["en"] if e.advice else spec.causes["en"]
            hits = [t for t in texts if e.cause.lower() in t.lower()]
            assert len(hits) == 1, (rule, e.cause)


def test_language_model_advice_is_left_out_of_a_custom_rl_run() -> None:
    from trainlens.report.cause_evidence import fitting_advice

    steps = np.arange(1, 101)
    run = make({"train/episode_reward": (steps, np.ones(100)), "grad_norm": (steps, np.ones(100))})
    f = Finding("grad_vanishing", Severity.ERROR, "run", "grad_norm", "grad_norm", 50, 100)
    items, english = list(RULES.get("grad_vanishing").advice["en"]), None
    english = items
    kept = fitting_advice(run, "grad_vanishing", [f], [f], items, english)
    assert not any("frac_reward_zero_std" in k for k in kept) and len(kept) == len(items) - 1
    llm = make(grpo(100))
    assert fitting_advice(llm, "grad_vanishing", [f], [f], items, english) == items


def test_more_generations_are_not_advised_for_one_token_completions() -> None:
    from trainlens.report.cause_evidence import fitting_advice

    run = make(grpo(100))
    f = Finding("wasted_rollouts", Severity.WARNING, "run", "frac_reward_zero_std", "x", 1, 100)
    degenerate = Finding(
        "degenerate_generation", Severity.ERROR, "run", "response_length_mean", "x", 1, 100
    )
    items = list(RULES.get("wasted_rollouts").advice["en"])
    kept = fitting_advice(run, "wasted_rollouts", [f], [f, degenerate], items, items)
    assert not any("num_generations" in k for k in kept)
    assert fitting_advice(run, "wasted_rollouts", [f], [f], items, items) == items
