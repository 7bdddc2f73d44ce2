"""``trainlens report``: exit codes, output file and charts, stdout mode, determinism."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlens.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/sft_overfit"


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_writes_markdown_and_charts(tmp_path):
    out = tmp_path / "wiki" / "postmortem.md"
    result = run(EXAMPLE, "--lang", "zh", "-o", str(out), "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# 训练复盘：sft_overfit\n")
    assert "- **分析日期：** 2026-01-01" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all(link.startswith("postmortem_assets/") for link in links)
    for link in links:
        assert (out.parent / link).read_bytes().startswith(b"\x89PNG")
    assert "wrote" in result.stderr and "charts" in result.stderr
    assert result.stdout == ""


def test_same_input_same_bytes(tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    for out in (a, b):
        assert run(EXAMPLE, "-o", str(out), "--date", "2026-01-01", "--no-charts").exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert "![" not in a.read_text(encoding="utf-8")
    assert not (tmp_path / "a_assets").exists()


def test_stdout_without_charts():
    result = run(EXAMPLE, "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Training postmortem: sft_overfit\n")
    assert "![" not in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--date", "01/02/2026"], "--date: expected YYYY-MM-DD"),
        (["--templates", "no/such/dir"], "templates folder not found"),
        (["--select", "no_such_rule"], "unknown rule"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = run(EXAMPLE, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_path_exits_2(tmp_path):
    result = run(str(tmp_path / "nothing-here"))
    assert result.exit_code == 2
    assert "error:" in result.stderr


def test_user_template_overrides_one_block(tmp_path):
    (tmp_path / "report.en.md.j2").write_text(
        '{% extends "builtin/report.en.md.j2" %}\n'
        "{% block title %}Team wiki: {{ report.runs[0].name }}{% endblock %}\n",
        encoding="utf-8",
    )
    result = run(EXAMPLE, "--templates", str(tmp_path), "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Team wiki: sft_overfit\n")
    assert "## Summary" in result.stdout


def test_analyze_markdown_is_the_report_without_charts():
    analyze = CliRunner().invoke(app, ["analyze", EXAMPLE, "--format", "markdown", "--lang", "zh"])
    report = run(EXAMPLE, "--lang", "zh")  # stdout: no charts; both dated today
    assert analyze.exit_code == 0 and report.exit_code == 0
    assert analyze.stdout.strip() == report.stdout.strip()


def test_project_config_report_section(tmp_path):
    config = tmp_path / "trainlens.toml"
    config.write_text('[report]\nlang = "zh"\ncharts = false\n', encoding="utf-8")
    out = tmp_path / "pm.md"
    result = run(EXAMPLE, "--config", str(config), "-o", str(out), "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("# 训练复盘")
    assert not (tmp_path / "pm_assets").exists()
    config.write_text('[report]\ncolour = "red"\n', encoding="utf-8")
    bad = run(EXAMPLE, "--config", str(config))
    assert bad.exit_code == 2 and "unknown setting(s) colour" in bad.stderr


def test_output_that_is_a_folder_exits_2_before_any_work(tmp_path):
    folder = tmp_path / "somedir"
    folder.mkdir()
    result = run(EXAMPLE, "-o", str(folder))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "is a folder" in result.stderr and "internal error" not in result.stderr
    assert not (tmp_path / "somedir_assets").exists()  # nothing written on the way
    assert list(folder.iterdir()) == []


def test_output_below_a_regular_file_exits_2(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    result = run(EXAMPLE, "-o", str(afile / "x.md"))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is a file, not a folder" in result.stderr and "internal error" not in result.stderr
    assert afile.read_text(encoding="utf-8") == "x"


def test_charts_folder_that_is_a_file_exits_2(tmp_path):
    (tmp_path / "pm_assets").write_text("x", encoding="utf-8")
    result = run(EXAMPLE, "-o", str(tmp_path / "pm.md"))
    assert result.exit_code == 2 and "pm_assets: charts go to this folder" in result.stderr
    assert run(EXAMPLE, "-o", str(tmp_path / "pm.md"), "--no-charts").exit_code == 0


def test_missing_parent_folders_are_created_as_the_help_says(tmp_path):
    out = tmp_path / "new" / "dir" / "pm.md"
    result = run(EXAMPLE, "-o", str(out), "--no-charts")
    assert result.exit_code == 0, result.output
    assert out.is_file()
    help_text = " ".join(run("--help").stdout.split())
    assert "missing parent folders are created" in help_text


def test_chart_count_is_pluralised(tmp_path):
    result = run("examples/healthy_grpo", "-o", str(tmp_path / "pm.md"))  # the overview only
    assert result.exit_code == 0, result.output
    assert "(1 chart in " in result.stderr
    result = run(EXAMPLE, "-o", str(tmp_path / "sft.md"))
    assert re.search(r"\(\d+ charts in ", result.stderr)


def test_verdict_counts_match_analyze():
    """Problems (report sections) and findings are labelled apart; the findings per severity are
    the numbers `trainlens analyze` prints."""
    example = "examples/grpo_kl_episodes"
    analyze = CliRunner().invoke(app, ["analyze", example])
    counts = re.search(r"(\d+) errors, (\d+) warnings", analyze.stderr + analyze.stdout)
    assert counts, analyze.output
    errors, warnings = counts.groups()
    report = run(example, "--date", "2026-01-01")
    verdict = next(line for line in report.stdout.splitlines() if line.startswith("**Verdict"))
    findings = int(errors) + int(warnings)
    assert f"from {findings} findings ({errors} errors, {warnings} warnings)" in verdict
    problems = re.search(r":\*\* (\d+) problems \((\d+) errors, (\d+) warnings?\)", verdict)
    assert problems, verdict
    assert int(problems[1]) == int(problems[2]) + int(problems[3]) < findings
