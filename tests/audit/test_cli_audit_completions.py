"""``trainlens audit completions``: text and JSON forms, keys printed, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from auditfiles import swift_infer_records, write_jsonl
from typer.testing import CliRunner

from trainlens.cli import app

runner = CliRunner()


def test_json_form_has_the_summary_and_findings(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pred.jsonl", swift_infer_records(20, correct=8, unclosed=8))
    result = runner.invoke(
        app, ["audit", "completions", str(path), "--format", "json", "--require-tags", "answer"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    s = doc["summary"]
    assert s["n"] == 20 and s["unclosed_rate"] == 0.4 and s["strict_accuracy"] == 0.4
    assert s["diagnostic_accuracy"] == 0.8 and s["tag_compliance"] == {"answer": 0.6}
    rules = {f["rule"] for f in doc["findings"]}
    assert rules == {"unclosed_answers", "format_gap"}
    unclosed = next(f for f in doc["findings"] if f["rule"] == "unclosed_answers")
    assert unclosed["file"] == str(path) and unclosed["first_line"] == 9
    assert unclosed["params"]["examples"][0]["id"] == "line 9"
    assert "response=response, gold=labels" in result.stderr


def test_text_form_in_chinese_and_a_stop_string(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "pred.jsonl",
        [{"response": "42 END", "answer": "42"}, {"response": "41", "answer": "41"}],
    )
    result = runner.invoke(
        app, ["audit", "completions", str(path), "--stop", "END", "--lang", "zh"]
    )
    assert result.exit_code == 0, result.output
    assert "answer closed by 'END'" in result.stdout
    assert "未闭合" in result.stdout and "50.00%" in result.stdout


def test_missing_file_and_bad_pattern_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "completions", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "not a file" in result.stderr
    path = write_jsonl(tmp_path / "p.jsonl", [{"response": "1"}])
    result = runner.invoke(app, ["audit", "completions", str(path), "--answer-pattern", "("])
    assert result.exit_code == 2 and "invalid regex" in result.stderr
