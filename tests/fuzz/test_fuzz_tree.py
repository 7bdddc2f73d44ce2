"""Fuzzed folder shapes around a good run: FIFOs and dangling links named like logs, symlink
loops, trees deeper than PATH_MAX, names at NAME_MAX, names that are not UTF-8."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from fuzz_contract import CASE_TIMEOUT, FUZZ, check_cli, within
from hypothesis import given
from hypothesis import strategies as st
from logwriters import swift_line, write_swift_run

from trainlens.discover import discover_all

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")

_case = itertools.count()
NAMES = ["logging.jsonl", "trainer_state.json", "events.out.tfevents.1.h", "train.log", "m.csv"]
shapes = st.lists(
    st.tuples(
        st.sampled_from(["fifo", "loop", "dangling", "deep", "long", "bytes", "latest"]),
        st.sampled_from(NAMES),
    ),
    min_size=1,
    max_size=5,
)


def _deep(root: Path, name: str) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(22):  # 22 x 200 characters: past PATH_MAX
            if not os.path.exists(f"/proc/self/fd/{fd}/{'d' * 200}"):
                os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=fd)
        os.write(out, (swift_line(1, 1, {"loss": 1.0}) + "\n").encode())
        os.close(out)
    finally:
        os.close(fd)


def _build(root: Path, shape: list[tuple[str, str]]) -> None:
    for i, (kind, name) in enumerate(shape):
        here = root / f"x{i}"
        here.mkdir()
        if kind == "fifo":
            os.mkfifo(here / name)
        elif kind == "loop":
            (here / "up").symlink_to(root)
            (here / "self").symlink_to(here)
        elif kind == "dangling":
            (here / name).symlink_to(here / "missing")
        elif kind == "deep":
            _deep(here, name)
        elif kind == "long":
            stem = "a" * (255 - len(name) - 1)
            (here / f"{stem}.{name}").write_text(swift_line(1, 1, {"loss": 1.0}) + "\n")
        elif kind == "bytes":
            target = os.fsencode(here) + b"/\xff\xfe" + os.fsencode(name)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"step:1 - actor/kl_loss:0.1\n")
            os.close(fd)
        else:
            (here / "latest").symlink_to(root / "good")


@FUZZ
@given(shape=shapes)
def test_fuzz_folder_shapes(tmp_path, shape):
    root = tmp_path / f"case{next(_case)}"
    write_swift_run(root / "good", [(s, {"loss": 1.0 / s}) for s in (1, 2, 3)], 3)
    _build(root, shape)
    found = within(CASE_TIMEOUT, discover_all, root)
    assert "good" in [r.name for r in found.runs]
    check_cli(root)
