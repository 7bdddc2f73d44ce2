"""The bulk JSON-lines path (chunks of lines in one orjson call, records taken apart column by
column) gives exactly what the careful line-by-line path and ``DataFrame.from_records`` give,
on clean files and on every kind of bad line, at any chunk size."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import trainlens.readers._jsonl as jsonl
import trainlens.readers.swift_jsonl as swift
from trainlens.readers._jsonl import JsonLines, read_json_lines
from trainlens.readers.swift_jsonl import read_swift_jsonl


def swift_line(step: int, **extra: Any) -> str:
    row: dict[str, Any] = {
        "loss": round(1.0 / step, 8),
        "kl": step * 0.01,
        "memory(GiB)": 61.37,
        "global_step/max_steps": f"{step}/40",
        "percentage": f"{step * 2.5:.2f}%",
        "elapsed_time": f"{step}m 3s",
    }
    row.update(extra)
    return json.dumps(row)


CLEAN = "".join(swift_line(s) + "\n" for s in range(1, 41))
MESSY = "".join(
    [
        swift_line(1) + "\n",
        swift_line(2, reward=float("nan")) + "\n",  # a literal NaN: the careful decoder
        swift_line(3, big=10**400) + "\n",  # a huge integer: dropped with a note
        "{not json}\n",
        "\n",
        "   \n",
        swift_line(4, tags=[1, 2]) + "\n",  # a list: decoded alone
        "5\n",
        '{"a": 1}, {"b": 2}\n',  # two objects on one line
        '{"a": 1}{"b": 2}\n',
        '{"x": "},{", "global_step/max_steps": "6/40", "loss": 0.5}\n',
        '  {"global_step/max_steps": "7/40", "loss": 0.25}\n',  # leading blanks
        swift_line(8, flag=True, note=None) + "\n",
        '{"eval_loss": 0.7, "global_step/max_steps": "8/40"}\n',  # another key layout
        "[" * 600 + "]" * 600 + "\n",  # too deep
        swift_line(9) + "\n",
        '{"loss": 0.1, "global_step/max_steps": "10/40", "step_text": "10"}\n',
        '{"last_model_checkpoint": "/out/checkpoint-10", "best_metric": 0.1, '
        '"log_history": [{"loss": 1.0}]}\n',
        '{"train_runtime": 12.5, "global_step/max_steps": "10/40"}\n',
        swift_line(11),  # the last line has no line ending (complete record)
    ]
)

#: Irregular lines that decode as part of an array, each alone in a clean file.
SUBTLE = [
    CLEAN.replace(swift_line(5), '{"a": 1}, {"b": 2}'),  # one line, two elements
    CLEAN.replace(swift_line(5), '{"a": [{"x": 1}').replace(swift_line(6), '{"y": 2}]}'),
    CLEAN.replace(swift_line(5), '{"a": 1} '),  # a trailing blank
    CLEAN.replace(swift_line(5), swift_line(5, big=2**70)),  # beyond int64
]


def careful_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "_bulk", lambda out, source, data, offset, line_no: (0, line_no))


def summary(lines: JsonLines) -> tuple[Any, ...]:
    return (
        json.dumps(lines.objects, default=str),  # NaN written as NaN: comparable
        lines.line_numbers,
        lines.nan_rows,
        [str(w) for w in lines.warnings],
        str(lines.partial),
        lines.end_offset,
    )


@pytest.mark.parametrize("text", [CLEAN, MESSY, MESSY + '{"loss": 0.3, "global_st', *SUBTLE])
@pytest.mark.parametrize("chunk", [1, 64, 300, 4 << 20])
@pytest.mark.parametrize("final", [True, False])
def test_bulk_equals_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, chunk: int, final: bool
) -> None:
    path = tmp_path / "logging.jsonl"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(jsonl, "_CHUNK", chunk)
    offset = len(CLEAN.splitlines(keepends=True)[0])
    got = [
        summary(read_json_lines(path, o, final=final, first_line=f))
        for o, f in ((0, 1), (offset, 2))
    ]
    careful_only(monkeypatch)
    want = [
        summary(read_json_lines(path, o, final=final, first_line=f))
        for o, f in ((0, 1), (offset, 2))
    ]
    assert got == want


def test_a_clean_file_is_decoded_in_bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above compares something: a clean file never reaches the careful path."""
    path = tmp_path / "logging.jsonl"
    path.write_text(CLEAN, encoding="utf-8")
    calls: list[int] = []
    real = jsonl._careful

    def counted(*args: Any, **kwargs: Any) -> int | None:
        calls.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(jsonl, "_careful", counted)
    lines = read_json_lines(path)
    assert len(lines.objects) == 40 and lines.end_offset == len(CLEAN.encode())
    assert calls == [len(CLEAN.encode())]  # only the (empty) tail after the last line ending


@pytest.mark.parametrize("text", [CLEAN, MESSY])
def test_swift_frame_equals_from_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    path = tmp_path / "logging.jsonl"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(jsonl, "_CHUNK", 200)
    got = read_swift_jsonl(path)
    careful_only(monkeypatch)
    monkeypatch.setattr(swift, "records_table", lambda rows: pd.DataFrame.from_records(rows))
    want = read_swift_jsonl(path)
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert [str(w) for w in got.warnings] == [str(w) for w in want.warnings]
    assert got.meta == want.meta and got.end_offset == want.end_offset
    assert len(got.frame) > 30 and not math.isnan(got.frame["value"].iloc[0])
