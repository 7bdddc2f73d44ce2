"""The Follower: offsets kept per file, partial records retried, new files and runs picked up,
nothing read twice, memory at the size of the data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from logwriters import swift_line
from watch_helpers import tfrecord_ends

import trainlens.watch as watch_mod
from trainlens.load import load_runs
from trainlens.watch import Follower


def swift_lines(steps, kl=lambda s: 0.1 * s) -> list[str]:
    return [swift_line(s, 100, {"loss": 1.0 / s, "kl": kl(s)}) + "\n" for s in steps]


def append(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def table_of(follower: Follower, name: str):
    (run,) = [r for r in follower.runs if r.name == name]
    return run.table[["key", "step", "value"]].astype({"key": str}).reset_index(drop=True)


@pytest.fixture()
def reads(monkeypatch):
    """Every (path name, offset) the follower asks a reader for."""
    calls: list[tuple[str, int, int]] = []
    real = watch_mod._read_increment

    def spy(fmt, path, offset, line, member=None):
        result = real(fmt, path, offset, line, member)
        calls.append((path.name, offset, result.end_offset))
        return result

    monkeypatch.setattr(watch_mod, "_read_increment", spy)
    return calls


def test_jsonl_record_split_across_polls_is_retried_not_lost(tmp_path, reads):
    log = tmp_path / "run" / "logging.jsonl"
    text = "".join(swift_lines(range(1, 9)))
    cuts = [0, 37, 38, len(swift_lines([1])[0]) - 1, 400, 401, len(text) - 1, len(text)]
    append(log, "")
    follower = Follower(tmp_path)
    warnings_seen = []
    for a, b in zip(cuts, cuts[1:]):
        append(log, text[a:b])
        _, _, _, warnings = follower.poll()
        warnings_seen += warnings
    assert warnings_seen == []
    expected = load_runs(tmp_path).runs[0].table[["key", "step", "value"]].astype({"key": str})
    assert table_of(follower, "run").equals(expected.reset_index(drop=True))
    # each read started where the previous complete record ended: nothing was read twice
    offsets = [(start, end) for _, start, end in reads]
    assert all(start == prev_end for (_, prev_end), (start, _) in zip(offsets, offsets[1:]))
    assert offsets[-1][1] == len(text.encode())


def test_line_numbers_continue_across_polls(tmp_path):
    log = tmp_path / "run" / "logging.jsonl"
    append(log, "".join(swift_lines([1, 2, 3])))
    follower = Follower(tmp_path)
    follower.poll()
    append(log, "not json\n" + swift_lines([4])[0])
    _, changed, new_points, warnings = follower.poll()
    assert [w.message.split(" (")[0] for w in warnings] == ["line 4"]
    assert new_points > 0 and changed[0].last_step == 4


def test_nothing_new_means_no_read_and_no_rebuild(tmp_path, reads):
    log = tmp_path / "run" / "logging.jsonl"
    append(log, "".join(swift_lines([1, 2])))
    follower = Follower(tmp_path, rediscover_every=1)
    assert len(follower.poll()[1]) == 1
    for _ in range(5):
        found, changed, new_points, _ = follower.poll()
        assert (found, changed, new_points) == ([], [], 0)
    assert len(reads) == 1


def test_new_runs_and_new_files_are_picked_up(tmp_path):
    follower = Follower(tmp_path, rediscover_every=3)
    assert follower.poll()[0] == []  # nothing written yet: keep waiting, no error
    append(tmp_path / "a" / "logging.jsonl", "".join(swift_lines([1, 2])))
    found, changed, _, _ = follower.poll()  # no run known yet: discovery on every poll
    assert [f.run for f in found] == ["a"] and [r.name for r in changed] == ["a"]
    append(tmp_path / "b" / "logging.jsonl", "".join(swift_lines([1])))
    seen = []
    for _ in range(3):
        seen += [f.run for f in follower.poll()[0]]
    assert seen == ["b"] and {r.name for r in follower.runs} == {"a", "b"}


def test_truncated_file_is_read_again(tmp_path):
    log = tmp_path / "run" / "logging.jsonl"
    append(log, "".join(swift_lines([1, 2, 3])))
    follower = Follower(tmp_path)
    follower.poll()
    log.write_text("".join(swift_lines([1], kl=lambda s: 7.0)))  # a job resumed from step 1
    _, changed, _, warnings = follower.poll()
    assert "file was truncated" in warnings[0].message
    kl = changed[0].table[changed[0].table["key"] == "kl"]
    by_step = dict(zip(kl["step"].tolist(), kl["value"].tolist()))
    assert by_step[1] == 7.0  # the new record re-logs step 1
    assert set(by_step) == {1, 2, 3}  # and the history read before stays (D10)


def test_memory_stays_at_the_size_of_the_data(tmp_path):
    log = tmp_path / "run" / "logging.jsonl"
    append(log, "")
    follower = Follower(tmp_path)
    for step in range(1, 201):
        append(log, swift_lines([step])[0])
        follower.poll()
    state = next(iter(follower.states.values()))
    (tail,) = state.tails.values()
    assert len(tail.chunks) == 1  # chunks are folded into one table at each rebuild
    whole = load_runs(tmp_path).runs[0].table
    assert len(tail.chunks[0]) == len(follower.runs[0].table) == len(whole)
    assert len(follower.runs[0].series("kl")) == 200


def test_whole_file_formats_are_reread_when_rewritten(tmp_path):
    state = tmp_path / "out" / "checkpoint-2" / "trainer_state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"log_history": [{"step": 1, "loss": 1.0}]}))
    follower = Follower(tmp_path / "out")
    assert follower.poll()[1][0].last_step == 1
    state.write_text(
        json.dumps({"log_history": [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}]})
    )
    os.utime(state, ns=(1, 10**18))  # a different mtime, whatever the clock resolution
    assert follower.poll()[1][0].last_step == 2
    state.write_text('{"log_history": [{"step": 1, "lo')  # caught mid-save
    os.utime(state, ns=(1, 2 * 10**18))
    _, changed, _, warnings = follower.poll()
    assert (changed, warnings) == ([], []) and follower.runs[0].last_step == 2


def _event_file_bytes(tmp_path: Path, steps: range) -> bytes:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "src"))
    for s in steps:
        writer.add_scalar("train/kl", 0.01 * s, s, walltime=1e9 + s)
        writer.add_scalar("train/loss", 1.0 / s, s, walltime=1e9 + s)
    writer.close()
    (path,) = (tmp_path / "src").glob("events.out.tfevents.*")
    return path.read_bytes()


def test_tfevents_record_split_across_polls(tmp_path, reads):
    data = _event_file_bytes(tmp_path, range(1, 21))
    ends = tfrecord_ends(data)
    assert ends[-1] == len(data)
    # cut inside the length header, inside a payload, and between records
    cuts = sorted(
        {0, ends[0], ends[3] + 4, ends[3] + 13, ends[10] - 3, ends[10], ends[25] + 20, len(data)}
    )
    target = tmp_path / "live" / "events.out.tfevents.1.host"
    append(target, b"")
    follower = Follower(tmp_path / "live")
    warnings_seen = []
    for a, b in zip(cuts, cuts[1:]):
        append(target, data[a:b])
        warnings_seen += follower.poll()[3]
    assert warnings_seen == []
    (run,) = follower.runs
    steps, values = run.arrays("kl")
    assert steps.tolist() == list(range(1, 21))
    np.testing.assert_allclose(values, [np.float32(0.01 * s) for s in range(1, 21)])
    offsets = [(start, end) for _, start, end in reads]
    assert all(start == prev_end for (_, prev_end), (start, _) in zip(offsets, offsets[1:]))


def test_new_event_file_in_a_known_run_and_primary_switch(tmp_path):
    run_dir = tmp_path / "live" / "out"
    data = _event_file_bytes(tmp_path, range(1, 4))
    append(run_dir / "runs" / "events.out.tfevents.1.host", data)
    follower = Follower(tmp_path / "live", rediscover_every=1)
    (found,) = follower.poll()[0]
    assert (found.run, found.format) == ("out/runs", "tensorboard")
    append(run_dir / "runs" / "events.out.tfevents.2.host", data)
    _, changed, new_points, _ = follower.poll()
    assert new_points == 6 and len(changed) == 1
    # ms-swift's logging.jsonl appears: the run is its output dir now, with the jsonl history
    append(run_dir / "logging.jsonl", "".join(swift_lines([1, 2, 3, 4, 5])))
    found, changed, _, _ = follower.poll()
    assert [f.run for f in found] == ["out"] and [r.name for r in follower.runs] == ["out"]
    assert changed[0].format == "swift_jsonl" and changed[0].last_step == 5
