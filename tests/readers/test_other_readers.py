"""trainer_state.json, verl file-logger JSONL and verl console readers."""

from __future__ import annotations

import json
import math

import pytest
from logwriters import REALDATA, write_trainer_state

from trainlens.readers.hf_trainer_state import read_trainer_state
from trainlens.readers.verl_console import looks_like_verl_console, read_verl_console
from trainlens.readers.verl_jsonl import read_verl_jsonl


def values(frame, key):
    part = frame[frame["key"] == key]
    return dict(zip(part["step"].tolist(), part["value"].tolist()))


def test_trainer_state_log_history(tmp_path):
    history = [
        {"loss": 1.0, "grad_norm": 2.0, "learning_rate": 1e-5, "epoch": 0.1, "step": 10},
        {"eval_loss": 0.9, "eval_runtime": 1.0, "epoch": 0.2, "step": 20},
        {"loss": float("nan"), "epoch": 0.3, "step": 30},
        {"train_runtime": 99.0, "train_loss": 0.8, "total_flos": 1e12, "step": 30},
    ]
    path = write_trainer_state(
        tmp_path / "trainer_state.json",
        history,
        best_metric=0.9,
        best_global_step=20,
        best_model_checkpoint="out/checkpoint-20",
    )
    result = read_trainer_state(path)
    assert result.warnings == []
    assert values(result.frame, "loss")[10] == 1.0 and math.isnan(values(result.frame, "loss")[30])
    assert values(result.frame, "eval_loss") == {20: 0.9}
    assert "train_loss" not in set(result.frame["key"])
    assert result.meta["train_summary"]["train_runtime"] == 99.0
    assert result.meta["best_global_step"] == 20 and result.meta["max_steps"] == 100


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "empty file"),
        ('{"log_history": [{"loss": 1.0, "st', "not valid JSON"),  # cut in entry 1
        ('{"global_step": 3}', "no log_history"),
        ("[1, 2, 3]", "no log_history"),
    ],
)
def test_trainer_state_bad_files_warn(tmp_path, content, fragment):
    path = tmp_path / "trainer_state.json"
    path.write_text(content)
    result = read_trainer_state(path)
    assert len(result.frame) == 0
    assert len(result.warnings) == 1 and fragment in result.warnings[0].message
    assert result.warnings[0].source == str(path)


def test_trainer_state_entry_without_step(tmp_path):
    path = write_trainer_state(
        tmp_path / "trainer_state.json",
        [{"loss": 1.0, "step": 1}, {"loss": 2.0}, {"loss": 3.0, "step": 3}],
    )
    result = read_trainer_state(path)
    assert values(result.frame, "loss") == {1: 1.0, 3: 3.0}
    assert "log_history[1]" in result.warnings[0].message


def test_verl_jsonl(tmp_path):
    path = tmp_path / "exp.jsonl"
    lines = [
        json.dumps(
            {
                "step": s,
                "data": {
                    "actor/kl_loss": 0.01 * s,
                    "actor/grad_norm": 1.5,
                    "note": "text",
                    "val-core/gsm8k/reward/mean@1": 0.5,
                },
            }
        )
        for s in (1, 2, 3)
    ]
    path.write_text("\n".join(lines) + "\n" + '{"oops": 1}\n' + '{"step": 4, "data": {"actor')
    result = read_verl_jsonl(path)
    assert values(result.frame, "actor/kl_loss") == pytest.approx({1: 0.01, 2: 0.02, 3: 0.03})
    assert "note" not in set(result.frame["key"])
    messages = [w.message for w in result.warnings]
    assert len(messages) == 2
    assert messages[0].startswith("line 4:") and "not a verl record" in messages[0]
    assert messages[1].startswith("line 5 (byte ") and "partial last line" in messages[1]


def test_verl_console_with_ansi_and_numpy_wrapped_values(tmp_path):
    path = tmp_path / "train.log"
    path.write_bytes(
        b"config: {'trainer': {...}}\n"
        b"\x1b[36m(TaskRunner pid=1)\x1b[0m step:1 - actor/kl_loss:0.001 - actor/pg_loss:-0.2 - "
        b"critic/score/mean:np.float64(0.5) - perf/throughput:1200.5\n"
        b"\x1b[36m(TaskRunner pid=1)\x1b[0m [response] think step by step: 1 - 2\n"
        b"step:2 - actor/kl_loss:nan - actor/pg_loss:inf - note:abc\n"
        b"step:3 - actor/kl_loss:0.0"
    )
    assert looks_like_verl_console(path.read_bytes())
    result = read_verl_console(path)
    kl = values(result.frame, "actor/kl_loss")
    assert kl[1] == 0.001 and math.isnan(kl[2]) and kl[3] == 0.0
    assert values(result.frame, "critic/score/mean") == {1: 0.5}
    assert len(result.warnings) == 1 and "line 4" in result.warnings[0].message
    follow = read_verl_console(path, final=False)  # the last line has no newline yet
    assert 3 not in values(follow.frame, "actor/kl_loss")


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_real_verl_console_and_trainer_states():
    run = read_verl_console(REALDATA / "verl_ppo_gae_gsm8k_console_resumed" / "verl_demo.log")
    assert run.warnings == []
    steps = run.frame[run.frame["key"] == "actor/ppo_kl"]["step"]
    assert (steps.min(), steps.max(), len(steps)) == (101, 435, 335)
    # 68 keys printed; the 7 printed as 0.000 on every step (lr 1e-6 at 3 decimals) are unknown
    assert run.frame["key"].nunique() == 61
    assert "actor/lr" in run.meta["rounded"]["unknown"]
    assert run.meta["rounded"]["zeros"]["actor/ppo_kl"] == 140
    assert run.meta["config"]["actor_rollout_ref"]["actor"]["optim"]["lr"] == 1e-06
    val = values(run.frame, "val-core/openai/gsm8k/reward/mean@1")
    assert len(val) == 34
    grpo = read_trainer_state(REALDATA / "trl_grpo_chaos_economy" / "trainer_state.json")
    clipped = values(grpo.frame, "completions/clipped_ratio")
    assert clipped[5] == pytest.approx(0.9) and len(clipped) == 40
    dpo = read_trainer_state(REALDATA / "trl_dpo_llama_silver8ce" / "trainer_state.json")
    assert (dpo.frame["key"] == "eval_loss").sum() == 29
    assert dpo.warnings == []


def test_trainer_state_with_a_non_finite_step_skips_that_entry(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text(
        '{"log_history": [{"loss": 1.0, "step": NaN}, {"loss": 2.0, "step": 2},'
        ' {"loss": 3.0, "step": Infinity}]}'
    )
    result = read_trainer_state(path)
    assert values(result.frame, "loss") == {2: 2.0}
    assert [w.message for w in result.warnings] == [
        "log_history[0]: unreadable step nan; skipped",
        "log_history[2]: unreadable step inf; skipped",
    ]
