"""A plain (non-editable) wheel ships rules/, templates/ and the chart font, and works from
another directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_data_and_runs_outside_the_checkout(tmp_path):
    pytest.importorskip("hatchling")
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "bench-data"
        ),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("trainlens-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "trainlens/_data/rules/metrics.yaml" in names
    assert any(n.startswith("trainlens/_data/templates/") for n in names)
    # the CJK chart font (zh charts need nothing installed) ships with its licence
    assert "trainlens/render/fonts/TrainlensCJKSC-Regular.otf" in names
    assert "trainlens/render/fonts/OFL.txt" in names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import trainlens.resources as r, trainlens.metrics as m; "
        "print(r.rules_dir()); print(m.AliasTable.load().resolve('train/kl').canonical)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert out[0].startswith(str(target)) and out[1] == "kl"
