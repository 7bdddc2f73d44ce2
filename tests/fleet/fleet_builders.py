"""A small logdir of mixed runs as real writers leave them (ms-swift JSON lines, TensorBoard
event files by tensorboardX, a console log that died of CUDA OOM, an event dir without scalars)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwriters import write_swift_run  # noqa: E402

OOM_LOG = """\
[INFO] starting training
Traceback (most recent call last):
  File "train.py", line 10, in <module>
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total \
capacity of 79.15 GiB of which 1.02 GiB is free.
"""


def swift_rows(seed: int, steps: int = 80, spike_at: int | None = None) -> list[tuple[int, dict]]:
    """GRPO metrics in ms-swift's keys; ``spike_at``: KL jumps to 25 at that step."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, steps + 1):
        rows.append(
            (
                s,
                {
                    "loss": float(rng.normal(0.0, 0.01)),
                    "kl": float(0.02 + 0.0005 * s * np.exp(rng.normal(0, 0.1))),
                    "grad_norm": float(np.exp(rng.normal(np.log(0.4), 0.2))),
                    "reward": float(1.0 + rng.normal(0, 0.05)),
                    "learning_rate": 1e-6,
                },
            )
        )
    if spike_at is not None:
        rows[spike_at - 1][1]["kl"] = 25.0
    return rows


def write_tensorboard_run(folder: Path, seed: int, steps: int = 60) -> Path:
    """A HF-Trainer-style TensorBoard run (``train/loss``, ``train/grad_norm``)."""
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(seed)
    writer = SummaryWriter(str(folder))
    for s in range(1, steps + 1):
        writer.add_scalar("train/loss", float(2.0 * np.exp(-s / 40) + rng.normal(0, 0.01)), s)
        writer.add_scalar("train/grad_norm", float(np.exp(rng.normal(0, 0.2))), s)
    writer.close()
    return folder


def write_logdir(root: Path) -> Path:
    """Five runs: two healthy swift runs, one with a KL spike at step 40, a TensorBoard run, a
    console log that died of CUDA OOM; plus an event dir holding only text (no scalars)."""
    write_swift_run(root / "team-a" / "v0-healthy", swift_rows(1), 80, args={"beta": 0.04})
    write_swift_run(
        root / "team-a" / "v1-kl-spike", swift_rows(2, spike_at=40), 80, args={"beta": 0.04}
    )
    write_swift_run(root / "team-b" / "v0-ok", swift_rows(3), 80, args={"beta": 0.04})
    write_tensorboard_run(root / "team-b" / "sft" / "runs" / "dec01", seed=4)
    (root / "team-c").mkdir(parents=True)
    (root / "team-c" / "crashed.log").write_text(OOM_LOG)
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(root / "team-c" / "notes"))
    writer.add_text("notes", "only text, no scalars", 0)
    writer.close()
    return root
