"""The gate / watch policies a report proposes: each fails on the run it came from, at or after
the finding's onset, and never on the healthy part before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trainlens.analysis import analyze
from trainlens.gate.evaluate import evaluate_metric
from trainlens.gate.expressions import parse_policy
from trainlens.report.policies import _threshold, gate_block, gate_command, propose_policies

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("example", ["grpo_kl_episodes", "critic_warmup", "degrading_runs"])
def test_every_proposed_policy_catches_its_finding(example) -> None:
    a = analyze(EXAMPLES / example)
    proposed_any = False
    for run in a.runs:
        findings = a.for_run(run)
        for p in propose_policies(run, findings):
            proposed_any = True
            onset = min(f.start_step for f in findings if f.rule == p.rule)
            if p.is_rule:
                assert p.text == p.rule
                continue
            result = evaluate_metric(parse_policy(p.text), run)
            assert not result.passed and result.fired_step == p.fired_step
            assert p.fired_step is not None and p.fired_step >= onset
    assert proposed_any


def test_kl_episode_gets_a_kl_threshold_and_a_pasteable_block() -> None:
    a = analyze(EXAMPLES / "grpo_kl_episodes")
    policies = propose_policies(a.runs[0], a.findings)
    texts = [p.text for p in policies]
    assert any(t.startswith("kl>") for t in texts)
    block = gate_block(policies)
    assert block.startswith("[gate]\nfail_on = [")
    import tomllib

    assert tomllib.loads(block)["gate"]["fail_on"] == texts
    line = gate_command("runs/my run", policies, watch=True)
    assert line.startswith("trainlens watch 'runs/my run' --exit-on ")


def test_a_run_bad_from_the_first_step_gets_rule_policies() -> None:
    a = analyze(EXAMPLES / "grpo_kl_stuck")
    policies = propose_policies(a.runs[0], a.findings)
    assert policies and all(p.is_rule for p in policies)
    assert "kl_stuck_zero" in {p.text for p in policies}
    assert 'fail_on_rule = ["' in gate_block(policies)


@pytest.mark.parametrize(
    "healthy, worst, upward",
    [
        (0.05, 19.6, True),
        (0.8, 0.9, True),
        (2.2, 1.4, False),
        (-1.0, -5.0, False),
        (1.0, 1.001, True),
    ],
)
def test_threshold_is_round_and_between_healthy_and_worst(healthy, worst, upward) -> None:
    t = _threshold(healthy, worst, upward)
    if t is None:
        return  # too close to separate with three significant digits
    assert (healthy < t <= worst) if upward else (worst <= t < healthy)
    assert len(f"{t:g}".replace("-", "").replace(".", "").strip("0")) <= 3
    assert np.isfinite(t)


def test_healthy_run_gets_none() -> None:
    a = analyze(EXAMPLES / "healthy_grpo")
    assert all(propose_policies(r, a.for_run(r)) == [] for r in a.runs)
