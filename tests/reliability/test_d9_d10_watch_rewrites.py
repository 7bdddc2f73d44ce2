"""D9/D10: ``watch`` notices a copy-truncate rewrite that grows past the old offset between two
polls, and keeps the history it read across rename rotation and delete-and-recreate (reading
the rotated file to its end when it is still there)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from logwriters import swift_line

from trainlens.watch import Follower

pytestmark = pytest.mark.filterwarnings("error")


def _lines(steps) -> bytes:
    return "".join(swift_line(s, 5000, {"loss": 1.0 / s}) + "\n" for s in steps).encode()


def _append(path: Path, steps) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, _lines(steps))
    finally:
        os.close(fd)


def _loss_steps(follower: Follower) -> list[int]:
    (run,) = follower.runs
    table = run.table
    return sorted(table[table["key"] == "loss"]["step"].tolist())


def _messages(warnings) -> list[str]:
    return [w.message for w in warnings]


@pytest.fixture()
def log(tmp_path) -> Path:
    (tmp_path / "run").mkdir()
    path = tmp_path / "run" / "logging.jsonl"
    _append(path, range(1, 101))
    return path


def test_d9_copy_truncate_growing_past_the_offset(log):
    follower = Follower(log.parent)
    follower.poll()
    shutil.copy(log, log.with_name("logging.jsonl.1"))  # logrotate copytruncate
    inode = log.stat().st_ino
    with open(log, "r+b") as fh:
        fh.truncate(0)
    _append(log, range(101, 1201))  # 1,100 lines: far past the old offset before the next poll
    assert log.stat().st_ino == inode
    _, _, points, warnings = follower.poll()
    messages = _messages(warnings)
    assert points and not any("not valid JSON" in m for m in messages)
    assert sum("rewritten in place" in m for m in messages) == 1
    assert _loss_steps(follower) == list(range(1, 1201))


def test_d9_rewrite_of_the_same_size_is_noticed(log):
    follower = Follower(log.parent)
    follower.poll()
    data = log.read_bytes()
    with open(log, "r+b") as fh:  # same inode, same length, other bytes, then growth
        fh.write(data.replace(b'"loss": 1.0,', b'"loss": 9.0,', 1))
    _append(log, [101])
    _, _, _, warnings = follower.poll()
    assert any("rewritten in place" in m for m in _messages(warnings))
    (run,) = follower.runs
    loss = run.table[run.table["key"] == "loss"]
    assert dict(zip(loss["step"], loss["value"]))[1] == 9.0


def test_d10_rename_rotation_keeps_history_and_reads_the_rotated_tail(log):
    follower = Follower(log.parent)
    follower.poll()
    _append(log, range(101, 111))  # written after the last poll, before the rotation
    log.rename(log.with_name("logging.jsonl.1"))
    _append(log, range(111, 121))
    _, _, _, warnings = follower.poll()
    assert any("rotated (now logging.jsonl.1" in m for m in _messages(warnings))
    assert _loss_steps(follower) == list(range(1, 121))


@pytest.mark.parametrize("rediscover_every", [1, 3])
def test_d10_delete_and_recreate_keeps_history(tmp_path, log, rediscover_every):
    other = tmp_path / "other"
    other.mkdir()
    _append(other / "logging.jsonl", [1])  # another run, so discovery is never empty
    follower = Follower(tmp_path, rediscover_every=rediscover_every)
    follower.poll()
    log.unlink()
    follower.poll()
    follower.poll()
    _append(log, range(101, 111))
    for _ in range(3):
        follower.poll()
    run = next(r for r in follower.runs if r.name == "run")
    loss = run.table[run.table["key"] == "loss"]
    assert sorted(loss["step"].tolist()) == list(range(1, 111))
