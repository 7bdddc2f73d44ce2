"""TrainlensCallback in a real ``transformers.Trainer``: a tiny GPT-2 built from a config (random
weights, CPU), a callback that injects a KL spike into the logs, and the run stopping there."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # transformers 5's Trainer refuses to run without it

import torch  # noqa: E402

from trainlens.live import TrainlensCallback  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

SPIKE_FROM = 6  # KL is 50 from this step on: "kl>10 for 3" fails at step 8


class InjectKL(transformers.TrainerCallback):  # type: ignore[misc]
    """Adds a ``kl`` to every logged dict, as TRL's GRPO trainer logs it."""

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs is not None and "loss" in logs:
            logs["kl"] = 50.0 if state.global_step >= SPIKE_FROM else 0.01 * state.global_step


class TokenIds(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int = 64, length: int = 8) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (n, length), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def train(tmp_path: Path, callback: TrainlensCallback, max_steps: int = 20):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=32,
        n_positions=16,
        n_embd=16,
        n_layer=1,
        n_head=2,
        n_inner=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        learning_rate=1e-3,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=TokenIds(), callbacks=[InjectKL(), callback]
    )
    trainer.train()
    return trainer


def test_a_failed_policy_saves_a_checkpoint_and_stops_training(tmp_path: Path) -> None:
    out = io.StringIO()
    cb = TrainlensCallback(
        fail_on=["kl>10 for 3"], report_dir=tmp_path / "report", stream=out, rules_every=5
    )
    trainer = train(tmp_path, cb)
    stop = SPIKE_FROM + 2
    assert trainer.state.global_step == stop
    assert (tmp_path / "out" / f"checkpoint-{stop}").is_dir()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("checkpoint")] == [
        f"checkpoint-{stop}"
    ]
    printed = out.getvalue()
    assert printed.count("policy kl>10 for 3 failed") == 1
    assert f"policy failed at step {stop}; stopping training after saving a checkpoint" in printed
    doc = json.loads((tmp_path / "report" / "trainlens_findings.json").read_text())
    assert doc["passed"] is False
    assert doc["policies"][0]["fired_step"] == stop
    assert doc["findings"][0]["rule"] == "policy"
    assert (tmp_path / "report" / "postmortem.md").read_text().startswith("#")
    assert cb.monitor.checkpoints == [stop]
    assert cb.monitor.run_config["max_steps"] == 20


def test_warn_mode_keeps_training_and_writes_beside_the_checkpoints(tmp_path: Path) -> None:
    out = io.StringIO()
    cb = TrainlensCallback(
        fail_on=["kl>10 for 3"], on_fail="warn", save_on_fail=False, rules=False, stream=out
    )
    trainer = train(tmp_path, cb, max_steps=12)
    assert trainer.state.global_step == 12
    assert not any(p.name.startswith("checkpoint") for p in (tmp_path / "out").iterdir())
    assert "training goes on" in out.getvalue()
    doc = json.loads((tmp_path / "out" / "trainlens_findings.json").read_text())
    assert doc["policies"][0]["status"] == "fail" and doc["last_step"] == 12


def test_on_fail_is_checked() -> None:
    with pytest.raises(ValueError, match="on_fail"):
        TrainlensCallback(fail_on=["kl>1"], on_fail="halt")
