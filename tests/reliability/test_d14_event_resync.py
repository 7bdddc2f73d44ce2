"""D14: an event file keeps every intact record after a damaged one: a header with a valid
checksum but an impossible length, or a record cut short with more records appended after it,
is skipped by scanning for the next valid header (and payload) checksum."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from trainlens.readers._tfrecord import masked_crc
from trainlens.readers.tensorboard import read_event_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> tuple[bytes, list[int]]:
    """An event file of 120 scalars, and the byte offset where each record starts."""
    from tensorboardX import SummaryWriter

    logdir = tmp_path_factory.mktemp("d14")
    w = SummaryWriter(str(logdir))
    for step in range(120):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    data = next(logdir.glob("events.out.tfevents.*")).read_bytes()
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += struct.unpack_from("<Q", data, pos)[0] + 16
    return data, starts


def _steps(path: Path, final: bool = True) -> tuple[list[int], list[str]]:
    result = read_event_file(path, final=final)
    return result.frame["step"].tolist(), [w.message for w in result.warnings]


def _header(length: int) -> bytes:
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc(head))


@pytest.mark.parametrize("length", [2**62, 10**9, 5_000, 10**12])
def test_d14_valid_header_impossible_length(tmp_path, events, length):
    data, starts = events
    cut = starts[60]  # record 60 is step 59 (record 0 is the file version)
    path = tmp_path / "events.out.tfevents.bad"
    path.write_bytes(data[:cut] + _header(length) + data[cut + 12 :])
    steps, warnings = _steps(path)
    assert steps == [s for s in range(120) if s != 59]
    assert len(warnings) == 1 and f"byte {cut}" in warnings[0]


def test_d14_truncated_record_then_appended_records(tmp_path, events):
    data, starts = events
    cut = starts[60] + 20  # record 60 cut 8 bytes into its payload
    appended = data[starts[1] :]  # a writer appended a whole run again after the cut
    path = tmp_path / "events.out.tfevents.appended"
    path.write_bytes(data[:cut] + appended)
    steps, warnings = _steps(path)
    assert steps == [*range(59), *range(120)]
    assert len(warnings) == 1 and f"byte {starts[60]}" in warnings[0]
    live, live_warnings = _steps(path, final=False)
    assert live == steps and len(live_warnings) == 1


def test_d14_truncated_last_record_is_still_truncation(tmp_path, events):
    data, starts = events
    path = tmp_path / "events.out.tfevents.cut"
    path.write_bytes(data[: starts[-1] + 14])
    steps, warnings = _steps(path)
    assert steps == list(range(119))
    assert len(warnings) == 1 and warnings[0].startswith(f"truncated record at byte {starts[-1]}")
    result = read_event_file(path, final=False)  # a writer mid-record: no warning, wait there
    assert result.warnings == [] and result.end_offset == starts[-1]
