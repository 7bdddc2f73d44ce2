"""The exact ``trainlens replay`` command that checks a finding on the checkpoint itself:
``replay kl`` over the window's rollouts (when the run kept its ``completions.jsonl``) for a KL
finding, ``replay score`` on the nearest checkpoint for a critic/reward finding (when the run
saved checkpoints). No torch here: this only writes the command line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainlens.findings import Finding
from trainlens.report.text import Text
from trainlens.run import Run

#: Metrics whose findings are about how a critic or reward model scores.
CRITIC_METRICS = (
    "d_acc",
    "score_diff",
    "teacher_score",
    "student_score",
    "hard_sample_ratio",
    "length_reward_corr",
)
#: Config keys naming the model a run started from (the reference of a GRPO/PPO run).
MODEL_KEYS = ("ref_model", "model", "model_name_or_path", "model_id_or_path")
_UNSAFE = re.compile(r"[`\s]")


def replay_command(run: Run, finding: Finding, metrics: Sequence[str], way: str) -> Text | None:
    """The advice naming the replay command for ``finding``, or None when the run lacks what
    the command needs (rollouts for ``kl``, a checkpoint for ``score``)."""
    folder = Path(run.path) if Path(run.path).is_dir() else Path(run.path).parent
    ckpt = _checkpoint(run, finding.start_step)
    if "kl" in metrics and way != "down":
        if not (folder / "completions.jsonl").is_file():
            return None
        ref = _model(run.meta.config) or "REF_MODEL_DIR"
        cmd = (
            f"trainlens replay kl --policy {_arg(ckpt or 'CHECKPOINT_DIR')} --ref {_arg(ref)} "
            f"--batch {_arg(_in_run(run, 'completions.jsonl'))} "
            f"--steps {finding.start_step}-{finding.end_step}"
        )
        return Text("advice.replay_kl", {"cmd": cmd})
    if finding.metric in CRITIC_METRICS and ckpt is not None:
        cmd = f"trainlens replay score --model {_arg(ckpt)} --batch PAIRS.jsonl"
        return Text("advice.replay_score", {"cmd": cmd})
    return None


def _checkpoint(run: Run, step: int) -> str | None:
    """The saved checkpoint whose weights were in use at ``step`` (the last one saved before
    it, else the first after), as a path in the run folder."""
    saved = sorted(run.meta.checkpoints, key=lambda c: c.step)
    if not saved:
        return None
    before = [c for c in saved if c.step < step]
    chosen = before[-1] if before else saved[0]
    return _in_run(run, chosen.path.name)


def _model(config: dict[str, Any]) -> str | None:
    for key in MODEL_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _in_run(run: Run, name: str) -> str:
    return name if run.name in ("", ".") else f"{run.name}/{name}"


def _arg(text: str) -> str:
    """A path as one shell word inside inline code (no backticks or spaces from file names)."""
    return _UNSAFE.sub("_", text)
