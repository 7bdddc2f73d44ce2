"""``trainlens compare``: exit codes, stdout / stderr, formats, files written, run naming."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "compare"))

from compare_builders import SEED, RunSpec, seed_swift, write_swift

from trainlens.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_swift(tmp_path_factory.mktemp("cli") / "grpo")


@pytest.fixture(scope="module")
def no_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tmp_path_factory.mktemp("cfg") / "trainlens.toml"
    cfg.write_text("", encoding="utf-8")
    return cfg


@pytest.fixture(autouse=True)
def _isolated(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a folder without a project config, so a [tool.trainlens] nearby cannot leak in."""
    monkeypatch.chdir(no_config.parent)


def invoke(*args: str | Path):
    return runner.invoke(app, ["compare", *map(str, args)])


def test_text_table_for_a_logdir(logdir: Path) -> None:
    r = invoke(logdir)
    assert r.exit_code == 0, r.stderr
    assert "Run comparison: eval_score" in r.stdout
    assert re.search(r"qwen3_8b\s+2\.34 @ 115\s+135 \(1\.7\)\s+0\.6 @ 200\s+74%", r.stdout)
    assert "checkpoint-120" in r.stdout and r.stderr == ""
    assert str(logdir) not in r.stdout


def test_json_with_several_run_dirs(logdir: Path) -> None:
    r = invoke(*(logdir / s.name for s in SEED), "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [x["name"] for x in doc["runs"]] == ["qwen3_4b", "qwen3_8b", "qwen3_8b_n8"]
    by = {x["name"]: x for x in doc["runs"]}
    assert (by["qwen3_8b_n8"]["best_step"], by["qwen3_8b_n8"]["degradation_step"]) == (45, 100)
    assert by["qwen3_4b"]["recommended_checkpoint"]["path"] == "checkpoint-80"


def test_markdown_file_with_chart(logdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "cmp.md"
    r = invoke(logdir, "-f", "markdown", "-o", out, "--lang", "zh")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and "wrote" in r.stderr
    text = out.read_text(encoding="utf-8")
    assert "](cmp_assets/score.png)" in text and "# 运行对比" in text
    assert (tmp_path / "reports" / "cmp_assets" / "score.png").stat().st_size > 1000
    assert str(tmp_path) not in text and str(logdir) not in text


def test_markdown_to_stdout_omits_the_chart(logdir: Path) -> None:
    r = invoke(logdir, "--format", "markdown")
    assert r.exit_code == 0
    assert r.stdout.startswith("# Run comparison: eval_score")
    assert "<!-- chart omitted" in r.stdout


def test_text_output_file(logdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp.txt"
    r = invoke(logdir, "-o", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert "checkpoint-120" in out.read_text(encoding="utf-8")


def test_colliding_run_names_are_prefixed(tmp_path: Path) -> None:
    spec = RunSpec("v0-20250101-000000", [(0, 1.0), (50, 2.0), (100, 1.0)], steps=100)
    write_swift(spec, tmp_path / "exp_a" / spec.name)
    write_swift(spec, tmp_path / "exp_b" / spec.name)
    # two logdirs, then the same run dir twice (read once)
    r = invoke(tmp_path / "exp_a", tmp_path / "exp_b", "-f", "json")
    assert r.exit_code == 0, r.stderr
    names = [x["name"] for x in json.loads(r.stdout)["runs"]]
    assert names == ["exp_a/v0-20250101-000000", "exp_b/v0-20250101-000000"]
    r = invoke(tmp_path / "exp_a" / spec.name, tmp_path / "exp_b" / spec.name, "-f", "json")
    assert [x["name"] for x in json.loads(r.stdout)["runs"]] == names
    r = invoke(tmp_path / "exp_a", tmp_path / "exp_a", "-f", "json")
    assert len(json.loads(r.stdout)["runs"]) == 1 and "given twice" in r.stderr


def test_metric_option_raw_and_missing(logdir: Path) -> None:
    r = invoke(logdir, "--metric", "reward", "-f", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["metric"] == "reward" and all(x["smoothing_window"] > 1 for x in doc["runs"])
    assert any(n["code"] == "smoothed" for n in doc["runs"][0]["notes"])
    r = invoke(logdir, "--metric", "eval_reward", "-f", "json")
    assert json.loads(r.stdout)["runs"][1]["best_step"] == 115


@pytest.mark.parametrize(
    "args,message",
    [
        (["--metric", "no_such_metric"], "no run has a metric named 'no_such_metric'"),
        (["--drop", "0"], "drop must be a fraction above 0"),
        (["--window", "-3"], "window must be 0 (auto)"),
    ],
)
def test_usage_errors_exit_2(logdir: Path, args: list[str], message: str) -> None:
    r = invoke(logdir, *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and message in r.stderr


def test_missing_path_exits_2(tmp_path: Path) -> None:
    r = invoke(tmp_path / "nope")
    assert r.exit_code == 2 and "no such file or directory" in r.stderr


def test_internal_error_exits_3(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trainlens.compare as lib  # the command imports it when it runs

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lib, "compare_runs", boom)
    r = invoke(logdir)
    assert r.exit_code == 3 and "internal error: RuntimeError: boom" in r.stderr


def test_project_config_section(logdir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text('lang = "zh"\n[compare]\ndrop = 0.5\n', encoding="utf-8")
    r = invoke(logdir, "--config", cfg, "-f", "json")
    doc = json.loads(r.stdout)
    assert doc["drop"] == 0.5 and doc["runs"][2]["degradation_step"] is None
    assert "对比指标" in doc["notes"][0]["message"]
    cfg.write_text("[compare]\nfoo = 1\n", encoding="utf-8")
    r = invoke(logdir, "--config", cfg)
    assert r.exit_code == 2 and "unknown setting(s) foo" in r.stderr


def test_piped_text_never_wraps_and_says_no_config_once(tmp_path: Path) -> None:
    long = "a_run_with_a_rather_long_name_that_used_to_wrap_in_the_table"
    for name in (long, long + "_too"):
        write_swift(RunSpec(name, [(0, 1.0), (50, 2.0), (100, 1.0)], steps=100), tmp_path / name)
    r = invoke(tmp_path)  # CliRunner's stdout is not a terminal: piped
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    rows = [ln for ln in lines if ln.startswith(long)]
    assert len(rows) == 2 and all("checkpoint-" in ln for ln in rows)
    assert all(ln == ln.rstrip() for ln in lines)
    assert "no run config" not in r.stdout  # said once, in the config section
    assert r.stdout.count("No run config (args.json) found in any run") == 1


def test_compared_on_eval_loss_is_said(tmp_path: Path) -> None:
    spec = RunSpec("sft", [(0, 0.5), (100, 0.6)], steps=100, dense={})
    root = write_swift(spec, tmp_path / "sft", eval_key="eval_token_acc")
    text = (root / "logging.jsonl").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        rec = json.loads(line)
        if "eval_loss" in rec:  # falls to 1.0 at step 40, then climbs to 1.6
            step = int(rec["global_step/max_steps"].split("/")[0])
            rec["eval_loss"] = float(np.interp(step, [0, 40, 100], [2.0, 1.0, 1.6]))
        lines.append(json.dumps(rec))
    (root / "logging.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = invoke(root)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("Run comparison: eval_loss (lower is better)")
    assert (
        "compared on eval_loss: the first of eval_score, eval_loss, eval_score (accuracy), "
        "reward that the run logs (a training loss is never chosen by default)"
    ) in " ".join(r.stdout.split())
    assert "also checked eval_token_acc" in r.stdout
    assert re.search(r"sft\s+1 @ 40\s+65 \(1\.25\)\s+1\.6 @ 100\s+60%", r.stdout)


def test_help_documents_the_default_metric_order() -> None:
    r = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "200"})
    text = " ".join(r.stdout.split())
    assert "never the default" in text and "eval_loss, an eval accuracy" in text
