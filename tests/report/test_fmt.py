from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainlens.report.fmt import display_path, num, relative, signed, slug


@pytest.mark.parametrize(
    "value, text",
    [
        (19.6, "19.6"),
        (0.875, "0.875"),
        (95.21, "95.21"),
        (64.84000015, "64.84"),
        (5e-5, "5e-5"),
        (1e-6, "1e-6"),
        (0.0, "0"),
        (2.0, "2"),
        (-0.217, "-0.217"),
        (39.18, "39.18"),
        (2_400_000.0, "2.4e6"),
        (-14_910.4, "-14910"),
        (25_221.0, "25221"),
        (None, "–"),
        (float("nan"), "NaN"),
        (float("-inf"), "-inf"),
    ],
)
def test_num(value, text):
    assert num(value) == text


def test_signed_and_relative():
    assert signed(30.37) == "+30.37"
    assert signed(-0.5) == "-0.5"
    assert relative(30.37, 64.84) == "+46.8%"
    assert relative(1.0, 0.0) is None  # from zero: no percentage
    assert relative(100.0, 0.01) is None  # thousands of percent say nothing


def test_paths_are_never_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "runs" / "a" / "logging.jsonl"
    assert display_path(inside) == "runs/a/logging.jsonl"
    assert display_path(inside, tmp_path / "runs") == "a/logging.jsonl"
    outside = Path(os.path.abspath(os.sep)) / "elsewhere" / "x.jsonl"
    assert display_path(outside) == "x.jsonl"
    assert display_path("../shared/y") == "../shared/y"


def test_slug():
    assert slug("reward/format") == "reward-format"
    assert slug("train_speed(iter/s)") == "train_speed-iter-s"
