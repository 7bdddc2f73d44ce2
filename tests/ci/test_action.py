"""The GitHub Action: action.yml's wiring, and its script run locally with fake
``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files on the example runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trainlens.ci import ACTION_SCRIPT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def action(tmp_path: Path, mode: str = "gate", *extra: str, **inputs: str):  # type: ignore[no-untyped-def]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TL_", "GITHUB_")) and k != "TRAINLENS"
    }
    env |= {
        "TRAINLENS": f"{sys.executable} -m trainlens",
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        **inputs,
    }
    return subprocess.run(
        ["bash", str(ACTION_SCRIPT), mode, *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_failing_gate_writes_outputs_summary_annotations_and_the_report(tmp_path: Path) -> None:
    done = action(
        tmp_path,
        TL_PATH=str(EXAMPLES / "grpo_kl_episodes"),
        TL_FAIL_ON="kl>10 for 1\r\n\n  # a comment line\n max(grad_norm)>1e9 \n",
        TL_FAIL_ON_SEVERITY="error",
        TL_REPORT="true",
        TL_REPORT_DIR=str(tmp_path / "rep"),
        TL_LANG="zh",
    )
    assert done.returncode == 0, done.stderr  # the verdict comes from `finish`
    out = outputs(tmp_path / "output.txt")
    assert out == {
        "exit-code": "1",
        "report-path": str(tmp_path / "rep" / "postmortem.md"),
        "report-dir": str(tmp_path / "rep"),
    }
    assert (tmp_path / "rep" / "postmortem.md").read_text().startswith("#")
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## trainlens gate: ❌ failed")
    assert "| `grpo_kl_episodes` | `kl>10 for 1` | worst 19.6 at step 2800" in summary
    assert "`max(grad_norm)>1e9`" not in summary.split("### Failed policies")[1].split("###")[0]
    assert "### Top findings (5 of" in summary
    assert "kl_spike: 第 2800 步 KL 升至 19.6" in summary  # messages in TL_LANG
    assert "Postmortem: `" in summary
    assert "::error title=trainlens gate%3A kl>10 for 1 failed::" in done.stderr

    link = action(tmp_path, "link", "https://github.com/o/r/actions/runs/1/artifacts/2")
    assert link.returncode == 0
    assert (
        (tmp_path / "summary.md")
        .read_text()
        .rstrip()
        .endswith("(https://github.com/o/r/actions/runs/1/artifacts/2)")
    )
    finish = action(tmp_path, "finish", "1")
    assert finish.returncode == 1 and "a policy failed" in finish.stdout


def test_a_passing_gate(tmp_path: Path) -> None:
    done = action(tmp_path, TL_PATH=str(EXAMPLES / "healthy_grpo"), TL_FAIL_ON="kl>10")
    assert done.returncode == 0, done.stderr
    assert outputs(tmp_path / "output.txt") == {
        "exit-code": "0",
        "report-path": "",
        "report-dir": "",
    }
    assert (tmp_path / "summary.md").read_text().startswith("## trainlens gate: ✅ passed")
    assert action(tmp_path, "finish", "0").returncode == 0


def test_no_policy_and_a_missing_path_are_usage_errors(tmp_path: Path) -> None:
    action(tmp_path, TL_PATH=str(EXAMPLES / "healthy_grpo"))
    assert outputs(tmp_path / "output.txt")["exit-code"] == "2"
    assert "error (exit 2)" in (tmp_path / "summary.md").read_text()
    (tmp_path / "output.txt").unlink()
    action(tmp_path, TL_FAIL_ON="kl>1")
    assert outputs(tmp_path / "output.txt")["exit-code"] == "2"
    assert action(tmp_path, "finish", "2").returncode == 2


def test_action_yml_wires_every_input_and_output() -> None:
    doc = yaml.safe_load((ROOT / "action.yml").read_text())
    assert doc["runs"]["using"] == "composite"
    assert set(doc["inputs"]) == {
        "path",
        "fail-on",
        "fail-on-severity",
        "lang",
        "report",
        "version",
    }
    assert set(doc["outputs"]) == {"exit-code", "report-path"}
    steps = {s.get("id", s["name"]): s for s in doc["runs"]["steps"]}
    gate_env = steps["gate"]["env"]
    script = ACTION_SCRIPT.read_text()
    for name, value in gate_env.items():
        assert name in script, name
        match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", value)
        assert match is None or match.group(1) in doc["inputs"]
    assert "trainlens/ci/action.sh" in steps["gate"]["run"]
    assert ACTION_SCRIPT.relative_to(ROOT).as_posix() == "trainlens/ci/action.sh"
    for name in doc["outputs"]:
        assert f"steps.gate.outputs.{name}" in doc["outputs"][name]["value"]
        assert f"{name}=" in script
