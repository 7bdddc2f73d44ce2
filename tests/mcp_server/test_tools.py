"""The MCP tools as library functions: confinement to the roots, downsampling, budgets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from trainlens.errors import TrainlensError
from trainlens.mcp import tools
from trainlens.mcp.budget import fit
from trainlens.mcp.roots import PathRefused, Roots

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def ws() -> tools.Workspace:
    return tools.Workspace(Roots([EXAMPLES]))


def test_paths_outside_the_roots_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "logging.jsonl").write_text('{"loss": 1.0, "global_step/max_steps": "1/2"}\n')
    os.symlink(outside, root / "link_out")
    os.symlink(outside / "logging.jsonl", root / "inside" / "logging.jsonl")
    ws = tools.Workspace(Roots([root]))
    for bad in ("../secret", str(outside), "inside/../../secret", "link_out", "link_out/x"):
        with pytest.raises(PathRefused, match="outside the server's roots"):
            ws.load(bad)
    _, runs, warnings = ws.load("inside")  # a symlinked file inside: its run is left out
    assert runs == [] and any("refused" in w.message for w in warnings)
    with pytest.raises(TrainlensError, match="not found under the roots"):
        ws.load("nothing_here")


def test_downsampling_keeps_spikes_and_counts_what_was_merged() -> None:
    steps = np.arange(10_000)
    values = np.sin(steps / 500.0)
    values[7_777] = 99.0
    values[3_333] = -50.0
    idx = tools.downsample(steps, values, 200)
    assert len(idx) <= 200 and np.all(np.diff(idx) > 0)
    assert 7_777 in idx and 3_333 in idx
    assert values[idx].max() == 99.0 and values[idx].min() == -50.0
    assert list(tools.downsample(steps[:50], values[:50], 200)) == list(range(50))


def test_series_answer(ws: tools.Workspace) -> None:
    doc = json.loads(tools.series(ws, "grpo_kl_episodes", "kl", start=2000, max_points=40))
    assert doc["points_in_range"] + doc["merged"] > doc["points_returned"]
    assert doc["points_returned"] + doc["merged"] == doc["points_in_range"]
    assert doc["points_returned"] <= 40 and doc["points"][0][0] >= 2000
    assert max(v for _, v in doc["points"]) == pytest.approx(19.6)
    assert "min/max buckets" in doc["downsampling"]


def test_fit_cuts_lists_and_says_so() -> None:
    doc = {"items": [{"i": i, "text": "x" * 50} for i in range(100)], "head": 1}
    out = fit(doc, 1000, ["items"])
    parsed = json.loads(out)
    assert len(out) <= 1000
    assert parsed["truncated"]["items"]["total"] == 100
    assert parsed["truncated"]["items"]["kept"] == len(parsed["items"]) > 5
    text = json.loads(fit({"markdown": "y" * 5000}, 800, text="markdown"))
    assert text["truncated"]["markdown"]["total_chars"] == 5000
    assert len(text["markdown"]) == text["truncated"]["markdown"]["kept_chars"]


def test_every_answer_fits_the_budget(ws: tools.Workspace) -> None:
    ws.budget = 1_000
    answers = [
        tools.list_runs(ws),
        tools.metrics(ws, "grpo_kl_episodes"),
        tools.analyze(ws, "grpo_kl_episodes"),
        tools.report(ws, "sft_overfit", "zh"),
    ]
    for out in answers:
        assert len(out) <= 1_000
        assert "truncated" in json.loads(out)


def test_a_folder_of_several_runs_is_not_one_run(ws: tools.Workspace) -> None:
    with pytest.raises(TrainlensError, match="holds 3 runs; pass one of: degrading_runs/"):
        tools.metrics(ws, "degrading_runs")
    with pytest.raises(TrainlensError, match="unknown rule 'kl_spik'.*kl_spike"):
        tools.finding(ws, "grpo_kl_episodes", "kl_spik")


def test_without_the_sdk_the_command_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from typer.testing import CliRunner

    from trainlens.cli import commands  # noqa: F401
    from trainlens.cli.app import app

    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    monkeypatch.setitem(sys.modules, "mcp.server.fastmcp", None)
    result = CliRunner().invoke(app, ["mcp", "--root", str(EXAMPLES)])
    assert result.exit_code == 2
    assert "pip install 'trainlens[mcp]'" in result.output
