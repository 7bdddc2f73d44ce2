"""Random corruption of a real event file: the reader never raises and keeps every intact record."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainlens.readers.tensorboard import read_event_file

Row = tuple[str, int, float]


def rows(frame: pd.DataFrame) -> list[Row]:
    """Hashable rows; NaN becomes a sentinel so that equal rows compare equal."""
    return [
        (str(k), int(s), -1e300 if math.isnan(v) else float(v))
        for k, s, v in zip(frame["key"], frame["step"], frame["value"])
    ]


@dataclass
class Original:
    data: bytes
    ends: list[int]  #: byte offset after each record
    rows_before: list[int]  #: number of table rows in the records before each end
    rows: list[Row]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Original:
    """A tensorboardX file: scalars of two tags, histograms and text in between."""
    from tensorboardX import SummaryWriter

    logdir = tmp_path_factory.mktemp("corrupt")
    w = SummaryWriter(str(logdir))
    for step in range(40):
        w.add_scalar("loss", 1.0 / (step + 1), step, walltime=1e9 + step)
        w.add_scalar("reward/mean", float("nan") if step == 7 else step * 0.5, step)
        if step % 13 == 0:
            w.add_histogram("w", np.arange(20.0), step)
            w.add_text("t", "x" * step, step)
    w.close()
    path = next(logdir.glob("events.out.tfevents.*"))
    data = path.read_bytes()
    ends, pos = [], 0
    while pos < len(data):
        pos += struct.unpack_from("<Q", data, pos)[0] + 16
        ends.append(pos)
    prefix = logdir / "prefix"
    counts = []
    for end in ends:
        prefix.write_bytes(data[:end])
        counts.append(len(read_event_file(prefix).frame))
    return Original(data, ends, counts, rows(read_event_file(path).frame))


corruption = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("flip"), st.floats(0, 1), st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=40)),
)


def corrupt(data: bytes, changes: list[tuple[str, float, bytes]]) -> tuple[bytes, int]:
    """Apply the changes; return the new bytes and the first position touched."""
    out = bytearray(data)
    first = len(out)
    for kind, where, payload in changes:
        pos = int(where * len(out))
        if kind == "truncate":
            del out[pos:]
        elif kind == "flip":
            payload = bytes(b or 1 for b in payload)
            for i, b in enumerate(payload[: len(out) - pos]):
                out[pos + i] ^= b
        else:
            out[pos:pos] = payload
        first = min(first, pos)
    return bytes(out), first


@settings(
    deadline=None, max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(corruption, min_size=1, max_size=3), final=st.booleans())
def test_random_corruption(
    original: Original, tmp_path: Path, changes: list[tuple[str, float, bytes]], final: bool
) -> None:
    data, first_bad = corrupt(original.data, changes)
    path = tmp_path / "events.out.tfevents.corrupt"
    path.write_bytes(data)

    result = read_event_file(path, final=final)  # must not raise

    intact = [n for end, n in zip(original.ends, original.rows_before) if end <= first_bad]
    keep = intact[-1] if intact else 0
    got = rows(result.frame)
    assert got[:keep] == original.rows[:keep]  # every record before the first damage is kept
    assert set(got) <= set(original.rows)  # nothing invented from damaged bytes
    assert 0 <= result.end_offset <= len(data)
    for warning in result.warnings:
        assert warning.source == str(path)
        assert "byte" in warning.message or warning.message == "empty file"
