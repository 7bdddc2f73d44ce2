"""Stop a training run the moment it breaks a policy: trainlens' callback in a transformers Trainer.

    pip install 'trainlens[live]'          # transformers + accelerate (torch already installed)
    python examples/live_callback_demo.py  # about a minute on a CPU

Trains a tiny GPT-2 (one layer, built from a config: random weights, nothing downloaded) on
random token ids. A plain LM run logs no KL, so a small callback plays the part of a GRPO
trainer (TRL, ms-swift) and logs a ``kl`` that jumps to 50 at step ``--spike-at``. The
trainlens callback watches every log with ``fail_on=["kl>10 for 3"]``: two steps after the jump
it prints the failed policy, saves ``checkpoint-N``, stops training, and writes
``trainlens_findings.json`` and ``postmortem.md`` into ``--out/report``. Not run by the tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from trainlens.live import TrainlensCallback


class SimulatedKL(TrainerCallback):
    """Logs a ``kl`` like a GRPO trainer would: small and noisy, then a spike."""

    def __init__(self, spike_at: int) -> None:
        self.spike_at = spike_at
        self.rng = torch.Generator().manual_seed(0)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs is not None and "loss" in logs:
            noise = float(torch.rand(1, generator=self.rng)) * 0.01
            logs["kl"] = 50.0 if state.global_step >= self.spike_at else 0.02 + noise


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n: int = 512, length: int = 32, vocab: int = 128) -> None:
        self.ids = torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("live-demo"))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--spike-at", type=int, default=120)
    args = p.parse_args()

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=128, n_positions=32, n_embd=32, n_layer=1, n_head=2)
    config.bos_token_id = config.eos_token_id = 0
    training = TrainingArguments(
        output_dir=str(args.out),
        max_steps=args.steps,
        per_device_train_batch_size=8,
        logging_steps=1,
        save_strategy="no",  # the only checkpoint will be the one trainlens asks for
        report_to=[],
        use_cpu=True,
        learning_rate=5e-4,
    )
    watcher = TrainlensCallback(
        fail_on=["kl>10 for 3"],
        on_fail="stop",
        save_on_fail=True,
        report_dir=args.out / "report",
    )
    trainer = Trainer(
        model=GPT2LMHeadModel(config),
        args=training,
        train_dataset=RandomTokens(),
        callbacks=[SimulatedKL(args.spike_at), watcher],
    )
    trainer.train()
    print(f"stopped at step {trainer.state.global_step} of {args.steps}")
    for path in watcher.written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
