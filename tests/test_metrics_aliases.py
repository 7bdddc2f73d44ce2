"""Canonical names per framework, user aliases, and the alias file's validation."""

from __future__ import annotations

import re

import pytest

from trainlens.errors import TrainlensError
from trainlens.metrics import AliasTable, normalise_key, writer_spelling, writer_tolerant

CASES = {
    "ms-swift / TRL GRPO": {
        "kl": "kl",
        "loss": "loss",
        "grad_norm": "grad_norm",
        "learning_rate": "learning_rate",
        "reward": "reward",
        "reward_std": "reward_std",
        "rewards/Format/mean": "reward/format",
        "rewards/Accuracy/mean": "reward/accuracy",
        "completions/mean_length": "response_length_mean",
        "completions/min_length": "response_length_min",
        "completions/max_length": "response_length_max",
        "completions/clipped_ratio": "clipped_ratio",
        "clip_ratio/region_mean": "clip_ratio",
        "entropy/mean": "entropy",
        "train_speed(iter/s)": "throughput",
        "frac_reward_zero_std": "frac_reward_zero_std",
        "epoch": "epoch",
        "eval_reward": "eval_score",
        "eval_loss": "eval_loss",
        "token_acc": "token_acc",
        "memory(GiB)": "memory",
    },
    "ms-swift v3.2 names": {
        "completion_length": "response_length_mean",
        "response_clip_ratio": "clipped_ratio",
        "clip_ratio": "clip_ratio",
        "rewards/Format": "reward/format",
    },
    "HF TensorBoard callback prefixes": {
        "train/kl": "kl",
        "train/loss": "loss",
        "train/rewards/Format/mean": "reward/format",
        "train/completions/clipped_ratio": "clipped_ratio",
        "eval/loss": "eval_loss",
        "eval/accuracy": "eval_score",
        "train/learning_rate": "learning_rate",
    },
    "TRL PPO / DPO": {
        "objective/kl": "kl",
        "objective/entropy": "entropy",
        "objective/scores": "reward",
        "policy/approxkl_avg": "approx_kl",
        "policy/clipfrac_avg": "clip_ratio",
        "loss/policy_avg": "loss",
        "rewards/chosen": "reward_chosen",
        "rewards/rejected": "reward_rejected",
        "rewards/margins": "reward_margin",
        "rewards/accuracies": "reward_accuracy",
        "eval_rewards/accuracies": "eval_score",
    },
    "verl": {
        "actor/kl_loss": "kl",
        "actor/reward_kl_penalty": "kl",
        "actor/pg_loss": "loss",
        "actor/ppo_kl": "approx_kl",
        "actor/pg_clipfrac": "clip_ratio",
        "actor/entropy": "entropy",
        "actor/grad_norm": "grad_norm",
        "actor/lr": "learning_rate",
        "critic/score/mean": "reward",
        "response_length/mean": "response_length_mean",
        "response_length/max": "response_length_max",
        "response_length/clip_ratio": "clipped_ratio",
        "perf/throughput": "throughput",
        "perf/mfu/actor": "mfu",
        "val-core/openai/gsm8k/reward/mean@1": "eval_score",
        "val/test_score/gsm8k": "eval_score",
        "training/epoch": "epoch",
    },
    "training-inference mismatch (verl, ms-swift >= 3.11, TRL)": {
        "rollout_corr/k3_kl": "rollout_kl",
        "rollout_corr/kl": "rollout_kl",
        "rollout_correction/k3_kl": "rollout_kl",
        "rollout_corr/log_ppl_abs_diff": "rollout_logp_diff",
        "rollout_correction/log_ppl_abs_diff": "rollout_logp_diff",
        "training/rollout_probs_diff_mean": "rollout_logp_diff",
        "train/sampling/sampling_logp_difference/mean": "rollout_logp_diff",
        "rollout_corr/rollout_is_eff_sample_size": "rollout_is_ess",
        "rollout_correction/ess": "rollout_is_ess",
    },
    "OpenRLHF": {
        "train/policy_loss": "loss",
        "train/kl": "kl",
        "train/reward": "reward",
        "train/response_length": "response_length_mean",
        "train/actor_lr": "learning_rate",
        "train/ppo_clip_ratio": "clip_ratio",
    },
    "custom critics, any prefix": {
        "critic/d_acc": "d_acc",
        "train/d_acc": "d_acc",
        "disc/discriminator_acc": "d_acc",
        "critic/score_diff": "score_diff",
        "critic/teacher_score_mean": "teacher_score",
        "critic/student_score_mean": "student_score",
        "rm/hard_sample_ratio": "hard_sample_ratio",
        "critic/length_reward_corr": "length_reward_corr",
        "critic/grad_norm_before_clip": "grad_norm",
    },
}


@pytest.mark.parametrize("framework", sorted(CASES))
def test_framework_keys_resolve(framework):
    table = AliasTable.load()
    got = {k: (r.canonical if (r := table.resolve(k)) else None) for k in CASES[framework]}
    assert got == CASES[framework]


def test_unknown_keys_keep_their_raw_name():
    table = AliasTable.load()
    for key in ("gradients/actor_mlp_norm", "my/custom_metric", "timing_s/gen"):
        assert table.resolve(key) is None


def test_normalise_key():
    assert normalise_key("train/rewards/Format/mean") == "rewards/Format/mean"
    assert normalise_key("eval/loss") == "eval_loss"
    assert normalise_key("actor/kl_loss") == "actor/kl_loss"


def test_preferred_key_order_and_direction():
    table = AliasTable.load()
    assert table.resolve("kl").rank < table.resolve("actor/kl_loss").rank
    assert table.info("eval_loss").direction == "down"
    assert table.info("reward/format").family == "reward"
    assert table.info("reward/format").direction == "up"


def test_user_aliases_from_file_and_config(tmp_path):
    extra = tmp_path / "aliases.yaml"
    extra.write_text(
        "metrics:\n  d_acc:\n    keys: [my_team/discrim_accuracy]\n"
        "  kl: [policy_kl_to_ref]\n  my_metric: {keys: [foo/bar], family: reward}\n"
    )
    table = AliasTable.load([extra], inline={"reward": ["score_of_policy"]})
    assert table.resolve("my_team/discrim_accuracy").canonical == "d_acc"
    assert table.resolve("policy_kl_to_ref").canonical == "kl"
    assert table.resolve("foo/bar").canonical == "my_metric"
    assert table.resolve("score_of_policy").canonical == "reward"
    assert table.resolve("kl").canonical == "kl"  # built-ins still there
    # a user alias overrides a built-in mapping of the same key
    override = AliasTable.load(inline={"my_kl": ["kl"]})
    assert override.resolve("kl").canonical == "my_kl"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("metrics: [1, 2]", "expected a mapping"),
        ("metrics:\n  kl: {keyz: [a]}", "unknown field"),
        ("metrics:\n  kl: {patterns: ['(']}", "bad pattern"),
        ("metrics: {kl: [a", "invalid YAML"),
    ],
)
def test_bad_alias_files_name_the_file(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(TrainlensError, match=fragment) as info:
        AliasTable.load([path])
    assert str(path) in info.value.message


def _written_tags(tmp_path, tags):
    """The tags as tensorboardX stores them in an event file (it cleans tag names)."""
    from tensorboardX import SummaryWriter

    from trainlens.load import load_runs

    writer = SummaryWriter(str(tmp_path))
    for tag in tags:
        writer.add_scalar(tag, 1.0, 1)
    writer.close()
    (run,) = load_runs(tmp_path).runs
    return sorted(run.keys)


def test_tensorboardx_rewrites_tags_and_the_table_still_knows_them(tmp_path):
    logged = [
        "val-core/openai/gsm8k/reward/mean@1",
        "val-aux/math/acc/mean@32",
        "train_speed(iter/s)",
        "memory(GiB)",
        "mfu(%)",
    ]
    written = _written_tags(tmp_path, logged)
    # what the writer does: characters outside [-/\w.] become "_"
    assert written == sorted(
        [
            "val-core/openai/gsm8k/reward/mean_1",
            "val-aux/math/acc/mean_32",
            "train_speed_iter/s_",
            "memory_GiB_",
            "mfu___",
        ]
    )
    assert written == sorted(writer_spelling(k) for k in logged)
    table = AliasTable.load()
    got = {k: table.resolve(k).canonical for k in written}
    assert got == {
        "val-core/openai/gsm8k/reward/mean_1": "eval_score",
        "val-aux/math/acc/mean_32": "eval_score",
        "train_speed_iter/s_": "throughput",
        "memory_GiB_": "memory",
        "mfu___": "mfu",
    }


def test_writer_spellings_do_not_widen_other_matches():
    table = AliasTable.load()
    # only characters a writer replaces may stand for "_": these stay unknown
    for key in (
        "val-core/gsm8k/reward/mean1",
        "val-core/gsm8k/reward/meanx1",
        "mfu__",
        "memoryGiB",
    ):
        assert table.resolve(key) is None, key
    # a genuine key keeps its own canonical name even when it is another key's spelling
    user = AliasTable.load(inline={"a_b": ["a_b"], "ab_at": ["a@b"]})
    assert user.resolve("a_b").canonical == "a_b"
    assert user.resolve("a@b").canonical == "ab_at"


@pytest.mark.parametrize(
    "pattern, key, matches",
    [
        (r"val-core/.+/mean@\d+", "val-core/x/mean_12", True),
        (r"val-core/.+/mean@\d+", "val-core/x/mean@12", True),
        (r"val-core/.+/mean@\d+", "val-core/x/meanA12", False),
        (r"rate\(%\)", "rate___", True),
        (r"rate\(%\)", "rate(%)", True),
        (r"a{2,3}@", "aa_", True),  # the quantifier's comma is syntax
        (r"(?P<name>[^/@]+)@k", "top_k", True),  # a class is left as it is
        (r"(?!x)y@z", "y_z", True),
        (r"x(?<=x)@", "x_", True),
    ],
)
def test_writer_tolerant_patterns(pattern, key, matches):
    assert bool(re.fullmatch(writer_tolerant(pattern), key)) == matches
