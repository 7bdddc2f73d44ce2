"""Merging files of one run (resumed jobs, duplicated lines) and the load_runs entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from logwriters import REALDATA, swift_line, write_swift_run, write_trainer_state

from trainlens.errors import TrainlensError
from trainlens.load import load_runs
from trainlens.merge import merge_frames
from trainlens.readers._frame import make_frame


def frame(key, steps, values):
    return make_frame([key] * len(steps), np.array(steps), np.array(values, float))


def test_resumed_run_keeps_latest_values_and_records_the_restart():
    first = frame("loss", [10, 20, 30, 40, 50], [1, 2, 3, 4, 5])
    second = frame("loss", [30, 40, 50, 60], [30, 40, 50, 60])
    table, restarts = merge_frames([("a.tfevents", first), ("b.tfevents", second)])
    assert table["step"].tolist() == [10, 20, 30, 40, 50, 60]
    assert table["value"].tolist() == [1, 2, 30, 40, 50, 60]
    assert table["source"].tolist() == ["a.tfevents"] * 2 + ["b.tfevents"] * 4
    (restart,) = restarts
    assert (restart.step, restart.previous_step, restart.source, restart.overwritten) == (
        30,
        50,
        "b.tfevents",
        3,
    )


def test_duplicate_lines_are_counted_once_without_a_restart():
    dup = frame("loss", [1, 1, 5, 5, 10, 10], [9, 9, 8, 8, 7, 7.5])
    table, restarts = merge_frames([("log", dup)])
    assert restarts == []
    assert dict(zip(table["step"], table["value"])) == {1: 9, 5: 8, 10: 7.5}


def test_files_with_different_tags_are_not_restarts():
    train = frame("train/loss", [0, 100, 200], [3, 2, 1])
    evals = frame("eval/loss", [0, 100, 200], [3.5, 2.5, 1.5])
    table, restarts = merge_frames([("train", train), ("eval", evals)])
    assert restarts == [] and len(table) == 6
    codes = table["key"].cat.codes.to_numpy()
    assert (np.diff(codes) >= 0).all()  # sorted by key, as Run's slicing needs


def test_load_swift_run_end_to_end(tmp_path):
    rows = [
        (s, {"loss": 1.0 / s, "kl": 0.01 * s, "rewards/Format/mean": 0.5}) for s in range(1, 11)
    ]
    write_swift_run(
        tmp_path / "run", rows, 10, args={"learning_rate": 1e-6, "beta": 0.04, "max_steps": -1}
    )
    write_trainer_state(
        tmp_path / "run" / "checkpoint-10" / "trainer_state.json",
        [{"loss": 0.1, "step": 10}],
        best_metric=0.25,
        best_global_step=10,
    )
    result = load_runs(tmp_path)
    (run,) = result.runs
    assert result.warnings == []
    assert run.format == "swift_jsonl" and run.meta.framework == "ms-swift"
    assert run.meta.config["beta"] == 0.04 and run.meta.max_steps == 10
    assert run.meta.best_metric == 0.25  # from the checkpoint's trainer_state (metadata only)
    assert [s.role for s in run.meta.sources] == ["history", "metadata"]
    assert [c.step for c in run.meta.checkpoints] == [10]
    kl = run.series("kl")
    assert kl.index.tolist() == list(range(1, 11)) and kl.iloc[-1] == pytest.approx(0.1)
    assert run.series("reward/format").name == "rewards/Format/mean"
    assert run.resolve("loss") == "loss" and run.series("no_such_metric") is None
    assert (run.first_step, run.last_step) == (1, 10)
    assert set(run.to_frame().columns) == {"run", "source", "key", "step", "value", "wall_time"}


def test_resumed_jsonl_run(tmp_path):
    lines = [swift_line(s, 100, {"loss": float(s)}) for s in (10, 20, 30, 40)]
    lines += [swift_line(s, 100, {"loss": s + 0.5}) for s in (30, 40, 50)]  # resumed at 20
    (tmp_path / "logging.jsonl").write_text("\n".join(lines) + "\n")
    (run,) = load_runs(tmp_path).runs
    assert run.series("loss").to_dict() == {10: 10.0, 20: 20.0, 30: 30.5, 40: 40.5, 50: 50.5}
    (restart,) = run.meta.restarts
    assert (restart.step, restart.previous_step, restart.overwritten) == (30, 40, 2)


def test_bad_files_warn_but_other_runs_load(tmp_path):
    write_swift_run(tmp_path / "good", [(1, {"loss": 1.0})], 1)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "logging.jsonl").write_text("not json\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "trainer_state.json").write_text("")
    result = load_runs(tmp_path)
    assert sorted(r.name for r in result.runs) == ["broken", "empty", "good"]
    by_file = {
        w.source.rsplit("/", 2)[-2]: w.message
        for w in result.warnings
        if w.source.endswith((".jsonl", ".json"))
    }
    assert by_file["broken"].startswith("line 1 (byte 0): not valid JSON (")
    assert by_file["empty"] == "empty file"
    no_data = sorted(
        w.source.rsplit("/", 1)[-1]
        for w in result.warnings
        if w.message == "no metrics could be read from this run"
    )
    assert no_data == ["broken", "empty"] and len(result.warnings) == 4


def test_no_logs_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(TrainlensError, match="no training logs"):
        load_runs(tmp_path)


def test_verl_jsonl_run(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "exp.jsonl").write_text(
        "".join(
            json.dumps({"step": s, "data": {"actor/kl_loss": 0.1 * s, "critic/score/mean": 0.5}})
            + "\n"
            for s in range(1, 4)
        )
    )
    (run,) = load_runs(tmp_path).runs
    assert run.name == "proj/exp" and run.meta.framework == "verl"
    assert run.series("kl").tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert run.series("reward").tolist() == [0.5, 0.5, 0.5]


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_every_realdata_run_loads_cleanly():
    result = load_runs(REALDATA)
    # the only warnings: a sibling YAML that is not this run's config, and W&B's cut lines
    assert sorted(Path(w.source).name for w in result.warnings) == [
        "deepseek_lora_dpo_grpo.yaml",
        "output.log",
    ]
    runs = {r.name: r for r in result.runs}
    assert len(runs) == 26
    frameworks = {n: r.meta.framework for n, r in runs.items() if "/wandb_export/" not in n}
    assert frameworks == {
        "accelerate_ds_estep_nohup_sigterm/nohup": "unknown",
        "hf_trainer_gpt2ja_sft_overfit_emon2358": "hf-trainer",
        "llamafactory_dpo_grpo_360_stopped": "llama-factory",
        "llamafactory_sft_qwen25_7b_medical": "llama-factory",
        "swift_sft_qwen3_8b_lora_deepclima": "ms-swift",
        "swift_v2_sft_internvl2_npu": "ms-swift",
        "td3_carla_actor_loss_explosion_day18": "unknown",
        "tensorboard_csv_export_keras_wrn": "unknown",
        "trl_dpo_llama_silver8ce": "trl",
        "trl_grpo_chaos_economy": "trl",
        "trl_grpo_qwen25_7b_numeric_dicts_tqdm/rho1.00_seed44": "trl",
        "trl_grpo_qwen35_9b_string_dicts/gate1_adq_seed42": "trl",
        "verl_grpo_console_config_dump_qwen2vl/output": "verl",
        "verl_grpo_opd_qwen25_3b_oom_then_relaunch/wandb/run-20251203_213214-dsx6uos2": "verl",
        "verl_grpo_opd_qwen25_3b_oom_then_relaunch/wandb/run-20251203_214315-cr3q4lay": "verl",
        "verl_ppo_gae_gsm8k_console_resumed/verl_demo": "verl",
        "verl_sft_wandb_run_dir": "verl",
        "wandb_csv_export_nanogpt_loss": "unknown",
    }
    v2 = runs["swift_v2_sft_internvl2_npu"]
    assert v2.meta.restarts == []
    grad = v2.series("grad_norm")
    assert grad.index.is_unique and grad.iloc[0] == 484.0  # duplicated lines counted once
    assert v2.series("eval_loss").loc[12000] == pytest.approx(0.5344, abs=1e-4)
    verl = runs["verl_ppo_gae_gsm8k_console_resumed/verl_demo"]
    assert (verl.first_step, verl.last_step) == (101, 435)
    assert verl.series("eval_score").name == "val-core/openai/gsm8k/reward/mean@1"
    hf = runs["hf_trainer_gpt2ja_sft_overfit_emon2358"]
    assert hf.series("loss").index.tolist() == [500, 1000, 1500, 2000, 2500, 3000]
    assert hf.series("eval_score").iloc[-1] == pytest.approx(0.9991, abs=1e-4)
    td3 = runs["td3_carla_actor_loss_explosion_day18"]
    assert td3.series("train/actor_loss").min() < -2e6


def test_a_flood_of_bad_lines_is_condensed_per_file(tmp_path):
    lines = [f"garbage {i}" for i in range(500)] + [swift_line(1, 1, {"loss": 1.0})]
    (tmp_path / "logging.jsonl").write_text("\n".join(lines) + "\n")
    result = load_runs(tmp_path)
    messages = [m.message for m in result.warnings]
    assert [m.split(":")[0] for m in messages[:3]] == [
        "line 1 (byte 0)",
        "line 2 (byte 10)",
        "line 3 (byte 20)",
    ]
    # 10 lines of 10 bytes, 90 of 11, 399 of 12 before line 500
    assert messages[3] == "497 more problem(s) in this file, the last at line 500 (byte 5878)"
    assert len(messages) == 4
    assert result.runs[0].series("loss").tolist() == [1.0]


def test_tensorboard_tags_missing_from_logging_jsonl_are_added(tmp_path):
    from tensorboardX import SummaryWriter

    write_swift_run(tmp_path, [(s, {"loss": 1.0 / s}) for s in (1, 2, 3)], 3)
    writer = SummaryWriter(str(tmp_path / "runs"))
    for s in (1, 2, 3):
        writer.add_scalar("train/loss", 9.0, s)  # the same history: ignored
        writer.add_scalar("custom/foo", float(s), s)  # only here: added
    writer.close()
    (run,) = load_runs(tmp_path).runs
    assert run.format == "swift_jsonl"
    assert run.series("loss").tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert run.series("custom/foo").tolist() == [1.0, 2.0, 3.0]
    assert "train/loss" not in run.keys
    assert [s.role for s in run.meta.sources] == ["history", "extra"]


def test_json_booleans_are_not_numbers_and_bad_steps_are_named(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text(
        swift_line(1, 3, {"loss": 1.0})
        + "\n"
        + json.dumps({"loss": True, "global_step/max_steps": "2/3"})
        + "\n"
        + json.dumps({"loss": 0.5, "global_step/max_steps": "12x/30"})
        + "\n"
    )
    result = load_runs(path)
    assert result.runs[0].series("loss").to_dict() == {1: 1.0}
    assert [w.message for w in result.warnings] == ["line 3: unreadable step '12x/30'; skipped"]


def test_unordered_steps_are_a_warning_not_dozens_of_restarts(tmp_path):
    steps = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]
    (tmp_path / "logging.jsonl").write_text(
        "".join(swift_line(s, 10, {"loss": float(s)}) + "\n" for s in steps)
    )
    result = load_runs(tmp_path)
    (run,) = result.runs
    assert run.meta.restarts == []
    assert run.series("loss").index.tolist() == list(range(1, 11))
    (warning,) = result.warnings
    assert "steps go backwards 4 times" in warning.message


def test_single_files_are_named_after_their_run_and_find_its_config(tmp_path):
    from tensorboardX import SummaryWriter

    out = tmp_path / "v1-20250101"
    (out / "runs").mkdir(parents=True)
    (out / "args.json").write_text('{"rlhf_type": "grpo", "beta": 0.04}')
    writer = SummaryWriter(str(out / "runs"))
    writer.add_scalar("train/kl", 0.1, 1)
    writer.close()
    (event,) = (out / "runs").glob("events.out.tfevents.*")
    (run,) = load_runs(event).runs
    assert run.name == "v1-20250101" and run.meta.config["beta"] == 0.04
    assert run.meta.framework == "ms-swift"
    write_swift_run(tmp_path / "v2", [(1, {"loss": 1.0})], 1)
    assert load_runs(tmp_path / "v2" / "logging.jsonl").runs[0].name == "v2"


def test_lines_written_twice_count_once_in_the_source_points(tmp_path):
    lines = [swift_line(s, 3, {"loss": float(s)}) for s in (1, 2, 3)]
    (tmp_path / "logging.jsonl").write_text("".join(f"{x}\n{x}\n" for x in lines))
    result = load_runs(tmp_path)
    (source,) = result.runs[0].meta.sources
    per_line = len(result.runs[0].keys)  # loss + the progress fields of each line
    assert (source.points, source.repeated) == (3 * per_line, 3 * per_line)
    assert result.warnings == []
