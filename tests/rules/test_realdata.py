"""The rules on real logs from public repositories (``../shared/realdata``; skipped when absent).

Each test records a decision about what a careful engineer would flag on that run."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from trainlens.analysis import Analysis, analyze
from trainlens.findings import Severity

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not REALDATA.is_dir(), reason="no ../shared/realdata"),
]


@cache
def run(name: str) -> Analysis:
    return analyze(REALDATA / name)


def rules_of(a: Analysis) -> list[tuple[str, str]]:
    return sorted((f.rule, f.metric) for f in a.findings)


def test_trl_grpo_chaos_economy() -> None:
    """Truncation pathology: clipped_ratio >= 0.5 at every logged step and 1.0 for most of the
    second half. One clipped_ratio_surge over the whole run (above the 0.3 limit from step 5):
    a chronic level, not a surge, so its message has no (empty) rolling median. A share that is
    high from the start and stable is normally the run's length budget (information: the bank's
    healthy runs truncated 40-60 % by design); here almost nothing completes (median 0.95 over
    40 steps, >= 90 % over >= 5 steps), which is an error whatever the history.

    grad_norm falls to ~1e-4 at steps 55, 110 and 145 and is back at ~0.3 at the next logged
    step each time: single-point collapses, not a gradient that "collapses and stays there", so
    grad_vanishing (>= 5 consecutive points) stays quiet; grad_collapsed_steps lists them, as
    information (updates that carried almost no gradient). The noisy reward without trend, the
    KL growing 8e-6 -> 0.05 and the reward components that are 0 with occasional dips raise
    nothing."""
    a = run("trl_grpo_chaos_economy")
    assert rules_of(a) == [
        ("clipped_ratio_surge", "clipped_ratio"),
        ("grad_collapsed_steps", "grad_norm"),
    ]
    f = next(f for f in a.findings if f.rule == "clipped_ratio_surge")
    assert (f.start_step, f.end_step, f.peak_value) == (5, 200, 1.0)
    assert f.params["n_points"] == 40 and f.params["from_start"]
    assert f.severity is Severity.ERROR
    text = a.message(f)
    assert "rolling median" not in text and "—" not in text
    assert "above the 30% limit from the first logged steps" in text and "median 95%" in text
    g = next(f for f in a.findings if f.rule == "grad_collapsed_steps")
    assert g.severity is Severity.INFO
    assert g.params["at_steps"] == (55, 110, 145)
    assert "steps 55, 110, 145" in a.message(g)


def test_swift_v2_sft_internvl2_overfit_is_reported_honestly() -> None:
    """eval_loss 0.4617 at 6000 -> 0.5344 at 12000 (+15.7 %) -> 0.5341, while the train loss
    goes to ~1e-3: overfit_onset fires (the eval loss turned up by > 10 % and stayed up while
    the train loss kept falling). degradation_after_best does not: +15.7 % is below its 20 %
    line.

    The late grad_norm spikes of 10-30 against a median of ~0.01 (and loss blips of 0.1 against
    ~0.003) are a memorised training set meeting a batch it has not memorised: they are no larger
    than the gradients the run saw routinely earlier (history_factor) and the loss is noisy on a
    log scale there, so grad_explosion and loss_spike stay quiet. The tiny late gradients of a
    loss that itself fell 100x are convergence, not grad_vanishing."""
    a = run("swift_v2_sft_internvl2_npu")
    assert rules_of(a) == [("overfit_onset", "eval_loss")]
    (f,) = a.findings
    assert (f.params["best_step"], f.peak_step) == (6000, 12000)
    assert f.params["rise_pct"] == pytest.approx(0.157, abs=0.002)


def test_swift_sft_deepclima_first_step_transient_is_no_spike() -> None:
    """A healthy LoRA SFT that opens with loss 20.5 and grad_norm 52 at step 1: the first point
    has no baseline, later points are lower; eval every 100 steps keeps improving. Nothing."""
    a = run("swift_sft_qwen3_8b_lora_deepclima")
    assert a.findings == []
    assert not any(s.rule in ("loss_spike", "grad_explosion") for s in a.skipped)


def test_verl_ppo_console_is_quiet() -> None:
    """A resumed verl PPO run (steps 101-435). actor/ppo_kl is sometimes negative (normal for
    the old->new approx KL, and not the KL-to-reference rule's metric); critic/grad_norm peaks at
    51.8 against 10-20 (< 5x, and it is its own canonical, critic_grad_norm); throughput dips to
    ~100 on the single eval/save step every 30 steps (a rolling median hides them); the val
    score goes 0.901 -> 0.867 (-4 %, far from 20 %). A careful engineer would note the saturated
    score and the low vf_explained_var, but there is no anomaly to raise."""
    a = run("verl_ppo_gae_gsm8k_console_resumed")
    assert a.findings == []
    assert run("verl_ppo_gae_gsm8k_console_resumed").runs[0].keys_for("critic_grad_norm") == [
        "critic/grad_norm"
    ]


def test_td3_carla_generic_rules_catch_the_labelled_failures() -> None:
    """Custom TD3 (no canonical loss): train/actor_loss goes -2.37 -> -2.4e6. Decision: yes, a
    generic rule should catch a loss whose magnitude grows by 6 orders of magnitude - the
    loss_divergence rule (|loss| end/start >= 100x, growing steadily, any sign) on the training
    loss and actor/critic/policy/value losses. gradients/actor_mlp_norm decays to 0
    (grad_vanishing reads every gradient norm: per module it is grad_norm/actor_mlp, the family
    rules/metrics.yaml gives such keys), and train/episode_reward falls from ~900
    (random-policy episodes) to ~130 at episode 18 for good: a real reward collapse."""
    a = run("td3_carla_actor_loss_explosion_day18")
    assert rules_of(a) == [
        ("grad_vanishing", "grad_norm/actor_mlp"),
        ("loss_divergence", "train/actor_loss"),
        ("reward_collapse", "reward"),
    ]
    div = next(f for f in a.findings if f.rule == "loss_divergence")
    assert div.params["growth"] > 1e4 and div.peak_value == pytest.approx(-2.4e6, rel=0.01)
    # the window starts where the growth does (the first point: -2.37 at step 1100) and the
    # message quotes the real first and last values, not the medians of the edges
    assert (div.start_step, div.end_step) == (1100, 5000)
    assert div.evidence[0].step == 1100
    text = a.message(div)
    assert "went from -2.374 at step 1100 to -2.401e+06 at step 5000" in text
    assert next(f for f in a.findings if f.rule == "reward_collapse").start_step == 18


def test_dpo_and_gpt2ja_memorisation_are_quiet() -> None:
    """Multi-epoch DPO: the eval loss plateaus at 0.512-0.514 while the train loss keeps falling
    - a train/eval gap but not a rising eval loss, so overfit_onset stays quiet. The GPT-2 run has
    6 train points and 1 eval point: nothing to judge."""
    assert run("trl_dpo_llama_silver8ce").findings == []
    assert run("hf_trainer_gpt2ja_sft_overfit_emon2358").findings == []


def test_trl_grpo_qwen25_7b_empty_updates_and_a_truncation_surge() -> None:
    """grad_norm is exactly 0.0 on 21 of 40 logged steps (frac_reward_zero_std >= 0.6 on 34):
    updates that carried nothing, listed as information by grad_collapsed_steps (the local level
    is that of the other steps). completions/clipped_ratio rises from ~0 to 1.0 at step 100 and
    stays >= 90 % for 9 logged steps: a surge (from a rolling median of 0), sustained, an error."""
    a = run("trl_grpo_qwen25_7b_numeric_dicts_tqdm")
    g = next(f for f in a.findings if f.rule == "grad_collapsed_steps")
    assert g.severity is Severity.INFO and g.params["n_points"] == 21
    assert g.params["lowest"] == 0.0 and g.params["at_steps"][:3] == (5, 10, 20)
    c = next(f for f in a.findings if f.rule == "clipped_ratio_surge")
    assert (c.start_step, c.peak_step, c.severity) == (85, 100, Severity.ERROR)
    assert c.params["surge"] and not c.params["from_start"]
