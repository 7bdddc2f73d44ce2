"""Labels for the real logs in ``../shared/realdata`` (the files stay there; a missing folder is
skipped). Each label restates an anomaly that ``../shared/realdata/README.md`` describes;
``required=False`` marks a finding the project's own decision (``tests/rules/test_realdata.py``)
accepts but the README does not state, so it is neither counted in recall nor as a false alarm.
Runs whose README notes describe no anomaly for a series rule are healthy (no labels). Logs whose
anomalies are only messages (OOM, SIGTERM, a stopped job) are left to the log-pattern tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bank_scenarios import Label

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
ANYWHERE = 10**9


@dataclass(frozen=True)
class RealCase:
    path: str  # relative to REALDATA
    labels: tuple[Label, ...] = ()


REAL_CASES: tuple[RealCase, ...] = (
    RealCase(
        "trl_grpo_chaos_economy",
        (
            Label("clipped_ratio_surge", 5, 200, "error"),  # >= 0.5 everywhere, pinned at 1.0
            Label("grad_collapsed_steps", 55, 145, "info"),  # ~1e-4 at 55, 110, 145
        ),
    ),
    RealCase(
        "trl_grpo_qwen25_7b_numeric_dicts_tqdm",
        (
            Label("wasted_rollouts", 5, 200, "warning"),  # frac_reward_zero_std >= 0.6 on 34/40
            Label("clipped_ratio_surge", 100, 100, "warning", slack=5),  # 1.0 at step 100
            Label("grad_collapsed_steps", 5, 195, "info", required=False),  # exactly 0 on 21/40
            Label("entropy_collapse", 75, 200, "warning", required=False),  # 0.789 @75 -> 0.051
            # mean_length ~300 -> 512 (the cap) at 95-100, with the clipped ratio's surge
            Label("length_surge", 95, 130, "warning", slack=5, required=False),
        ),
    ),
    RealCase(
        "swift_v2_sft_internvl2_npu",
        (Label("overfit_onset", 6000, 12000, "warning"),),  # eval 0.4617 -> 0.5344
    ),
    RealCase(
        "llamafactory_sft_qwen25_7b_medical",
        (Label("overfit_onset", 4500, 6500, "warning"),),  # eval min @4500, then rises
    ),
    RealCase(
        "td3_carla_actor_loss_explosion_day18",
        (
            Label("loss_divergence", 1100, 5000, "error"),  # actor loss -2.37 -> -2.4e6
            Label("grad_vanishing", 1, ANYWHERE, "error"),  # actor_mlp_norm 0.0 at the end
            Label("reward_collapse", 1, ANYWHERE, "error", required=False),
        ),
    ),
    RealCase(
        "wandb_csv_export_nanogpt_loss",
        (
            Label("overfit_onset", 800, 2000, "warning"),  # val 1.610 @800 -> 4.266 @2000
            Label("degradation_after_best", 800, 2000, "warning", required=False),
            Label("loss_spike", 0, ANYWHERE, "warning", required=False),  # tokenizer swaps
            Label("loss_divergence", 0, ANYWHERE, "error", required=False),
        ),
    ),
    RealCase(
        "tensorboard_csv_export_keras_wrn",
        (Label("loss_spike", 1, 1, "warning"),),  # 12.44 @0 -> 18.38 @1 -> 3.954
    ),
    # healthy: no series anomaly in the README's notes
    RealCase("swift_sft_qwen3_8b_lora_deepclima"),  # step-1 outlier, then healthy
    RealCase("trl_grpo_qwen35_9b_string_dicts"),  # sparse binary rewards, zero-std groups
    RealCase("verl_ppo_gae_gsm8k_console_resumed"),  # resumed at 101, saturated score
    RealCase("trl_dpo_llama_silver8ce"),  # eval plateau, no rise
    RealCase("hf_trainer_gpt2ja_sft_overfit_emon2358"),  # 6 train points, 1 eval point
)
