"""D2: two raw keys that one reader gives one name (ms-swift ``train_speed(s/it)`` and
``train_speed(iter/s)`` in one log, as when versions append to one file) merge into one series."""

from __future__ import annotations

import pytest
from logwriters import swift_line, write_swift_run

from trainlens.readers._frame import frame_from_codes
from trainlens.readers.swift_jsonl import read_swift_jsonl

pytestmark = pytest.mark.filterwarnings("error")


def test_d2_duplicate_keys_merge_in_swift_log(tmp_path, cli):
    rows = [(s, {"loss": 1.0 / s}) for s in range(1, 6)]
    run = write_swift_run(tmp_path / "run", rows, 10, summary=False, version=3)
    with open(run / "logging.jsonl", "a") as fh:
        for s in range(6, 11):
            fh.write(swift_line(s, 10, {"loss": 1.0 / s}, elapsed=5.0 * s, version=4) + "\n")
    result = read_swift_jsonl(run / "logging.jsonl")
    speed = result.frame[result.frame["key"] == "train_speed(iter/s)"]
    assert speed["step"].tolist() == list(range(1, 11))
    assert speed["value"].tolist() == pytest.approx([0.2] * 10)
    assert list(result.frame["key"].cat.categories).count("train_speed(iter/s)") == 1
    out = cli("metrics", run, codes=(0,))
    assert "train_speed" in out.stdout


def test_d2_duplicate_names_share_a_category():
    table = frame_from_codes(["a", "b", "a"], [0, 1, 2, 2], [1, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    frame = table.to_pandas()
    assert list(frame["key"].cat.categories) == ["a", "b"]
    assert frame["key"].tolist() == ["a", "b", "a", "a"]
