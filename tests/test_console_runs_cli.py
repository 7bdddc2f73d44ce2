"""Every command works on a run that exists only as console output: analyze, report, gate,
compare, watch, metrics; a log of a job that crashed before step 1 gives findings, not errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from consolelogs import write_hf_console, write_verl_console
from typer.testing import CliRunner

from trainlens.cli import app

runner = CliRunner()


def _grpo_rows(n: int, spike_at: int) -> list[dict]:
    rows = []
    for i in range(1, n + 1):
        kl = 25.0 if i == spike_at else 0.02 + 0.0005 * (i % 7)
        rows.append(
            {
                "loss": 0.01 * (i % 5),
                "grad_norm": 0.3 + 0.01 * (i % 4),
                "learning_rate": 1e-6,
                "reward": 0.5 + 0.01 * (i % 6),
                "reward_std": 0.3,
                "kl": kl,
                "completions/clipped_ratio": 0.05,
                "epoch": i / n,
            }
        )
    return rows


@pytest.fixture()
def console_run(tmp_path: Path) -> Path:
    """A TRL GRPO job kept only as its console log: KL spikes to 25 at logged row 30 (step 60)."""
    return write_hf_console(
        tmp_path / "jobs" / "grpo_seed1.log", _grpo_rows(40, 30), total=80, interval=2, buffered=7
    )


def test_analyze_and_metrics_on_a_console_only_run(console_run: Path) -> None:
    result = runner.invoke(app, ["analyze", str(console_run), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    spikes = [f for f in doc["findings"] if f["rule"] == "kl_spike"]
    assert spikes and spikes[0]["peak_step"] == 60 and spikes[0]["peak_value"] == 25.0
    metrics = runner.invoke(app, ["metrics", str(console_run)])
    assert "logging every 2 steps" in metrics.stdout


def test_gate_on_a_console_only_run(console_run: Path) -> None:
    result = runner.invoke(app, ["gate", str(console_run), "--fail-on", "kl>10"])
    assert result.exit_code == 1
    assert "60" in result.stdout
    ok = runner.invoke(app, ["gate", str(console_run), "--fail-on", "kl>100"])
    assert ok.exit_code == 0, ok.output


def test_report_on_a_console_only_run(console_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "pm.md"
    result = runner.invoke(app, ["report", str(console_run), "-o", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "KL divergence spike" in text and "grpo_seed1.log" in text


def test_compare_two_console_runs(console_run: Path) -> None:
    other = write_hf_console(
        console_run.parent / "grpo_seed2.log", _grpo_rows(40, 35), total=80, interval=2
    )
    result = runner.invoke(app, ["compare", str(console_run), str(other), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {r["name"] for r in json.loads(result.stdout)["runs"]} == {"grpo_seed1", "grpo_seed2"}


def test_watch_a_console_only_run(console_run: Path) -> None:
    result = runner.invoke(
        app,
        [
            "watch",
            str(console_run.parent),
            "--no-rules",
            "--exit-on",
            "kl>10",
            "--interval",
            "0.05",
        ],
    )
    assert result.exit_code == 1
    assert "POLICY FAILED" in result.stdout and "step 60" in result.stdout


def test_watch_a_growing_verl_console(tmp_path: Path) -> None:
    steps = [
        (s, {"actor/kl_loss": 20.0 if s == 4 else 0.01, "actor/entropy": 0.5}) for s in range(1, 6)
    ]
    log = write_verl_console(tmp_path / "job" / "verl.log", steps)
    result = runner.invoke(
        app, ["watch", str(log.parent), "--no-rules", "--exit-on", "kl>10", "--interval", "0.05"]
    )
    assert result.exit_code == 1 and "step 4" in result.stdout


def test_a_job_that_crashed_before_step_1(tmp_path: Path) -> None:
    log = tmp_path / "run" / "output.log"
    log.parent.mkdir()
    log.write_text(
        "Training Progress:   0%|          | 0/55990 [00:00<?, ?it/s]\n"
        "Traceback (most recent call last):\n"
        '  File "/home/u/verl/trainer/main_ppo.py", line 64, in main\n'
        "    run_ppo(config)\n"
        '  File "/home/u/recipe/reward.py", line 12, in compute_score\n'
        "    raise NotImplementedError('reward for gsm8k is not implemented')\n"
        "NotImplementedError: reward for gsm8k is not implemented\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "The job died before step 1: NotImplementedError: reward for gsm8k" in result.stdout
    assert "compute_score (reward.py:12)" in result.stdout
    audit = runner.invoke(app, ["audit", "log", str(log), "--format", "json"])
    assert audit.exit_code == 0
    doc = json.loads(audit.stdout)
    assert doc["schema_version"] == 1
    (tb,) = [f for f in doc["findings"] if f["rule"] == "python_traceback"]
    assert (tb["count"], tb["first_line"], tb["lines"]) == (1, 2, [2])
    assert tb["excerpt"].startswith("NotImplementedError")
    assert {f["rule"] for f in doc["findings"]} >= {"job_died_before_training"}


def test_audit_log_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "log", str(tmp_path / "missing.log")])
    assert result.exit_code == 2 and "not a file" in result.stderr
