"""Fuzzed TensorBoard event files (tensorboardX): never a lost record before the damage."""

from __future__ import annotations

import itertools
import struct

import pytest
from fuzz_contract import CASE_TIMEOUT, FUZZ, check_cli, mutate, mutations, within
from hypothesis import given

from trainlens.readers.tensorboard import read_event_file

_case = itertools.count()


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> tuple[bytes, list[int]]:
    """An event file and the byte offset after each of its records."""
    import numpy as np
    from tensorboardX import SummaryWriter

    logdir = tmp_path_factory.mktemp("fuzz-events")
    w = SummaryWriter(str(logdir))
    for step in range(30):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("kl", 0.01 * step, step)
        if step % 10 == 0:
            w.add_histogram("w", np.arange(10.0), step)
    w.close()
    data = next(logdir.glob("events.out.tfevents.*")).read_bytes()
    ends, pos = [], 0
    while pos < len(data):
        pos += struct.unpack_from("<Q", data, pos)[0] + 16
        ends.append(pos)
    return data, ends


@FUZZ
@given(changes=mutations)
def test_fuzz_event_files(tmp_path, events, changes):
    original, ends = events
    data, first_bad = mutate(original, changes)
    folder = tmp_path / f"case{next(_case)}" / "run"
    folder.mkdir(parents=True)
    path = folder / "events.out.tfevents.1.host"
    path.write_bytes(data)
    result = within(CASE_TIMEOUT, read_event_file, path)
    intact = sum(1 for end in ends if end <= first_bad)
    if intact:  # the records before the damage, read from an undamaged prefix
        reference = folder.parent / "reference.tfevents"
        reference.write_bytes(original[: ends[intact - 1]])
        expected = read_event_file(reference).frame
        reference.unlink()
        head = result.frame.iloc[: len(expected)]
        assert head["step"].tolist() == expected["step"].tolist()
        assert head["key"].astype(str).tolist() == expected["key"].astype(str).tolist()
    check_cli(folder.parent)
