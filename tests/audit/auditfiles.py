"""Prediction files in the formats the tools write, for the audit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    """One JSON object per line, as ms-swift's JsonlWriter and vLLM scripts write them."""
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path.write_text(body + tail, encoding="utf-8")
    return path


def swift_infer_records(
    n: int, *, correct: int, unclosed: int, unparseable: int = 0, gap_right: bool = True
) -> list[dict[str, Any]]:
    """ms-swift ``swift infer`` result lines (``response``, ``labels``, ``messages``) for a
    GSM8K-style task: ``correct`` closed right answers, ``unclosed`` answers cut before
    ``</answer>`` (whose last number is the gold one when ``gap_right``), ``unparseable``
    closed answers holding a derivation; the rest closed and wrong."""
    out = []
    for i in range(n):
        gold = 10 + i
        q = [{"role": "user", "content": f"Question {i}?"}]
        if i < correct:
            text = f"<think>add {i} and 10</think>\n<answer>{gold}</answer>"
        elif i < correct + unclosed:
            last = gold if gap_right else gold + 1
            text = f"<think>We compute {i} + 10 step by step, carefully, so it is {last}"
        elif i < correct + unclosed + unparseable:
            text = f"<think>ok</think><answer>{i} + 10 = {gold}</answer>"
        else:
            text = f"<think>guess</think><answer>{gold + 1}</answer>"
        out.append(
            {
                "response": text,
                "labels": f"{i} plus 10.\n#### {gold:,}",
                "messages": q,
                "logprobs": None,
            }
        )
    return out


def swift_completion_lines(steps: list[int], per_step: int, bad_from: int) -> list[dict]:
    """ms-swift GRPO ``completions.jsonl`` lines (v3.5+/4.x layout: column-oriented, ``step``
    as strings, one column per reward function, ``advantages``); from step ``bad_from`` on,
    half the completions lose their closing tag."""
    lines = []
    for step in steps:
        comps, sols = [], []
        for j in range(per_step):
            gold = step + j
            if step >= bad_from and j % 2 == 0:
                comps.append(f"<think>thinking about {gold} for a long time")
            else:
                comps.append(f"<think>short</think><answer>{gold}</answer>")
            sols.append(str(gold))
        lines.append(
            {
                "step": [str(step)] * per_step,
                "prompt": ["<|im_start|>user\nq<|im_end|>"] * per_step,
                "completion": comps,
                "solution": sols,
                "MathAccuracy": [1.0] * per_step,
                "advantages": [0.0] * per_step,
            }
        )
    return lines
