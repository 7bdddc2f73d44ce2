"""``trainlens metrics``: terminal and JSON output, warnings on stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from logwriters import swift_line, write_swift_run
from typer.testing import CliRunner

from trainlens import __version__
from trainlens.cli import app

runner = CliRunner()


@pytest.fixture()
def swift_run(tmp_path):
    rows = [(s, {"loss": 2.0 / s, "kl": 0.01 * s, "rewards/Format/mean": 0.5}) for s in (1, 2, 3)]
    return write_swift_run(tmp_path / "v0-run", rows, 3, args={"beta": 0.04})


def test_json_shape(swift_run):
    result = runner.invoke(app, ["metrics", str(swift_run), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) >= {"runs", "warnings"} and doc["warnings"] == []
    (run,) = doc["runs"]
    assert {"name", "path", "format", "framework", "metrics"} <= set(run)
    assert (run["name"], run["format"], run["framework"]) == ("v0-run", "swift_jsonl", "ms-swift")
    by_key = {m["key"]: m for m in run["metrics"]}
    assert by_key["rewards/Format/mean"] == {
        "key": "rewards/Format/mean",
        "canonical": "reward/format",
        "count": 3,
        "first_step": 1,
        "last_step": 3,
        "last_value": 0.5,
        "source": "logging.jsonl",
    }
    assert by_key["percentage"]["canonical"] is None
    for m in run["metrics"]:
        assert isinstance(m["count"], int) and isinstance(m["first_step"], int)


def test_terminal_table_and_warnings_on_stderr(swift_run):
    with open(swift_run / "logging.jsonl", "a") as fh:
        fh.write('{"loss": 0.1, "global_st')
    result = runner.invoke(app, ["metrics", str(swift_run)])
    assert result.exit_code == 0
    assert "rewards/Format/mean" in result.stdout and "reward/format" in result.stdout
    assert "warning:" in result.stderr and "partial last line" in result.stderr
    assert "logging.jsonl" in result.stderr and "warning" not in result.stdout


def test_user_aliases_option(swift_run, tmp_path):
    aliases = tmp_path / "a.yaml"
    aliases.write_text("metrics:\n  my_ratio: [percentage]\n")
    result = runner.invoke(
        app, ["metrics", str(swift_run), "-f", "json", "--aliases", str(aliases)]
    )
    run = json.loads(result.stdout)["runs"][0]
    assert {m["key"]: m["canonical"] for m in run["metrics"]}["percentage"] == "my_ratio"


def test_project_config_aliases(swift_run, tmp_path, monkeypatch):
    (tmp_path / "trainlens.toml").write_text('[aliases]\nprogress = ["percentage"]\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["metrics", str(swift_run), "-f", "json"])
    run = json.loads(result.stdout)["runs"][0]
    assert {m["key"]: m["canonical"] for m in run["metrics"]}["percentage"] == "progress"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["metrics", "/definitely/not/here"], "no such file or directory"),
        (["metrics", "{empty}"], "no training logs found"),
        (["metrics", "{empty}", "--config", "/nope.toml"], "config file not found"),
    ],
)
def test_input_errors_exit_2_with_one_line(tmp_path, args, fragment):
    args = [a.replace("{empty}", str(tmp_path)) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_bad_config_names_the_file(tmp_path, swift_run):
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text("colour = 'red'\n")
    result = runner.invoke(app, ["metrics", str(swift_run), "--config", str(cfg)])
    assert (
        result.exit_code == 2 and str(cfg) in result.stderr and "unknown setting" in result.stderr
    )


def test_version_help_and_python_m(tmp_path):
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"trainlens {__version__}"
    help_text = runner.invoke(app, ["--help"]).stdout
    assert "metrics" in help_text and "Exit codes" in help_text
    garbage = tmp_path / "logging.jsonl"
    garbage.write_text("\x00\x01garbage\n" + swift_line(1, 1, {"loss": 1.0}) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "trainlens", "metrics", str(garbage)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr and "line 1 (byte 0): not valid JSON" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "trainlens", "metrics", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_error_text_with_brackets_is_printed_verbatim(tmp_path, swift_run):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text("[tool.trainlens]\nlang = 'fr'\n")
    result = runner.invoke(app, ["metrics", str(swift_run), "--config", str(cfg)])
    assert result.exit_code == 2
    assert "lang must be 'en' or 'zh'" in result.stderr
    weird = tmp_path / "[bold]run"
    write_swift_run(weird, [(1, {"loss": 1.0})], 1, summary=False)
    with open(weird / "logging.jsonl", "a") as fh:
        fh.write("{oops\n")
    result = runner.invoke(app, ["metrics", str(weird)])
    assert "[bold]run" in result.stderr


def test_library_api_at_top_level(swift_run):
    import trainlens

    result = trainlens.load_runs(swift_run)
    assert [r.name for r in result.runs] == ["v0-run"]
    analysis = trainlens.analyze(swift_run)
    assert isinstance(analysis, trainlens.Analysis) and analysis.runs[0].name == "v0-run"
    with pytest.raises(AttributeError):
        trainlens.no_such_thing  # noqa: B018


@pytest.mark.parametrize("seed", range(5))
def test_key_sources_are_the_last_source_of_each_key(seed):
    """Each key's file is its last row's with a source (rows without one skipped), as a
    ``groupby("key").last()`` of the run's DataFrame gives it."""
    from pathlib import Path

    import numpy as np

    from trainlens.metrics import AliasTable
    from trainlens.readers._frame import Table
    from trainlens.render.metrics import _key_sources
    from trainlens.run import Run, RunMeta

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    codes = np.sort(rng.integers(0, 6, n)).astype(np.int32)  # a run's rows: grouped by key
    sources = ["a/logging.jsonl", "b/events.out.tfevents.1", "c/trainer_state.json"]
    source_codes = rng.integers(-1, len(sources), n).astype(np.int32)  # -1: no source
    table = Table(
        [f"k{i}" for i in range(6)],
        codes,
        np.arange(n),
        rng.normal(size=n),
        sources=sources,
        source_codes=source_codes,
    )
    run = Run("r", Path("r"), "swift_jsonl", table, RunMeta(), AliasTable.load())
    frame = run.table
    last = frame.groupby("key", observed=True)["source"].last().dropna()
    assert _key_sources(run) == {str(k): Path(str(v)).name for k, v in last.items()}
