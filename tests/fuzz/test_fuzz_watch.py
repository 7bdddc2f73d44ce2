"""Fuzzed live rewrites under ``watch``: appends, records split across polls, rename rotation,
copy-truncate and delete-and-recreate in any order. Every record that was complete in the file
at some poll stays in the run, and no poll raises or warns."""

from __future__ import annotations

import itertools
import os
import shutil

from fuzz_contract import CASE_TIMEOUT, FUZZ, within
from hypothesis import given
from hypothesis import strategies as st
from logwriters import swift_line

from trainlens.watch import Follower

_case = itertools.count()
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 40)),
        st.tuples(st.sampled_from(["partial", "poll", "rename", "copytruncate", "delete"])),
    ),
    min_size=1,
    max_size=12,
)


@FUZZ
@given(ops=operations)
def test_fuzz_watch_rewrites(tmp_path, ops):
    run = tmp_path / f"case{next(_case)}" / "run"
    run.mkdir(parents=True)
    log = run / "logging.jsonl"
    follower = Follower(run.parent, rediscover_every=1)
    step, pending, pending_step = 0, b"", 0  # pending: the rest of a record split in two
    in_file: set[int] = set()
    seen: set[int] = set()

    def write(data: bytes) -> None:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, data)
        os.close(fd)

    def line(s: int) -> bytes:
        return (swift_line(s, 10_000, {"loss": 1.0 / s}) + "\n").encode()

    for op in [*ops, ("poll",)]:
        kind = op[0]
        if kind == "append":
            first = step + 1
            step += op[1]
            write(pending + b"".join(line(s) for s in range(first, step + 1)))
            if pending:
                in_file.add(pending_step)
            in_file |= set(range(first, step + 1))
            pending = b""
        elif kind == "partial" and not pending:
            step += 1
            whole = line(step)
            write(whole[:20])
            pending, pending_step = whole[20:], step
        elif kind == "poll":
            within(CASE_TIMEOUT, follower.poll)
            seen |= in_file
        elif log.exists():
            if kind == "rename":
                log.rename(log.with_name("logging.jsonl.1"))
            elif kind == "copytruncate":
                shutil.copy(log, log.with_name("logging.jsonl.1"))
                os.truncate(log, 0)
            else:
                log.unlink()
            in_file.clear()
            pending = b""
    runs = [r for r in follower.runs if r.name == "run"]
    kept = set(runs[0].table.loc[runs[0].table["key"] == "loss", "step"]) if runs else set()
    assert seen <= kept, sorted(seen - kept)
