"""ms-swift completions.jsonl: column-oriented lines (v3.5+/4.x, v3.3, v3.2), row-oriented
samples, bad lines skipped with a warning naming the line."""

from __future__ import annotations

import json
from pathlib import Path

from trainlens.diagnostics import ReadWarning
from trainlens.readers.completions import iter_completions, looks_like_completions


def _write(path: Path, *objs: object, tail: bytes = b"") -> Path:
    body = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)
    path.write_bytes(body.encode() + tail)
    return path


def test_column_oriented_lines_become_samples_with_steps_and_rewards(tmp_path: Path) -> None:
    # The exact shape ms-swift's GRPO trainer logs: step as a list of strings, one column per
    # reward function, advantages.
    line = {
        "step": ["5", "5"],
        "prompt": ["<|im_start|>user\n1+1?<|im_end|>", "<|im_start|>user\n2+2?<|im_end|>"],
        "completion": ["<answer>2</answer>", "<answer>4"],
        "MathAccuracy": [1.0, 0.0],
        "Format": [1.0, 0.0],
        "advantages": [0.7, -0.7],
    }
    warnings: list[ReadWarning] = []
    samples = list(iter_completions(_write(tmp_path / "c.jsonl", line), warnings))
    assert [s.step for s in samples] == [5, 5]
    assert samples[1].completion == "<answer>4"
    assert samples[0].rewards == {"MathAccuracy": 1.0, "Format": 1.0}
    assert samples[0].reward == 2.0 and samples[1].advantage == -0.7
    assert warnings == []


def test_v32_messages_and_single_reward_column(tmp_path: Path) -> None:
    line = {
        "step": ["1"],
        "messages": [[{"role": "user", "content": "hi"}]],
        "completion": ["hello"],
        "reward": [0.5],
    }
    (sample,) = iter_completions(_write(tmp_path / "c.jsonl", line), [])
    assert sample.prompt == "hi" and sample.reward == 0.5


def test_row_oriented_samples_and_bad_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.jsonl",
        {"step": 3, "prompt": "p", "completion": "c", "acc": 1},
        {"no": "completion"},
        tail=b'{"step": 4, "completion": "cut',
    )
    warnings: list[ReadWarning] = []
    samples = list(iter_completions(path, warnings))
    assert [(s.step, s.completion) for s in samples] == [(3, "c")]
    assert [w.message.split(":")[0] for w in warnings] == ["line 2", "line 3"]


def test_sniffing() -> None:
    assert looks_like_completions({"completion": ["a"], "step": ["1"]})
    assert not looks_like_completions({"loss": 1.0})
