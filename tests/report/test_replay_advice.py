"""The postmortem names the exact replay command: ``replay kl`` over the finding's window when
the run kept its rollouts, ``replay score`` on the nearest checkpoint for critic findings."""

from __future__ import annotations

from pathlib import Path

import report_builders as b

from trainlens.findings import Finding, Severity
from trainlens.load import load_runs
from trainlens.report.recommendations import finding_advice
from trainlens.report.text import Translator


def _run(tmp_path: Path, completions: bool, checkpoints: tuple[int, ...] = (100, 200)):  # type: ignore[no-untyped-def]
    run = b.grpo_run(tmp_path)
    folder = Path(run.path)
    for step in checkpoints:
        (folder / f"checkpoint-{step}").mkdir()
    if completions:
        (folder / "completions.jsonl").write_text('{"step": ["5"], "completion": ["x"]}\n')
    return load_runs(folder).runs[0]


def _advice(run, finding):  # type: ignore[no-untyped-def]
    t = Translator("en")
    return {a.text.key: t(a.text) for a in finding_advice(run, finding).advice}


def test_kl_finding_names_the_replay_kl_command_for_its_window(tmp_path: Path) -> None:
    run = _run(tmp_path, completions=True)
    kl = next(f for f in b.findings(run) if f.rule == "t_kl_spike")
    text = _advice(run, kl)["advice.replay_kl"]
    steps = f"--steps {kl.start_step}-{kl.end_step}"
    assert kl.start_step == b.SPIKE  # the weights in use then: the last checkpoint before it
    assert f"--policy {run.name}/checkpoint-100" in text and "--ref /mnt/models/Qwen2.5-7B" in text
    assert f"--batch {run.name}/completions.jsonl" in text and text.endswith(f"{steps}`.")
    assert text.startswith("Re-score this window on the checkpoint")


def test_no_rollouts_no_replay_kl_advice(tmp_path: Path) -> None:
    run = _run(tmp_path, completions=False)
    kl = next(f for f in b.findings(run) if f.rule == "t_kl_spike")
    assert "advice.replay_kl" not in _advice(run, kl)


def test_critic_finding_names_replay_score_on_the_nearest_checkpoint(tmp_path: Path) -> None:
    run = _run(tmp_path, completions=False)
    finding = Finding("d_acc_jump", Severity.WARNING, run.name, "d_acc", "d_acc", 150, 160)
    text = Translator("zh")(
        next(a.text for a in finding_advice(run, finding).advice if a.setting == "replay")
    )
    assert f"`trainlens replay score --model {run.name}/checkpoint-100 --batch PAIRS.jsonl`" in text
    bare = _run(tmp_path / "bare", completions=False, checkpoints=())
    finding = Finding("d_acc_jump", Severity.WARNING, bare.name, "d_acc", "d_acc", 150, 160)
    assert all(a.setting != "replay" for a in finding_advice(bare, finding).advice)
