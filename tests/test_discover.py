"""Discovery: any nesting, grouping of companion files, newest checkpoint state, run names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from logwriters import REALDATA, write_swift_run, write_trainer_state

from trainlens.discover import SourceFormat, discover
from trainlens.errors import TrainlensError


def touch_events(folder: Path, suffix: str = "1700000000.host.1.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events.out.tfevents.{suffix}"
    path.write_bytes(b"")
    return path


def test_nested_logdir_of_many_kinds(tmp_path):
    # ms-swift output dir with TensorBoard under runs/ and checkpoints
    swift = write_swift_run(
        tmp_path / "team/grpo/v0-20250101-000000",
        [(1, {"loss": 1.0})],
        10,
        args={"learning_rate": 1e-6},
    )
    touch_events(swift / "runs")
    for n in (5, 10):
        write_trainer_state(
            swift / f"checkpoint-{n}" / "trainer_state.json", [{"loss": 1, "step": 1}]
        )
    # HF trainer output: checkpoints only (no final trainer_state): newest wins
    hf = tmp_path / "team/sft"
    for n in (100, 300, 200):
        write_trainer_state(hf / f"checkpoint-{n}" / "trainer_state.json", [{"loss": 1, "step": n}])
    touch_events(hf / "runs" / "Jun29_06-31-19_host")
    # plain TensorBoard runs: two event files in one dir = one run
    touch_events(tmp_path / "tb/exp_a", "1.host.1.0")
    touch_events(tmp_path / "tb/exp_a", "2.host.1.0")
    touch_events(tmp_path / "tb/exp_b/deeper/deepest")
    # verl file logger
    (tmp_path / "verl/proj").mkdir(parents=True)
    (tmp_path / "verl/proj/exp1.jsonl").write_text(json.dumps({"step": 1, "data": {"a": 1}}) + "\n")
    # noise that must be ignored
    (tmp_path / "verl/proj/completions.jsonl").write_text('{"step": 1, "data": {}}\n')
    (tmp_path / "notes.txt").write_text("nothing to see")
    (tmp_path / ".git").mkdir()
    touch_events(tmp_path / ".git" / "hidden")

    runs = {r.name: r for r in discover(tmp_path)}
    assert sorted(runs) == [
        "tb/exp_a",
        "tb/exp_b/deeper/deepest",
        "team/grpo/v0-20250101-000000",
        "team/sft",
        "verl/proj/exp1",
    ]
    grpo = runs["team/grpo/v0-20250101-000000"]
    assert grpo.primary.format is SourceFormat.SWIFT_JSONL
    assert [c.format for c in grpo.companions] == [
        SourceFormat.TENSORBOARD,
        SourceFormat.HF_TRAINER_STATE,
    ]
    assert grpo.companions[1].path.parent.name == "checkpoint-10"
    assert grpo.config_path == swift / "args.json"
    assert [c.step for c in grpo.checkpoints] == [5, 10]
    sft = runs["team/sft"]
    assert sft.primary.format is SourceFormat.TENSORBOARD
    assert sft.companions[0].path.parent.name == "checkpoint-300"
    assert [c.step for c in sft.checkpoints] == [100, 200, 300]
    assert len(runs["tb/exp_a"].primary.files) == 2
    assert runs["verl/proj/exp1"].primary.format is SourceFormat.VERL_JSONL


def test_root_trainer_state_beats_checkpoint_copies(tmp_path):
    write_trainer_state(tmp_path / "trainer_state.json", [{"loss": 1, "step": 9}])
    write_trainer_state(tmp_path / "checkpoint-50" / "trainer_state.json", [{"loss": 1, "step": 5}])
    (run,) = discover(tmp_path)
    assert run.primary.path == tmp_path / "trainer_state.json"
    assert run.name == tmp_path.name


def test_verl_checkpoints_found_beside_tensorboard_log(tmp_path):
    touch_events(tmp_path / "tensorboard_log/proj/exp")
    for n in (25, 50):
        (tmp_path / f"checkpoints/proj/exp/global_step_{n}").mkdir(parents=True)
    (run,) = discover(tmp_path)
    assert run.name == "tensorboard_log/proj/exp"
    assert [c.step for c in run.checkpoints] == [25, 50]


def test_single_files(tmp_path):
    ev = touch_events(tmp_path / "x")
    (run,) = discover(ev)
    assert run.primary.format is SourceFormat.TENSORBOARD and run.primary.files == (ev,)
    swift = write_swift_run(tmp_path / "s", [(1, {"loss": 1.0})], 5)
    (run,) = discover(swift / "logging.jsonl")
    assert run.primary.format is SourceFormat.SWIFT_JSONL


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p / "missing", "no such file"),
        (lambda p: p, "no training logs found"),
        (lambda p: (p / "readme.md").write_text("hi") and p / "readme.md", "not a training log"),
    ],
)
def test_errors(tmp_path, make, fragment):
    with pytest.raises(TrainlensError, match=fragment):
        discover(make(tmp_path))


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_realdata_layout():
    runs = {r.name: r for r in discover(REALDATA)}
    csv_runs = {n for n in runs if n.startswith("wandb_csv_export_nanogpt_loss/wandb_export/")}
    assert len(csv_runs) == 8  # one run per <run> of the W&B panel export
    formats = {n: r.primary.format.value for n, r in runs.items() if n not in csv_runs}
    assert formats == {
        "accelerate_ds_estep_nohup_sigterm/nohup": "text_log",
        "hf_trainer_gpt2ja_sft_overfit_emon2358": "tensorboard",
        "llamafactory_dpo_grpo_360_stopped": "llamafactory_jsonl",
        "llamafactory_sft_qwen25_7b_medical": "llamafactory_jsonl",
        "swift_sft_qwen3_8b_lora_deepclima": "swift_jsonl",
        "swift_v2_sft_internvl2_npu": "swift_jsonl",
        "td3_carla_actor_loss_explosion_day18": "tensorboard",
        "tensorboard_csv_export_keras_wrn": "tensorboard_csv",
        "trl_dpo_llama_silver8ce": "hf_trainer_state",
        "trl_grpo_chaos_economy": "hf_trainer_state",
        "trl_grpo_qwen25_7b_numeric_dicts_tqdm/rho1.00_seed44": "hf_console",
        "trl_grpo_qwen35_9b_string_dicts/gate1_adq_seed42": "hf_console",
        "verl_grpo_console_config_dump_qwen2vl/output": "verl_console",
        "verl_grpo_opd_qwen25_3b_oom_then_relaunch/wandb/run-20251203_213214-dsx6uos2": "text_log",
        "verl_grpo_opd_qwen25_3b_oom_then_relaunch/wandb/run-20251203_214315-cr3q4lay": (
            "verl_console"
        ),
        "verl_ppo_gae_gsm8k_console_resumed/verl_demo": "verl_console",
        "verl_sft_wandb_run_dir": "verl_console",
        "wandb_csv_export_nanogpt_loss": "kv_console",
    }
    keras = runs["tensorboard_csv_export_keras_wrn"]
    assert len(keras.primary.files) == 5  # one CSV export per tag, one run
    oom = runs["verl_grpo_opd_qwen25_3b_oom_then_relaunch/wandb/run-20251203_213214-dsx6uos2"]
    # the Hydra dir of the job that started this W&B run (21:29:39, the run started 21:32:14)
    assert oom.config_kind == "hydra" and "21-29-39" in str(oom.config_path)
    hf = runs["hf_trainer_gpt2ja_sft_overfit_emon2358"]
    # the TensorBoard dir (.0 and .2 files) holds the history; the nested hparams dir and the
    # trainer_state.json come along as companions of the same run
    assert hf.primary.format is SourceFormat.TENSORBOARD and len(hf.primary.files) == 2
    assert {c.format for c in hf.companions} == {
        SourceFormat.TENSORBOARD,
        SourceFormat.HF_TRAINER_STATE,
    }


def test_swift_output_dir_with_only_tensorboard_logs(tmp_path):
    out = tmp_path / "v3-20250101-000000"
    touch_events(out / "runs")
    (out / "args.json").write_text('{"rlhf_type": "grpo"}')
    (run,) = discover(tmp_path)
    assert run.name == "v3-20250101-000000" and run.config_path == out / "args.json"
    (run,) = discover(out)
    assert run.name == out.name and run.primary.format is SourceFormat.TENSORBOARD
