"""Fuzzed JSON-lines logs: ms-swift ``logging.jsonl``, LLaMA-Factory ``trainer_log.jsonl`` and
verl's file logger, each written by its real writer and then damaged."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from consolelogs import write_llamafactory_log
from fuzz_contract import CASE_TIMEOUT, FUZZ, check_cli, intact_lines, mutate, mutations, within
from hypothesis import given
from logwriters import write_swift_run

from trainlens.discover import SourceFormat
from trainlens.readers.registry import read_source_file

STEPS = range(1, 31)
_case = itertools.count()


def _swift(folder: Path) -> Path:
    rows = [(s, {"loss": 1.0 / s, "grad_norm": 0.5 + s}) for s in STEPS]
    return write_swift_run(folder, rows, 30, summary=False) / "logging.jsonl"


def _llamafactory(folder: Path) -> Path:
    rows = [
        {"current_steps": s, "total_steps": 30, "loss": 1.0 / s, "lr": 1e-5, "epoch": s / 30}
        for s in STEPS
    ]
    return write_llamafactory_log(folder / "trainer_log.jsonl", rows)


def _verl(folder: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "exp.jsonl"
    path.write_text(
        "".join(json.dumps({"step": s, "data": {"loss": 1.0 / s}}) + "\n" for s in STEPS)
    )
    return path


WRITERS = {
    SourceFormat.SWIFT_JSONL: _swift,
    SourceFormat.LLAMAFACTORY: _llamafactory,
    SourceFormat.VERL_JSONL: _verl,
}


@pytest.mark.parametrize("fmt", list(WRITERS), ids=str)
@FUZZ
@given(changes=mutations)
def test_fuzz_jsonl_logs(tmp_path, fmt, changes):
    folder = tmp_path / f"case{next(_case)}" / "run"
    path = WRITERS[fmt](folder)
    data, first_bad = mutate(path.read_bytes(), changes)
    path.write_bytes(data)
    result = within(CASE_TIMEOUT, read_source_file, fmt, path)
    loss = set(result.frame[result.frame["key"] == "loss"]["step"].tolist())
    kept = intact_lines(data, first_bad)
    assert set(range(1, kept + 1)) <= loss, (kept, sorted(loss))
    check_cli(folder.parent)
