"""D5: a FIFO, socket or device named like a log anywhere under PATH is skipped with a warning;
no command blocks on it, and every regular log beside it is read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from logwriters import write_swift_run

from trainlens.discover import SourceFormat, discover_all
from trainlens.readers._files import NotRegularFile, open_regular
from trainlens.readers.registry import read_source_file
from trainlens.watch import Follower

pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs"),
]

NAMES = {
    "logging.jsonl": SourceFormat.SWIFT_JSONL,
    "trainer_state.json": SourceFormat.HF_TRAINER_STATE,
    "events.out.tfevents.1.host": SourceFormat.TENSORBOARD,
    "trainer_log.jsonl": SourceFormat.LLAMAFACTORY,
    "train.log": SourceFormat.HF_CONSOLE,
    "metrics.csv": SourceFormat.CSV,
}


def _within(seconds: float, fn, *args):
    """``fn(*args)`` in a thread; fails (instead of hanging the suite) if it blocks."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} blocked"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _hostile_tree(root: Path) -> Path:
    write_swift_run(root / "good", [(s, {"loss": 1.0 / s}) for s in (1, 2, 3)], 3)
    for i, name in enumerate(NAMES):
        folder = root / f"fifo{i}"
        folder.mkdir()
        os.mkfifo(folder / name)
    sock = socket.socket(socket.AF_UNIX)
    (root / "sock").mkdir()
    try:
        sock.bind(str(root / "sock" / "logging.jsonl"))
    except OSError:
        pass  # path too long for a socket name on this system: FIFOs still cover the class
    finally:
        sock.close()
    (root / "dev").mkdir()
    (root / "dev" / "train.log").symlink_to("/dev/zero")
    return root


@pytest.mark.parametrize("name", NAMES)
def test_d5_readers_refuse_a_fifo(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    with pytest.raises(NotRegularFile, match="FIFO"):
        _within(10, open_regular, path)
    result = _within(10, read_source_file, NAMES[name], path)
    assert len(result.frame) == 0
    assert result.warnings  # "not a regular file: a FIFO" (a CSV: "not a CSV file")


def test_d5_discovery_skips_special_files_with_warnings(tmp_path):
    root = _hostile_tree(tmp_path)
    found = _within(20, discover_all, root)
    assert [r.name for r in found.runs] == ["good"]
    skipped = "\n".join(str(w) for w in found.skipped)
    assert skipped.count("FIFO") == len(NAMES)
    assert "character device" in skipped


def test_d5_follower_does_not_block(tmp_path):
    root = _hostile_tree(tmp_path)
    follower = Follower(root)
    found, _changed, points, _warnings = _within(20, follower.poll)
    assert [f.run for f in found] == ["good"] and points > 0


def test_d5_cli_commands_finish(tmp_path):
    root = _hostile_tree(tmp_path)
    fifo_arg = root / "fifo0" / "logging.jsonl"
    for args, codes in (
        (["metrics", str(root)], (0,)),
        (["analyze", str(root)], (0, 1)),
        (["metrics", str(fifo_arg)], (2,)),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "trainlens", *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode in codes, proc.stderr
        assert "Traceback" not in proc.stderr
    assert "not a regular file: a FIFO" in proc.stderr
