"""``trainlens replay score`` from the command line: the JSON shape, text and Markdown output,
exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from replay_fixtures import write_jsonl  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trainlens.cli import app  # noqa: E402

pytestmark = pytest.mark.torch
runner = CliRunner()

ROWS: list[object] = [
    {"id": "a", "prompt": "是 这 回答", "response": "无性别偏向"},
    {"id": "b", "prompt": "是 这 回答", "response": "无性别偏向 <eos>"},
    {"id": "p", "prompt": "the dog", "teacher": "good answer <eos>", "student": "bad"},
    "not json at all",
]
FINDING_KEYS = {
    "rule", "severity", "run", "metric", "key", "start_step", "end_step", "peak_step",
    "peak_value", "baseline", "message", "evidence", "title", "params",
    "file", "count", "first_line", "lines", "excerpt",
}  # fmt: skip


def _score(model: Path, tok: Path, batch: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["replay", "score", "--model", str(model), "--tokenizer", str(tok), "--batch"]
    return runner.invoke(app, [*args, str(batch), "--device", "cpu", *extra])


def test_json_has_exactly_the_documented_shape(model_dir, tokenizer_dir, tmp_path) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", ROWS)
    result = _score(model_dir("value"), tokenizer_dir, batch, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert {"schema_version", "samples", "summary", "findings"} <= set(doc)
    for s in doc["samples"]:
        assert isinstance(s["id"], str) and s["role"] in ("teacher", "student", None)
        assert isinstance(s["n_tokens"], int)
        for key in ("score_with_eos", "score_without_eos", "score"):
            assert isinstance(s[key], float)
        assert s["score"] == s["score_with_eos"]
    assert [(s["id"], s["role"]) for s in doc["samples"]] == [
        ("a", None), ("b", None), ("p", "teacher"), ("p", "student")
    ]  # fmt: skip
    summary = doc["summary"]
    assert summary["n_samples"] == 4
    for key in ("d_acc", "mean_gap", "hard_pair_share", "length_score_corr"):
        assert isinstance(summary[key], float)
    assert summary["identical_text_max_gap"] > 0.1
    [finding] = doc["findings"]
    assert set(finding) == FINDING_KEYS
    assert finding["rule"] == "eos_mask_bias" and finding["severity"] == "error"
    assert finding["lines"] == [1, 2] and finding["excerpt"] == "无性别偏向"
    assert "line 4: not valid JSON" in result.stderr

    excluded = _score(model_dir("value"), tokenizer_dir, batch, "-f", "json", "--exclude-eos")
    doc = json.loads(excluded.stdout)
    assert all(s["score"] == s["score_without_eos"] for s in doc["samples"])
    assert doc["summary"]["identical_text_max_gap"] == pytest.approx(0.0, abs=1e-5)


def test_text_and_markdown_reports(model_dir, tokenizer_dir, tmp_path) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", ROWS)
    text = _score(model_dir("value"), tokenizer_dir, batch)
    assert text.exit_code == 0, text.output
    assert "eos_mask_bias" in text.stdout and "b.jsonl:1" in text.stdout
    assert "discriminator accuracy" in text.stdout
    md = _score(model_dir("value"), tokenizer_dir, batch, "-f", "markdown", "--lang", "zh")
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# 回放：重新评分") and "分数掩码包含 EOS" in md.stdout
    out = tmp_path / "report.md"
    written = _score(model_dir("value"), tokenizer_dir, batch, "-f", "markdown", "-o", str(out))
    assert written.exit_code == 0 and out.read_text(encoding="utf-8").startswith("# Replay")


def test_exit_2_only_when_nothing_can_be_scored(model_dir, tokenizer_dir, tmp_path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{", {"id": "no response"}])
    result = _score(model_dir("value"), tokenizer_dir, bad)
    assert result.exit_code == 2
    assert "no sample could be read (2 of 2 lines skipped)" in result.stderr
    good = write_jsonl(tmp_path / "good.jsonl", ROWS)
    result = _score(model_dir("lm"), tokenizer_dir, good)
    assert result.exit_code == 2 and "no value head" in result.stderr
    result = _score(model_dir("value"), tokenizer_dir, good, "--steps", "9-3")
    assert result.exit_code == 2 and "--steps" in result.stderr
    result = _score(model_dir("value"), tokenizer_dir, good, "--steps", "1-3")
    assert result.exit_code == 2 and "no sample in steps 1-3" in result.stderr


def test_completions_log_window(model_dir, tokenizer_dir, tmp_path) -> None:
    """An ms-swift completions.jsonl re-scored for the window `analyze` reported; identical
    completions with and without EOS in the window make the finding carry its steps."""

    def line(step: int, completions: list[str]) -> dict[str, object]:
        n = len(completions)
        return {
            "step": [str(step)] * n,
            "prompt": ["是 这 回答"] * n,
            "completion": completions,
            "Accuracy": [1.0] * n,
            "advantages": [0.0] * n,
        }

    log = write_jsonl(
        tmp_path / "completions.jsonl",
        [
            line(5, ["the cat"]),
            line(10, ["无性别偏向", "good answer"]),
            line(15, ["无性别偏向 <eos>"]),
            line(20, ["the dog"]),
        ],
    )
    result = _score(model_dir("value"), tokenizer_dir, log, "--steps", "10-15", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["id"] for s in doc["samples"]] == ["10/0", "10/1", "15/0"]
    assert [s["step"] for s in doc["samples"]] == [10, 10, 15]
    assert doc["settings"]["steps"] == [10, 15]
    [finding] = doc["findings"]
    assert finding["rule"] == "eos_mask_bias"
    assert (finding["start_step"], finding["end_step"]) == (10, 15)
    assert finding["run"] == "completions.jsonl" and finding["lines"] == [2, 3]


def test_markdown_escapes_what_the_batch_wrote(model_dir, tokenizer_dir, tmp_path) -> None:
    rows = [
        {"id": "<img src=x onerror=alert(1)>|a", "prompt": "the", "response": "good"},
        {"id": "`b`", "prompt": "the", "response": "good <eos>"},
    ]
    batch = write_jsonl(tmp_path / "b.jsonl", rows)
    md = _score(model_dir("value"), tokenizer_dir, batch, "-f", "markdown")
    assert md.exit_code == 0, md.output
    assert "<img" not in md.stdout and "&lt;img src=x onerror=alert(1)&gt;\\|a" in md.stdout
    assert "\\`b\\`" in md.stdout and "eos_mask_bias" in md.stdout
