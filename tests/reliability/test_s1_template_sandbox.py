"""S1: templates run in the immutable sandbox, and a template folder is taken only from
``--templates`` or a config named with ``--config``, never from a config found by walking up."""

from __future__ import annotations

import pytest
from reliability_support import EXAMPLE, cli

EXPLOIT = '{{ cycler.__init__.__globals__.os.popen("touch PWNED").read() }}\n'


@pytest.fixture
def hostile_checkout(tmp_path, monkeypatch):
    """A working directory whose pyproject.toml points the report at its own templates."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.trainlens.report]\ntemplates = "tpl"\nlang = "en"\n', encoding="utf-8"
    )
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "report.en.md.j2").write_text(EXPLOIT, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found by walking up, one folder higher
    return tmp_path


def test_s1_template_sandbox_discovered_config_templates_ignored(hostile_checkout):
    result = cli("report", EXAMPLE, "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    assert not list(hostile_checkout.rglob("PWNED"))
    assert result.stdout.startswith("# Training postmortem: sft_overfit\n")  # built-in template
    assert "templates ignored" in result.stderr and "pyproject.toml" in result.stderr


@pytest.mark.parametrize("how", ["--templates", "--config"])
def test_s1_template_sandbox_refuses_chosen_template(hostile_checkout, how):
    option = (
        ["--templates", hostile_checkout / "tpl"]
        if how == "--templates"
        else ["--config", hostile_checkout / "pyproject.toml"]
    )
    result = cli("report", EXAMPLE, *option)
    assert result.exit_code == 2, result.output
    assert "sandbox refused" in result.stderr
    assert "report.en.md.j2:1" in result.stderr
    assert "Traceback" not in result.output
    assert not list(hostile_checkout.rglob("PWNED"))


def test_s1_template_sandbox_no_mutation(tmp_path):
    (tmp_path / "report.en.md.j2").write_text(
        "{% set _ = report.runs.clear() %}{{ report.runs | length }}\n", encoding="utf-8"
    )
    result = cli("report", EXAMPLE, "--templates", tmp_path)
    assert result.exit_code == 2, result.output
    assert "sandbox refused" in result.stderr


def test_s1_template_sandbox_library_api(tmp_path):
    """The library renders in the sandbox too, whoever calls it."""
    from trainlens.analysis import analyze
    from trainlens.errors import TrainlensError
    from trainlens.render.markdown import render_markdown

    (tmp_path / "report.en.md.j2").write_text(EXPLOIT, encoding="utf-8")
    with pytest.raises(TrainlensError, match="sandbox refused"):
        render_markdown(analyze(EXAMPLE), lang="en", charts=False, template_dirs=[tmp_path])
    assert not (tmp_path / "PWNED").exists()
