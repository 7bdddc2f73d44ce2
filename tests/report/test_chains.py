"""Causal chains (rules/chains.yaml): each known chain fires on its scenario and stays out of
the others, roots are ranked by the run's evidence, and the data table is well formed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainlens.analysis import analyze
from trainlens.engine.spec import load_rules
from trainlens.findings import Finding, Severity
from trainlens.report.chains import chain_specs, diagnose
from trainlens.report.model import rule_titles

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: example → the chain each of its runs should get (runs without a chain: absent)
EXPECTED = {
    "grpo_kl_stuck": {"grpo_kl_stuck": "not_updating"},
    "grpo_kl_episodes": {"grpo_kl_episodes": "kl_episode"},
    "critic_warmup": {"critic_warmup": "critic_shortcut"},
    "sft_overfit": {"sft_overfit": "over_training"},
    "degrading_runs": {"qwen3_8b": "policy_collapse"},
    "healthy_grpo": {},
}


@pytest.fixture(scope="module")
def analyses() -> dict[str, object]:
    return {name: analyze(EXAMPLES / name) for name in EXPECTED}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_each_chain_fires_on_its_scenario_and_no_other(analyses, example) -> None:
    a = analyses[example]
    got = {}
    for run in a.runs:
        chains = diagnose(run, a.for_run(run), rule_titles(a.rules))
        assert len(chains) <= 1, [d.spec.id for d in chains]
        if chains:
            got[run.name] = chains[0].spec.id
    assert got == EXPECTED[example]


def test_roots_are_ranked_by_evidence(analyses) -> None:
    a = analyses["sft_overfit"]
    (d,) = diagnose(a.runs[0], a.findings, rule_titles(a.rules))
    assert d.root.spec.id == "too_many_epochs"  # num_train_epochs 3
    no_decay = next(r for r in d.roots if r.spec.id == "lr_not_decayed")
    assert no_decay.unlikely  # the run's scheduler is cosine: the data contradicts it
    assert d.roots[-1] is no_decay
    a = analyses["critic_warmup"]
    (d,) = diagnose(a.runs[0], a.findings, rule_titles(a.rules))
    assert d.root.spec.id == "surface_feature" and not d.root.unlikely


def test_an_experiment_the_run_already_did_is_not_proposed(analyses) -> None:
    a = analyses["grpo_kl_episodes"]  # beta 0.04 already: "raise beta to 0.04" is dropped
    (d,) = diagnose(a.runs[0], a.findings, rule_titles(a.rules))
    changes = [e.change["en"] for e in d.experiments]
    assert changes and not any("KL coefficient" in c for c in changes)
    assert any("learning_rate = 1e-6" in c for c in changes)


def test_a_kl_episode_needs_a_kl_spike(analyses) -> None:
    """An episode explanation never starts with a KL spike in a run that had none."""
    a = analyses["grpo_kl_episodes"]
    without = [f for f in a.findings if f.rule != "kl_spike"]
    ids = [d.spec.id for d in diagnose(a.runs[0], without, rule_titles(a.rules))]
    assert "kl_episode" not in ids


def _finding(rule: str, step: int) -> Finding:
    return Finding(rule, Severity.ERROR, "r", "m", "m", step, step + 5)


def test_simultaneous_onsets_are_no_evidence_of_order(analyses) -> None:
    a = analyses["grpo_kl_episodes"]
    run = a.runs[0]
    same = [_finding("kl_spike", 2800), _finding("reward_collapse", 2800)]
    (d,) = diagnose(run, same, rule_titles(a.rules))
    shortcut = next(r for r in d.roots if r.spec.id == "reward_shortcut")
    assert not shortcut.unlikely and shortcut.support == 0
    later = [_finding("kl_spike", 2800), _finding("reward_collapse", 2900)]
    (d,) = diagnose(run, later, rule_titles(a.rules))
    assert next(r for r in d.roots if r.spec.id == "reward_shortcut").unlikely


def test_the_table_is_well_formed() -> None:
    rules = load_rules()
    known = {s.id for s in rules.select((), ())}
    for spec in chain_specs():
        for rule in (*spec.members, *spec.unless, *(r for g in spec.needs for r in g)):
            assert rule in known, (spec.id, rule)
        texts = [spec.title, spec.story, spec.distinguish, *(r.text for r in spec.roots)]
        texts += [t for e in spec.experiments for t in (e.change, e.baseline, e.decide)]
        for text in texts:
            assert set(text) == {"en", "zh"} and all(text.values()), (spec.id, text)
        assert spec.roots, spec.id


def test_json_document_carries_the_chain(analyses) -> None:
    from trainlens.render.findings_json import analysis_document

    doc = analysis_document(analyses["grpo_kl_stuck"], "zh")
    (chain,) = doc["chains"]
    assert chain["chain"] == "not_updating" and chain["title"] == "策略没有在更新"
    assert [m["rule"] for m in chain["members"]][-1] == "kl_stuck_zero"
    assert "chains" not in analysis_document(analyses["healthy_grpo"])
    assert np.isfinite(chain["members"][0]["start_step"])


def test_sparse_reward_chain_and_its_boundary_with_not_updating(analyses) -> None:
    a = analyses["grpo_kl_episodes"]
    run = a.runs[0]
    titles = rule_titles(a.rules)
    sparse = [_finding("wasted_rollouts", 100), _finding("grad_collapsed_steps", 120)]
    assert [d.spec.id for d in diagnose(run, sparse, titles)] == ["not_learning_sparse"]
    stuck = [*sparse, _finding("kl_stuck_zero", 100)]
    assert [d.spec.id for d in diagnose(run, stuck, titles)] == ["not_updating"]
    assert diagnose(run, sparse[:1], titles) == []  # one finding is no chain
