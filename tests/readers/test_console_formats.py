"""Console logs, LLaMA-Factory, W&B run folders, Hydra configs and CSV exports, written in the
frameworks' exact formats (tests/readers/consolelogs.py says which source each follows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from consolelogs import (
    hf_dict,
    ray,
    tqdm_line,
    write_hf_console,
    write_llamafactory_log,
    write_verl_console,
)

from trainlens.discover import SourceFormat, discover_all
from trainlens.load import load_runs
from trainlens.readers.csv_export import read_csv_export
from trainlens.readers.hf_console import read_hf_console
from trainlens.readers.llamafactory import parse_timedelta, read_llamafactory
from trainlens.readers.verl_console import read_verl_console
from trainlens.run_config import parse_launch_script, unwrap_wandb


def _rows(n: int) -> list[dict]:
    return [
        {"loss": 1.0 / (i + 1), "grad_norm": 0.5 + i / 100, "learning_rate": 1e-5, "epoch": i / n}
        for i in range(n)
    ]


def _series(result, key: str) -> dict[int, float]:
    f = result.frame[result.frame["key"] == key]
    return dict(zip(f["step"].tolist(), f["value"].tolist()))


# --------------------------------------------------------------------------- HF / TRL dicts


@pytest.mark.parametrize("strings", [False, True])
def test_unbuffered_dicts_take_the_step_of_their_progress_bar(
    tmp_path: Path, strings: bool
) -> None:
    path = write_hf_console(tmp_path / "train.log", _rows(8), total=40, interval=5, strings=strings)
    result = read_hf_console(path)
    assert result.meta["step_basis"] == {"method": "tqdm"}
    assert sorted(_series(result, "loss")) == [5, 10, 15, 20, 25, 30, 35, 40]
    assert _series(result, "loss")[5] == pytest.approx(1.0)
    assert result.meta["train_summary"]["train_runtime"] == 12.5
    assert result.meta["max_steps"] == 40 and result.warnings == []


def test_buffered_bursts_get_the_logging_interval(tmp_path: Path) -> None:
    # stdout block-buffered: 7 dicts appear at once, long after the bar passed their steps
    path = write_hf_console(tmp_path / "train.log", _rows(40), total=200, interval=5, buffered=7)
    result = read_hf_console(path)
    assert result.meta["step_basis"] == {"method": "interval", "interval": 5}
    assert sorted(_series(result, "grad_norm")) == list(range(5, 201, 5))


def test_all_dicts_after_the_bar_and_string_values(tmp_path: Path) -> None:
    # transformers 5: string values; every dict after the whole tqdm stream (flushed at exit)
    path = write_hf_console(
        tmp_path / "train.log", _rows(20), total=20, interval=1, strings=True, buffered=10**6
    )
    result = read_hf_console(path)
    assert result.meta["step_basis"] == {"method": "interval", "interval": 1}
    assert sorted(_series(result, "loss")) == list(range(1, 21))
    assert _series(result, "learning_rate")[3] == pytest.approx(1e-5)


def test_no_progress_bar_falls_back_to_positions(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_text("\n".join(hf_dict(r) for r in _rows(3)) + "\n", encoding="utf-8")
    result = read_hf_console(path)
    assert result.meta["step_basis"] == {"method": "position"}
    assert sorted(_series(result, "loss")) == [1, 2, 3]
    epoch = read_hf_console(path, steps_per_epoch=30)  # a config saying 30 steps per epoch
    assert epoch.meta["step_basis"]["method"] == "position"  # epoch 0.0 at row 1: not usable


def test_markdown_wrapped_capture_with_ansi_codes(tmp_path: Path) -> None:
    path = write_hf_console(
        tmp_path / "notes.md", _rows(4), total=20, interval=5, ansi=True, markdown=True
    )
    result = read_hf_console(path)
    assert sorted(_series(result, "loss")) == [5, 10, 15, 20]


def test_eval_dicts_keep_their_keys_and_take_the_logged_step(tmp_path: Path) -> None:
    lines = [
        tqdm_line(10, 20) + "\r" + hf_dict({"loss": 0.5, "learning_rate": 1e-5, "epoch": 0.5}),
        hf_dict({"eval_loss": 0.7, "eval_runtime": 3.0, "epoch": 0.5}),
        tqdm_line(20, 20) + "\r" + hf_dict({"loss": 0.4, "learning_rate": 1e-5, "epoch": 1.0}),
    ]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_hf_console(path)
    assert _series(result, "eval_loss") == {10: 0.7}
    assert sorted(_series(result, "loss")) == [10, 20]


def test_duplicated_dicts_cut_dicts_and_a_half_written_line(tmp_path: Path) -> None:
    one = hf_dict({"loss": 0.5, "grad_norm": 1.0, "learning_rate": 1e-5, "epoch": 0.1})
    two = hf_dict({"loss": 0.4, "grad_norm": 0.9, "learning_rate": 1e-5, "epoch": 0.2})
    cut = hf_dict({"loss": 0.3, "grad_norm": 0.8, "learning_rate": 1e-5})[:30]
    path = tmp_path / "train.log"
    path.write_text("\n".join([one, one, two, two, cut]), encoding="utf-8")
    result = read_hf_console(path)
    assert sorted(_series(result, "loss")) == [1, 2]  # each dict counted once
    messages = [w.message for w in result.warnings]
    assert any("line 5" in m and "cut off" in m for m in messages)
    assert any("printed twice" in m for m in messages)


def test_unrelated_dicts_are_not_metrics(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_text(
        "{'bos_token_id': None, 'pad_token_id': 151643}\n{'type': 'MATH', 'query': 'x'}\n",
        encoding="utf-8",
    )
    assert len(read_hf_console(path).frame) == 0


# ------------------------------------------------------------------------------------- verl


CONFIG = {
    "actor_rollout_ref": {
        "actor": {
            "optim": {"lr": 1e-06},
            "use_kl_loss": False,
            "entropy_coeff": 0,
            "grad_clip": 1.0,
        },
        "rollout": {"n": 8, "response_length": 1024},
    },
    "algorithm": {"adv_estimator": "grpo", "kl_ctrl": {"kl_coef": 0.001}},
    "trainer": {"total_epochs": 15, "project_name": "p", "experiment_name": "e"},
}


def test_verl_console_config_dump_rounding_and_resume(tmp_path: Path) -> None:
    steps = [
        (s, {"actor/lr": 1e-6, "actor/entropy": 0.5 - s / 1000, "actor/ppo_kl": 0.002 * (s % 3)})
        for s in range(101, 111)
    ]
    path = write_verl_console(tmp_path / "verl.log", steps, config=CONFIG, old=True)
    result = read_verl_console(path)
    assert result.meta["config"] == CONFIG  # the pprint dump, across interleaved worker lines
    assert result.meta["rounded"]["unknown"] == ["actor/lr"]  # 0.000 on every step: unknown
    assert "actor/lr" not in set(result.frame["key"])
    assert result.meta["rounded"]["zeros"]["actor/ppo_kl"] == 3  # steps 102, 105, 108
    assert min(_series(result, "actor/entropy")) == 101  # a resumed run starts where it starts


def test_verl_numpy_scalars_and_wandb_cut_lines(tmp_path: Path) -> None:
    line = "step:1 - " + " - ".join(f"val-aux/k{i}/mean@32:np.float64(0.{i})" for i in range(400))
    cut = line[:4096]
    path = tmp_path / "output.log"
    path.write_text(cut + "\nstep:2 - actor/entropy:np.float64(0.25)\n", encoding="utf-8")
    result = read_verl_console(path)
    assert _series(result, "actor/entropy") == {2: 0.25}
    (warning,) = result.warnings
    assert "cut at 4,096 characters" in warning.message and "line 1" in warning.message


# ---------------------------------------------------------------------------- LLaMA-Factory


def _lf_rows(total: int = 60, epochs: float = 3.0) -> list[dict]:
    rows = []
    for step in range(10, total + 1, 10):
        rows.append(
            {
                "current_steps": step,
                "total_steps": total,
                "loss": 2.0 - step / 100,
                "lr": 1e-4 * step / total,
                "epoch": epochs * step / total,
                "percentage": round(100 * step / total, 2),
                "elapsed_time": f"0:00:{step:02d}",
                "remaining_time": "1 day, 2:03:04",
            }
        )
        if step % 30 == 0:
            rows.append(
                {
                    "current_steps": step,
                    "total_steps": total,
                    "eval_loss": 1.5,
                    "epoch": epochs * step / total,
                    "percentage": 50.0,
                    "elapsed_time": "0:01:00",
                    "remaining_time": "0:01:00",
                }
            )
    rows.append(
        {
            "current_steps": total,
            "total_steps": total,
            "percentage": 100.0,
            "elapsed_time": "0:02:00",
            "remaining_time": "0:00:00",
        }
    )
    return rows


def test_llamafactory_log_steps_times_and_progress_rows(tmp_path: Path) -> None:
    path = write_llamafactory_log(tmp_path / "trainer_log.jsonl", _lf_rows())
    result = read_llamafactory(path)
    assert result.meta["max_steps"] == 60
    assert sorted(_series(result, "loss")) == [10, 20, 30, 40, 50, 60]
    assert _series(result, "eval_loss") == {30: 1.5, 60: 1.5}
    assert not {"percentage", "elapsed_time", "remaining_time"} & set(result.frame["key"])
    assert parse_timedelta("3 days, 17:51:32") == 3 * 86400 + 17 * 3600 + 51 * 60 + 32


def test_old_llamafactory_format_with_nulls_and_dpo_accuracy(tmp_path: Path) -> None:
    rows = [
        {
            "current_steps": 5,
            "total_steps": 10,
            "loss": 0.69,
            "eval_loss": None,
            "reward": None,
            "learning_rate": 1e-6,
            "accuracy": 0.5,
            "epoch": 0.5,
            "percentage": 50.0,
            "elapsed_time": "0:00:05",
            "remaining_time": "0:00:05",
        },
    ]
    result = read_llamafactory(write_llamafactory_log(tmp_path / "trainer_log.jsonl", rows))
    assert set(result.frame["key"]) == {"loss", "learning_rate", "rewards/accuracies", "epoch"}


def test_llamafactory_run_takes_only_a_config_consistent_with_the_log(tmp_path: Path) -> None:
    run = tmp_path / "saves"
    write_llamafactory_log(run / "trainer_log.jsonl", _lf_rows(total=60, epochs=3.0))
    (run / "a_other.yaml").write_text(
        yaml.safe_dump({"stage": "sft", "model_name_or_path": "m", "num_train_epochs": 8.0})
    )
    (run / "launch.sh").write_text(
        "export X=1\nllamafactory-cli train \\\n  --stage sft \\\n  --learning_rate 1e-4 \\\n"
        "  --num_train_epochs 3 \\\n  --do_train\n"
    )
    result = load_runs(run)
    (r,) = result.runs
    assert r.meta.framework == "llama-factory"
    assert r.meta.config_kind == "launch_script" and r.meta.config["learning_rate"] == 1e-4
    assert any(
        "a_other.yaml" in w.source and "not this run's config" in w.message for w in result.warnings
    )
    assert parse_launch_script(
        "python src/train.py --stage dpo --pref_beta 0.3 --do_eval false"
    ) == {
        "stage": "dpo",
        "pref_beta": 0.3,
        "do_eval": False,
    }


# ----------------------------------------------------------------------------- W&B + Hydra


def _wandb_config(values: dict) -> dict:
    doc = {k: {"value": v} for k, v in values.items()}
    doc["_wandb"] = {
        "value": {"cli_version": "0.23.0", "e": {"x": {"email": "someone@example.com"}}}
    }
    return doc


def test_wandb_run_folder_reads_output_config_and_summary(tmp_path: Path) -> None:
    files = tmp_path / "wandb" / "run-20250101_120000-abc123" / "files"
    write_hf_console(files / "output.log", _rows(4), total=20, interval=5)
    (files / "config.yaml").write_text(
        yaml.safe_dump(_wandb_config({"learning_rate": 1e-5, "beta": 0.04}))
    )
    (files / "wandb-summary.json").write_text(
        json.dumps({"_step": 20, "train/loss": 0.25, "_runtime": 60})
    )
    (files / "requirements.txt").write_text("torch==2.1\n")
    (files / "run-abc123.wandb").write_bytes(b"\x00\x01binary")
    found = discover_all(tmp_path)
    assert found.skipped == []  # requirements.txt and the binary .wandb file are not logs
    (run,) = load_runs(tmp_path).runs
    assert run.name == "wandb/run-20250101_120000-abc123"
    assert run.meta.config == {"learning_rate": 1e-5, "beta": 0.04}
    assert "someone@example.com" not in json.dumps(run.meta.to_dict())
    assert run.meta.final_values["train/loss"] == 0.25
    assert run.series("loss").index.tolist() == [5, 10, 15, 20]


def test_hydra_config_of_the_job_that_started_a_wandb_run(tmp_path: Path) -> None:
    for when in ("2025-01-01/11-00-00", "2025-01-01/11-58-00", "2025-01-01/12-30-00"):
        hydra = tmp_path / "outputs" / when / ".hydra"
        hydra.mkdir(parents=True)
        (hydra / "config.yaml").write_text(yaml.safe_dump({**CONFIG, "tag": when}))
    files = tmp_path / "wandb" / "run-20250101_120000-abc123" / "files"
    write_verl_console(files / "output.log", [(1, {"actor/entropy": 0.5})], prefixed=False)
    (run,) = load_runs(tmp_path).runs
    assert run.meta.config_kind == "hydra" and run.meta.config["tag"] == "2025-01-01/11-58-00"
    assert run.meta.framework == "verl"
    assert unwrap_wandb(_wandb_config({"a": 1})) == {"a": 1}


# -------------------------------------------------------------------------------------- CSV


def test_tensorboard_csv_exports_of_one_run(tmp_path: Path) -> None:
    for tag, values in (("loss", [3.0, 2.0, 1.5]), ("val_loss", [3.1, 2.5, 2.6])):
        with open(tmp_path / f"run-.-tag-{tag}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["Wall time", "Step", "Value"])
            for step, v in enumerate(values):
                w.writerow([1559699797.25 + step, step, v])
    (run,) = load_runs(tmp_path).runs
    assert run.format == "tensorboard_csv"
    assert run.series("eval_loss").tolist() == [3.1, 2.5, 2.6]
    assert run.table["wall_time"].notna().all()


def test_wandb_csv_export_is_one_run_per_run_name(tmp_path: Path) -> None:
    path = tmp_path / "wandb_export_2024-10-23.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(
            [
                "Step",
                "a1 - train/loss",
                "a1 - train/loss__MIN",
                "a1 - train/loss__MAX",
                "b2 - train/loss",
                "b2 - train/loss__MIN",
                "b2 - train/loss__MAX",
            ]
        )
        w.writerow([0, 10.9, 10.9, 10.9, 25.5, 25.5, 25.5])
        w.writerow([1, 9.0, 9.0, 9.0, "", "", ""])  # b2 is shorter: padded with ""
    runs = {r.name.rsplit("/", 1)[-1]: r for r in load_runs(tmp_path).runs}
    assert set(runs) == {"a1", "b2"}
    assert runs["a1"].series("loss").tolist() == [10.9, 9.0]
    assert runs["b2"].series("loss").tolist() == [25.5]
    assert set(runs["a1"].keys) == {"train/loss"}  # __MIN / __MAX bounds are not metrics


def test_wide_csv_and_a_csv_without_a_step_column(tmp_path: Path) -> None:
    (tmp_path / "curves.csv").write_text("step,loss,kl\n1,2.0,0.01\n2,1.5,0.02\nx,1,1\n")
    (tmp_path / "table.csv").write_text("name,score\na,1\n")
    result = load_runs(tmp_path)
    (run,) = result.runs
    assert run.series("kl").tolist() == [0.01, 0.02]
    messages = [(Path(w.source).name, w.message) for w in result.warnings]
    assert (
        "table.csv",
        "skipped: a CSV without a step column (step, global_step, iteration, iter, _step, epoch)",
    ) in messages
    assert any(name == "curves.csv" and "line 4" in m for name, m in messages)
    assert sorted(read_csv_export(tmp_path / "curves.csv").frame["step"].tolist()) == [1, 1, 2, 2]


# ------------------------------------------------------------------- discovery of text logs


def test_scanning_a_folder_names_the_log_like_files_it_skips(tmp_path: Path) -> None:
    write_hf_console(tmp_path / "a" / "train.log", _rows(2), total=10, interval=5)
    (tmp_path / "a" / "notes.txt").write_text("tried lr 1e-5 today\n")
    (tmp_path / "a" / "README.md").write_text("# notes\n")
    found = discover_all(tmp_path)
    assert [r.primary.format for r in found.runs] == [SourceFormat.HF_CONSOLE]
    (skipped,) = found.skipped
    assert (
        skipped.source.endswith("notes.txt")
        and "no metric lines or failure messages" in skipped.message
    )


def test_a_console_capture_beside_structured_logs_is_a_duplicate_source(tmp_path: Path) -> None:
    from logwriters import write_swift_run

    rows = [(s, {"loss": 1.0 / s, "grad_norm": 1.0}) for s in range(1, 6)]
    out = write_swift_run(tmp_path / "v0-run", rows, 5)
    console = [
        {"loss": 1.0 / s, "grad_norm": 1.0, "learning_rate": 1e-5, "epoch": s / 5}
        for s in range(1, 6)
    ]
    write_hf_console(out / "nohup.out", console, total=5, interval=1)
    (run,) = load_runs(tmp_path).runs
    roles = {Path(s.path).name: s.role for s in run.meta.sources}
    assert roles["logging.jsonl"] == "history"
    assert roles["nohup.out"] == "extra"  # only learning_rate and epoch were new
    assert run.series("loss").index.tolist() == [1, 2, 3, 4, 5]  # not counted twice
    assert str(out / "nohup.out") in run.meta.logs
    sources = dict(zip(run.table["key"].astype(str), run.table["source"].astype(str)))
    assert Path(sources["loss"]).name == "logging.jsonl"
    assert Path(sources["learning_rate"]).name == "nohup.out"
    _ = ray  # the Ray prefix writer is exercised by the verl tests


def test_a_nan_loss_is_kept_as_nan_not_dropped(tmp_path: Path) -> None:
    """``str({'loss': float('nan')})`` prints ``nan``, which ``literal_eval`` refuses: the dict
    that shows the divergence must still be read."""
    rows = [
        {"loss": 0.5, "grad_norm": 1.0, "learning_rate": 1e-5, "epoch": 0.1},
        {"loss": float("nan"), "grad_norm": float("inf"), "learning_rate": 1e-5, "epoch": 0.2},
    ]
    path = tmp_path / "train.log"
    path.write_text("\n".join(hf_dict(r) for r in rows) + "\n", encoding="utf-8")
    result = read_hf_console(path)
    loss = _series(result, "loss")
    assert loss[1] == 0.5 and loss[2] != loss[2]  # NaN
    assert _series(result, "grad_norm")[2] == float("inf")
    assert not result.warnings


def test_nested_or_numpy_valued_dicts_and_block_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dicts the fast parser does not take go to ``literal_eval``; ``np.float64(...)`` values are
    numbers; lines that straddle a read block are read whole."""
    import trainlens.readers._text as text

    monkeypatch.setattr(text, "CHUNK_BYTES", 64)
    lines = [
        "{'loss': np.float64(0.5), 'grad_norm': 1.0, 'epoch': 0.1}",
        "{'loss': 0.4, 'grad_norm': 0.9, 'rewards': {'acc': 1.0}, 'epoch': 0.2}",
        "x" * 200,
        "{'loss': '0.3', 'grad_norm': '8e-01', 'epoch': 0.3}",
    ]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_hf_console(path)
    assert _series(result, "loss") == {1: 0.5, 2: 0.4, 3: 0.3}
    assert _series(result, "grad_norm")[3] == 0.8
