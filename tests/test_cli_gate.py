"""``trainlens gate``: exit codes for each case, outputs on the right streams."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_engine import install_fake_rules
from logwriters import write_swift_run
from typer.testing import CliRunner

from trainlens.cli import app

runner = CliRunner()


def kl_at(step: int) -> float:
    return 15.0 if 30 <= step <= 34 else 0.5


@pytest.fixture()
def logdir(tmp_path: Path) -> Path:
    """Two ms-swift runs: ``spiky`` (kl > 10 at steps 30-34) and ``calm``."""
    base = tmp_path / "runs"
    rows = [
        (s, {"loss": 0.2, "kl": kl_at(s), "completions/clipped_ratio": 0.1, "reward": 0.5})
        for s in range(1, 51)
    ]
    write_swift_run(base / "spiky", rows, 50)
    calm = [(s, {**m, "kl": 0.5}) for s, m in rows]
    write_swift_run(base / "calm", calm, 50)
    return base


def gate(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["gate", *args], env={"GITHUB_ACTIONS": "", **(env or {})})


def test_exit_0_when_every_policy_holds(logdir):
    result = gate(str(logdir / "calm"), "--fail-on", "kl>10", "--fail-on", "clipped_ratio>0.3")
    assert result.exit_code == 0, result.output
    assert "PASS  kl>10" in result.stdout and "PASS  clipped_ratio>0.3" in result.stdout
    assert "gate passed: 2 checks on 1 run" in result.stderr and "gate" not in result.stdout


def test_exit_1_when_a_policy_fails(logdir):
    result = gate(str(logdir), "--fail-on", "kl>10", "--fail-on", "clipped_ratio>0.3")
    assert result.exit_code == 1
    out = result.stdout
    assert "spiky" in out and "calm" in out
    assert "FAIL  kl>10" in out and "worst 15 at step 30; 5 of 50 logged points violate" in out
    assert "gate failed: 1 of 4 checks failed on 2 runs" in result.stderr


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        ("kl>10 for 5", 1),
        ("kl>10 for 6", 0),
        ("kl>10 after 34", 0),
        ("max(kl)>14", 1),
        ("mean(reward)<0.5", 0),
        ("last(reward)<0.6", 1),
        ("count(kl>10)>4", 1),
        ("count(kl>10)>5", 0),
        ("'completions/clipped_ratio'>=0.1", 1),
    ],
)
def test_policy_forms_end_to_end(logdir, policy, code):
    assert gate(str(logdir / "spiky"), "--fail-on", policy).exit_code == code


def test_exit_2_on_a_bad_expression(logdir):
    result = gate(str(logdir), "--fail-on", "kl>>10")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        'error: bad policy "kl>>10": expected a number at column 4',
        "  kl>>10",
        "     ^",
    ]


def test_exit_2_without_logs(tmp_path):
    (tmp_path / "empty").mkdir()
    result = gate(str(tmp_path / "empty"), "--fail-on", "kl>10")
    assert result.exit_code == 2 and "no training logs found" in result.stderr
    result = gate(str(tmp_path / "nowhere"), "--fail-on", "kl>10")
    assert result.exit_code == 2 and "no such file or directory" in result.stderr


def test_exit_2_without_policies(logdir):
    result = gate(str(logdir))
    assert result.exit_code == 2 and "no policies to check" in result.stderr


def test_missing_metric_warns_and_passes_unless_strict(logdir):
    result = gate(str(logdir / "calm"), "--fail-on", "eval_score<1.8")
    assert result.exit_code == 0
    assert (
        "warning: run 'calm': policy 'eval_score<1.8': metric 'eval_score' not found "
        "(counts as passed; --strict makes this an error)"
    ) in result.stderr
    assert "SKIP  eval_score<1.8" in result.stdout
    strict = gate(str(logdir / "calm"), "--fail-on", "eval_score<1.8", "--strict")
    assert strict.exit_code == 2
    assert (
        "error: run 'calm': policy 'eval_score<1.8': metric 'eval_score' not found" in strict.stderr
    )
    assert "gate failed: 1 of 1 check could not be checked on 1 run (--strict)" in strict.stderr


def test_strict_missing_wins_over_a_failure(logdir):
    result = gate(str(logdir / "spiky"), "--fail-on", "kl>10", "--fail-on", "nope>1", "--strict")
    assert result.exit_code == 2


def test_json_format_on_stdout(logdir):
    result = gate(str(logdir), "--fail-on", "kl>10", "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["passed"] is False and doc["exit_code"] == 1
    by_run = {r["name"]: r for r in doc["runs"]}
    assert by_run["calm"]["passed"] and not by_run["spiky"]["passed"]
    res = by_run["spiky"]["results"][0]
    assert (res["value"], res["step"], res["violations"], res["points"]) == (15.0, 30, 5, 50)
    assert res["samples"][0] == {"step": 30, "value": 15.0}


def test_junit_file(logdir, tmp_path):
    out = tmp_path / "reports" / "gate.xml"
    result = gate(
        str(logdir), "--fail-on", "kl>10", "--fail-on", "eval_score<1", "--junit", str(out)
    )
    assert result.exit_code == 1
    root = ET.parse(out).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "2")
    failure = root.find("testsuite[@name='spiky']/testcase[@name='kl>10']/failure")
    assert failure is not None and "30: 15" in failure.text


def test_github_annotations_on_stderr(logdir):
    result = gate(
        str(logdir), "--fail-on", "kl>10", "--fail-on", "nope>1", env={"GITHUB_ACTIONS": "true"}
    )
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("::error ")]
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("::warning ")]
    assert errors == [
        "::error title=trainlens gate%3A kl>10 failed::run spiky: worst 15 at step "
        "30; 5 of 50 logged points violate; first at step 30"
    ]
    assert len(warnings) == 2 and "::" not in result.stdout
    plain = gate(str(logdir), "--fail-on", "kl>10")
    assert "::error" not in plain.stderr
    forced = gate(str(logdir), "--fail-on", "kl>10", "--github-annotations")
    assert "::error" in forced.stderr


def test_policies_from_project_config(logdir, tmp_path, monkeypatch):
    (tmp_path / "trainlens.toml").write_text('[gate]\nfail_on = ["kl>10 for 3"]\n')
    monkeypatch.chdir(tmp_path)
    result = gate("runs")
    assert result.exit_code == 1 and "FAIL  kl>10 for 3" in result.stdout
    # command-line policies add to the config's
    both = gate("runs/calm", "--fail-on", "reward<1")
    assert both.exit_code == 1 and "PASS  kl>10 for 3" in both.stdout


def test_config_strict_and_bad_settings(logdir, tmp_path):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.trainlens.gate]\nfail_on = "nope>1"\nstrict = true\n')
    assert gate(str(logdir), "--config", str(cfg)).exit_code == 2
    cfg.write_text('[tool.trainlens.gate]\nfail_onn = ["kl>1"]\n')
    result = gate(str(logdir), "--config", str(cfg))
    assert result.exit_code == 2 and "[gate]: unknown setting(s) fail_onn" in result.stderr
    cfg.write_text('[tool.trainlens.gate]\nfail_on = ["kl>"]\n')
    result = gate(str(logdir), "--config", str(cfg))
    assert result.exit_code == 2 and 'bad policy "kl>"' in result.stderr


def test_exit_3_on_an_internal_error(logdir, monkeypatch):
    import trainlens.gate as gate_lib  # the command imports it when it runs

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(gate_lib, "evaluate", boom)
    result = gate(str(logdir), "--fail-on", "kl>10")
    assert result.exit_code == 3 and "internal error: RuntimeError: boom" in result.stderr


def test_tensorboard_logs(tmp_path):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "tb" / "run1"))
    for s in range(1, 11):
        writer.add_scalar("train/kl", 20.0 if s == 7 else 0.1, s)
        writer.add_scalar("train/loss", 1.0, s)
    writer.close()
    result = gate(str(tmp_path / "tb"), "--fail-on", "kl>10", "-f", "json")
    assert result.exit_code == 1
    res = json.loads(result.stdout)["runs"][0]["results"][0]
    assert (res["key"], res["step"], res["value"]) == ("train/kl", 7, 20.0)


# ---------------------------------------------------------------- rule-based policies


@pytest.fixture()
def fake_rules(monkeypatch):
    """The engine replaced by one rule, ``kl_limit`` (error): kl above 10."""
    install_fake_rules(monkeypatch)


def test_fail_on_severity_and_rule(logdir, fake_rules):
    result = gate(str(logdir), "--fail-on-severity", "error")
    assert result.exit_code == 1
    assert "FAIL  severity>=error  1 finding: kl_limit (error) on kl, steps 30–34" in result.stdout
    assert gate(str(logdir / "calm"), "--fail-on-severity", "warning").exit_code == 0
    assert gate(str(logdir), "--fail-on-rule", "kl_limit").exit_code == 1
    unknown = gate(str(logdir), "--fail-on-rule", "kl_limt")
    assert unknown.exit_code == 2 and "unknown rule 'kl_limt'" in unknown.stderr
    assert "did you mean kl_limit" in unknown.stderr
    assert gate(str(logdir), "--fail-on-severity", "fatal").exit_code == 2


def test_rule_policy_with_the_real_engine(logdir):
    pytest.importorskip("trainlens.analysis")
    pytest.importorskip("trainlens.engine.spec")
    result = gate(str(logdir / "calm"), "--fail-on-severity", "error", "-f", "json")
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    assert doc["policies"][0]["kind"] == "severity"


# --- review fixes -------------------------------------------------------------------------------


def _jsonl(run: Path, lines: list[str]) -> Path:
    run.mkdir(parents=True)
    (run / "logging.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return run


def test_an_all_nan_metric_is_skipped_never_passed(tmp_path):
    run = _jsonl(
        tmp_path / "all_nan",
        [f'{{"loss": NaN, "kl": NaN, "global_step/max_steps": "{s}/5"}}' for s in range(1, 6)],
    )
    result = gate(str(run), "--fail-on", "max(loss)>5", "--fail-on", "loss<100")
    assert result.exit_code == 0, result.output
    assert "PASS" not in result.stdout and result.stdout.count("SKIP") == 2
    assert "all 5 logged values of loss are NaN" in result.stdout
    assert "all_nan  (swift_jsonl, steps 1–5) — passed (2 not checked)" in result.stdout
    assert "warning: run 'all_nan': policy 'max(loss)>5': all 5 logged" in result.stderr
    strict = gate(str(run), "--fail-on", "max(loss)>5", "--strict")
    assert strict.exit_code == 2
    assert "— passed" not in strict.stdout
    assert "— not checked: 1 policy could not be checked (an error with --strict)" in strict.stdout
    assert "could not be checked on 1 run (--strict)" in strict.stderr
    assert gate(str(run), "--fail-on", "loss==nan").exit_code == 1  # NaN itself can fail


def test_a_run_with_zero_points_is_skipped(tmp_path):
    run = _jsonl(tmp_path / "zero", ["\x00garbage", "not json"])
    result = gate(str(run), "--fail-on", "max(loss)>5")
    assert result.exit_code == 0 and "SKIP" in result.stdout and "PASS" not in result.stdout
    assert "the run has no logged points" in result.stdout
    assert gate(str(run), "--fail-on", "max(loss)>5", "--strict").exit_code == 2


def test_a_policy_on_ms_swift_v4_seconds_per_step_is_explained(tmp_path):
    run = _jsonl(
        tmp_path / "v4",
        [
            f'{{"loss": 0.5, "train_speed(s/it)": 25.0, "global_step/max_steps": "{s}/9"}}'
            for s in range(1, 10)
        ],
    )
    result = gate(str(run), "--fail-on", '"train_speed(s/it)">20')
    assert result.exit_code == 0 and "SKIP" in result.stdout
    assert "train_speed(s/it) is read as train_speed(iter/s) = 1/x" in result.stdout
    assert "the equivalent policy is \"'train_speed(iter/s)'<0.05\"" in result.stdout
    assert gate(str(run), "--fail-on", '"train_speed(s/it)">20', "--strict").exit_code == 2
    # the suggested policy checks what was meant: 25 s/step is slower than 20
    assert gate(str(run), "--fail-on", "'train_speed(iter/s)'<0.05").exit_code == 1


def test_lang_help_says_what_it_translates():
    result = runner.invoke(app, ["gate", "--help"], env={"COLUMNS": "300"})
    text = " ".join(result.stdout.split())
    assert "The gate's own lines (PASS / FAIL / SKIP, evidence, verdicts, the summary)" in text
    assert "are always in English" in text
