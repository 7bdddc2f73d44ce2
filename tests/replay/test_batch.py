"""Replay batches (JSONL) and ms-swift completions logs as replay input; no torch needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainlens.errors import TrainlensError
from trainlens.replay.batch import Text, parse_steps, read_batch


def _write(path: Path, *rows: object) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_samples_pairs_and_token_ids(tmp_path: Path) -> None:
    batch = read_batch(
        _write(
            tmp_path / "b.jsonl",
            {"id": 7, "prompt": "q", "response": "a", "sampler_logprobs": [-0.1]},
            {"id": "p", "prompt": "q", "chosen": "good", "rejected": "bad"},
            {"prompt_ids": [1, 2], "teacher_ids": [3], "student_ids": [4, 5]},
            {"response_ids": [9]},
        )
    )
    s = batch.samples
    assert [(x.id, x.role, x.line) for x in s] == [
        ("7", None, 1), ("p", "teacher", 2), ("p", "student", 2),
        ("line3", "teacher", 3), ("line3", "student", 3), ("line4", None, 4),
    ]  # fmt: skip
    assert s[0].sampler_logprobs == (-0.1,) and s[0].response == Text(text="a")
    assert s[1].response.text == "good" and s[2].response.text == "bad"
    assert s[3].prompt.ids == (1, 2) and s[4].response.ids == (4, 5)
    assert s[5].prompt.ids == () and not s[5].needs_tokenizer
    assert batch.lines_read == 4 and batch.lines_skipped == 0 and not batch.warnings


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"id": "x", "prompt": "q"}, "missing 'response'"),
        ({"teacher": "a"}, "a pair needs both 'teacher' and 'student'"),
        ({"response": ""}, "'response' is empty"),
        ({"response": 3}, "'response' must be a string"),
        ({"response_ids": [1, "2"]}, "'response_ids' must be a list of non-negative integers"),
        ({"response_ids": [True]}, "'response_ids' must be a list of non-negative integers"),
    ],
)
def test_bad_lines_are_skipped_with_a_warning_naming_the_line(
    tmp_path: Path, row: object, why: str
) -> None:
    batch = read_batch(_write(tmp_path / "b.jsonl", {"response": "ok"}, row, {"response": "ok"}))
    assert len(batch.samples) == 2 and batch.lines_skipped == 1 and batch.lines_read == 3
    [warning] = batch.warnings
    assert warning.message.startswith(f"line 2: {why}") and warning.message.endswith("skipped")
    assert warning.source == str(tmp_path / "b.jsonl")
    assert "nothing" not in batch.nothing_read()


def test_ignored_fields_are_noted_and_steps_filter_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "b.jsonl",
        {"step": 3, "response": "a", "sampler_logprobs": [float("nan")]},
        {"step": "5", "teacher": "a", "student": "b", "sampler_logprobs": [0.0]},
        {"response": "no step"},
    )
    batch = read_batch(path, steps=(4, 6))
    assert [(s.step, s.role) for s in batch.samples] == [(5, "teacher"), (5, "student")]
    assert [w.message for w in batch.warnings] == [
        "line 1: sampler_logprobs is not a list of finite numbers, ignored",
        "line 2: sampler_logprobs ignored on a pair (one list per sample)",
    ]
    assert batch.step_span == (5, 5)
    assert read_batch(path, steps=(9, 9)).nothing_read().endswith("no sample in steps 9-9")


def test_swift_completions_log_with_a_step_window(tmp_path: Path) -> None:
    """Column-oriented lines as ms-swift's GRPO trainer writes them (step: list of strings)."""

    def line(step: int, n: int) -> dict[str, object]:
        return {
            "step": [str(step)] * n,
            "prompt": [f"<|im_start|>user\nq{step}.{i}<|im_end|>" for i in range(n)],
            "completion": [f"answer {step}.{i}" if i else "" for i in range(n)],
            "MathAccuracy": [1.0] * n,
            "advantages": [0.0] * n,
        }

    path = _write(tmp_path / "completions.jsonl", line(5, 2), "{cut", line(10, 3), line(15, 2))
    batch = read_batch(path, steps=(6, 15))
    assert batch.completions
    assert [(s.id, s.step, s.line) for s in batch.samples] == [
        ("10/1", 10, 3), ("10/2", 10, 3), ("15/1", 15, 4)
    ]  # fmt: skip
    assert batch.samples[0].prompt.text == "<|im_start|>user\nq10.1<|im_end|>"
    assert batch.samples[0].response.text == "answer 10.1"
    assert batch.lines_skipped == 1 and batch.step_span == (10, 15)
    messages = [w.message for w in batch.warnings]
    assert messages[0].startswith("line 2: not valid JSON")
    assert "line 3: sample 0 has no completion text" in messages
    assert len(read_batch(path).samples) == 4


def test_parse_steps() -> None:
    assert parse_steps("120-140") == (120, 140)
    assert parse_steps("7") == (7, 7)
    assert parse_steps("3..4") == (3, 4) and parse_steps(None) is None
    for bad in ("a-b", "9-3", "-1"):
        with pytest.raises(TrainlensError, match="--steps"):
            parse_steps(bad)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(TrainlensError, match="batch file not found"):
        read_batch(tmp_path / "none.jsonl")
