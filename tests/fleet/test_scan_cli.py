"""``trainlens scan``: exit codes, the JSON summary, the table of runs that need a look."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlens.cli import app

runner = CliRunner()


def test_json_summary_on_stdout(logdir: Path) -> None:
    result = runner.invoke(app, ["scan", str(logdir), "--format", "json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["scanned"] == doc["discovered"] == 6
    assert doc["status"] == {"ok": 5, "no_metrics": 1, "error": 0}
    assert doc["findings"]["error"] >= 2 and doc["rules"]["kl_spike"] == 1
    assert doc["executor"] == "local" and doc["failed"] == []
    assert "6 run(s) scanned" in result.stderr and "scanned 6/6 runs" in result.stderr


def test_table_lists_runs_that_need_a_look(logdir: Path) -> None:
    result = runner.invoke(app, ["scan", str(logdir), "--jobs", "1", "--select", "kl_spike"])
    assert result.exit_code == 0, result.output
    assert "team-a/v1-kl-spike" in result.stdout and "kl_spike" in result.stdout
    assert "team-c/notes" in result.stdout and "no_metrics" in result.stdout
    assert "team-a/v0-healthy" not in result.stdout
    assert "clean run(s) not shown" in result.stdout


def test_writes_parquet_and_says_where(logdir: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "findings.parquet"
    result = runner.invoke(app, ["scan", str(logdir), "-o", str(out), "-j", "1"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "runs.parquet").is_file()
    assert f"wrote {out}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "{missing}"], "no such file or directory"),
        (["scan", "{logdir}", "--since", "last tuesday"], "--since 'last tuesday'"),
        (["scan", "{logdir}", "--executor", "spark"], "local or dask://HOST:PORT"),
        (["scan", "{logdir}", "--out", "{tmp}/x.json"], ".parquet or .duckdb"),
        (["scan", "{logdir}", "--select", "no_such_rule"], "no_such_rule"),
    ],
)
def test_usage_and_input_errors_exit_2(
    logdir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [a.format(missing=tmp_path / "missing", logdir=logdir, tmp=tmp_path) for a in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_unreachable_scheduler_exits_2(logdir: Path) -> None:
    pytest.importorskip("distributed")
    import trainlens.fleet.executors as executors

    old, executors.DASK_TIMEOUT = executors.DASK_TIMEOUT, 2.0
    try:
        result = runner.invoke(app, ["scan", str(logdir), "--executor", "dask://127.0.0.1:9"])
    finally:
        executors.DASK_TIMEOUT = old
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler at 127.0.0.1:9" in result.stderr
