"""The verdict names the most consequential problem: of one severity, a lost outcome (reward,
score, eval, a broken run) before an instability before wasted compute, whatever starts first or
fires most often."""

from __future__ import annotations

import pytest

from trainlens.engine.spec import IMPACTS, load_rules
from trainlens.findings import Finding, Severity
from trainlens.report.model import impact_rank, rank_key

RULES = load_rules()


def finding(rule: str, start: int, severity: Severity = Severity.ERROR, **kw) -> Finding:
    return Finding(rule, severity, "run", "m", "m", start, start + 10, **kw)


def ranked(*found: Finding) -> list[str]:
    return [f.rule for f in sorted(found, key=lambda f: rank_key(f, RULES))]


def test_a_collapse_of_the_outcome_outranks_earlier_louder_instabilities() -> None:
    spikes = [finding("kl_spike", s) for s in (10, 20, 30)]
    collapse = finding("reward_collapse", 400)
    assert ranked(*spikes, collapse)[0] == "reward_collapse"
    # severity first: a warning outcome does not outrank an error
    assert ranked(finding("kl_spike", 10), finding("overfit_onset", 5, Severity.WARNING)) == [
        "kl_spike",
        "overfit_onset",
    ]
    # wasted compute comes after an instability of the same severity
    warn = Severity.WARNING
    assert ranked(finding("throughput_drop", 1, warn), finding("length_surge", 90, warn)) == [
        "length_surge",
        "throughput_drop",
    ]


def test_an_episode_counts_as_its_most_consequential_member() -> None:
    episode = finding("instability_episode", 300, members=("kl_spike@kl", "reward_collapse@reward"))
    only_spikes = finding("instability_episode", 50, members=("kl_spike@kl", "grad_explosion@g"))
    assert impact_rank(episode, RULES) == IMPACTS.index("outcome")
    assert impact_rank(only_spikes, RULES) == IMPACTS.index("instability")
    # the episode holding the reward collapse explains it: it comes first, then the collapse
    order = ranked(only_spikes, finding("reward_collapse", 300), episode)
    assert order[:2] == ["instability_episode", "reward_collapse"]
    assert sorted([only_spikes, episode], key=lambda f: rank_key(f, RULES))[0] is episode


@pytest.mark.parametrize(
    "rule", ["reward_collapse", "score_collapse", "nan_inf", "loss_divergence", "cuda_oom"]
)
def test_lost_outcomes_and_broken_runs_are_outcomes(rule: str) -> None:
    assert RULES.get(rule).impact == "outcome"


def test_unknown_impact_is_rejected(tmp_path) -> None:
    from trainlens.engine.spec import parse_rule
    from trainlens.errors import TrainlensError

    text = (RULES.get("kl_spike").path).read_text(encoding="utf-8")
    bad = tmp_path / "kl_spike.yaml"
    bad.write_text(text.replace("family: kl\n", "family: kl\nimpact: loud\n"), encoding="utf-8")
    with pytest.raises(TrainlensError, match="impact must be one of"):
        parse_rule(bad)
