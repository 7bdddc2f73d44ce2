"""Recommendations read the run's configuration and never suggest what the run already has."""

from __future__ import annotations

import pytest
import report_builders as b

from trainlens.report.recommendations import finding_advice
from trainlens.report.targets import monitoring_targets
from trainlens.report.text import Translator


def advice_for(tmp_path, args, rule="t_kl_spike"):
    run = b.grpo_run(tmp_path, args)
    finding = next(f for f in b.findings(run) if f.rule == rule)
    fa = finding_advice(run, finding)
    t = Translator("en")
    return (
        {a.text.key: a.text.params for a in fa.advice},
        [t(a.text) for a in fa.advice],
        {c.key for c in fa.causes},
    )


def test_recommendations_follow_the_config(tmp_path):
    weak, weak_text, weak_causes = advice_for(tmp_path / "a", b.GRPO_ARGS)
    assert weak["advice.beta_raise"] == {"beta": "0.04"}
    assert weak["advice.lr_lower"] == {"lr": "5e-5", "new": "5e-6"}
    assert "advice.warmup_add" in weak and "advice.clip_set" in weak
    assert "`beta` is 0.04 → raise it to 0.1–0.2, or use an adaptive KL controller." in weak_text
    assert {"cause.beta_weak", "cause.lr_high_rl", "cause.no_clip"} <= weak_causes

    tuned = {
        **b.GRPO_ARGS,
        "beta": 0.2,
        "learning_rate": 1e-6,
        "warmup_ratio": 0.1,
        "max_grad_norm": 1.0,
    }
    strong, _, strong_causes = advice_for(tmp_path / "b", tuned)
    assert "advice.beta_raise" not in strong and "advice.warmup_add" not in strong
    assert "advice.clip_set" not in strong and "advice.clip_lower" not in strong
    assert strong["advice.lr_lower"] == {"lr": "1e-6", "new": "5e-7"}  # already low: halved
    assert "cause.beta_strong" in strong_causes and "cause.lr_high_rl" not in strong_causes

    loose, _, _ = advice_for(tmp_path / "c", {**tuned, "max_grad_norm": 5.0})
    assert loose["advice.clip_lower"] == {"clip": "5"}


def test_without_config_the_advice_says_what_to_check(tmp_path):
    params, _, _ = advice_for(tmp_path, {})
    assert "advice.beta_unknown" in params and "advice.clip_unknown" in params
    assert params["advice.lr_lower_logged"] == {"lr": "5e-5", "new": "5e-6"}  # from the logs


def test_truncation_advice_quotes_the_limit_and_the_ratio(tmp_path):
    params, _, _ = advice_for(tmp_path, b.GRPO_ARGS, rule="t_clipped")
    assert params["advice.length_limit"] == {"limit": "512", "clipped": "0.875", "step": "150"}
    masked, _, _ = advice_for(
        tmp_path / "m", {**b.GRPO_ARGS, "mask_truncated_completions": False}, rule="t_clipped"
    )
    assert "advice.mask_truncated" in masked
    assert "advice.mask_truncated" not in params  # key absent from the config: not claimed


def _degradation_advice(run):
    finding = next(f for f in b.findings(run) if f.rule == "t_degrade")  # best 100, onset 200
    return {a.text.key: a.text.params for a in finding_advice(run, finding).advice}


def test_degradation_points_at_a_checkpoint_or_at_save_steps(tmp_path):
    run = b.grpo_run(tmp_path)
    assert "advice.checkpoint_unseen" in _degradation_advice(run)  # no checkpoint folders
    (run.path / "checkpoint-300").mkdir()  # only one after the decline
    keys = _degradation_advice(b.load_runs(run.path).runs[0])
    assert keys["advice.checkpoint_save_more"] == {
        "metric": "reward",
        "best": "1.41",
        "best_step": "100",
        "onset": "200",
        "save": "100",
        "new": "25",
    }
    (run.path / "checkpoint-100").mkdir()
    keys = _degradation_advice(b.load_runs(run.path).runs[0])
    assert keys["advice.checkpoint_use"]["checkpoint"] == "checkpoint-100"


@pytest.mark.parametrize(
    "setting, value",
    [
        ("beta", 0.2),
        ("warmup_ratio", 0.1),
        ("max_grad_norm", 1.0),
        ("temperature", 1.0),
    ],
)
def test_never_recommends_the_current_setting(tmp_path, setting, value):
    run = b.grpo_run(tmp_path, {**b.GRPO_ARGS, setting: value})
    for finding in b.findings(run):
        for item in finding_advice(run, finding).advice:
            assert item.setting != setting, (finding.rule, item.text.key)


def test_targets_carry_numbers(tmp_path):
    run = b.grpo_run(tmp_path)
    targets = {t.metric: t for t in monitoring_targets(run, b.findings(run))}
    t = Translator("en")
    assert t(targets["kl"].target) == "KL < 5 throughout, with no sudden jumps."
    assert t(targets["clipped_ratio"].target) == "clipped_ratio < 0.05."
    assert t(targets["kl"].observed) == "19.6 at step 150"
