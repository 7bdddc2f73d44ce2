"""D15: symlinked run folders are followed (each folder read once, loops harmless); a folder
that cannot be listed, e.g. deeper than PATH_MAX, is a warning, never silently missing."""

from __future__ import annotations

import os

import pytest
from logwriters import swift_line, write_swift_run

from trainlens.discover import discover_all

pytestmark = pytest.mark.filterwarnings("error")

ROWS = [(s, {"loss": 1.0 / s}) for s in (1, 2, 3)]


def test_d15_folder_of_symlinks_to_runs(tmp_path, cli):
    for name in ("run1", "run2"):
        write_swift_run(tmp_path / "store" / name, ROWS, 3)
    links = tmp_path / "links"
    links.mkdir()
    (links / "a").symlink_to(tmp_path / "store" / "run1")
    (links / "b").symlink_to(tmp_path / "store" / "run2")
    (links / "loop").symlink_to(links)  # a link back to its own folder
    (links / "a" / "up").symlink_to(tmp_path)  # and one to an ancestor of everything
    found = discover_all(links)
    assert sorted(r.name for r in found.runs) == ["a", "b"]
    assert found.skipped == []
    out = cli("metrics", links, codes=(0,))
    assert "a" in out.stdout and "b" in out.stdout


def test_d15_latest_link_does_not_rename_or_duplicate_a_run(tmp_path):
    write_swift_run(tmp_path / "run-3", ROWS, 3)
    (tmp_path / "latest").symlink_to(tmp_path / "run-3")
    found = discover_all(tmp_path)
    assert [r.name for r in found.runs] == ["run-3"]


def test_d15_unreadable_folder_is_a_warning(tmp_path):
    write_swift_run(tmp_path / "ok", ROWS, 3)
    locked = tmp_path / "locked"
    write_swift_run(locked / "inner", ROWS, 3)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("root reads anything")
        found = discover_all(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [r.name for r in found.runs] == ["ok"]
    assert any("locked" in w.source and "not listed" in w.message for w in found.skipped)


def test_d15_run_deeper_than_path_max(tmp_path, cli):
    write_swift_run(tmp_path / "shallow", ROWS, 3)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(30):  # 30 x 200 characters: beyond PATH_MAX (4,096) on Linux
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        log = os.open("logging.jsonl", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(log, (swift_line(1, 1, {"loss": 1.0}) + "\n").encode())
        os.close(log)
    finally:
        os.close(fd)
    found = discover_all(tmp_path)
    assert [r.name for r in found.runs] == ["shallow"]
    assert len(found.skipped) == 1
    assert "not listed" in found.skipped[0].message
    cli("metrics", tmp_path, codes=(0,))
