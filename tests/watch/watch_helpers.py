"""Helpers of the watch tests: writers that append in another thread or process in lock-step with
the watch loop's polls, and a tiny stand-in for the rule engine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainlens.findings import Finding, Severity, Skipped
from trainlens.run import Run
from trainlens.watch import NewFinding, Polled


@dataclass
class FakeAnalysis:
    findings: list[Finding]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list = field(default_factory=list)


class ThresholdRule:
    """``kl_limit`` (error): one finding per episode of consecutive points with ``metric`` above
    ``limit``. Records what it was asked to analyse."""

    def __init__(self, metric: str = "kl", limit: float = 10.0) -> None:
        self.metric, self.limit = metric, limit
        self.calls: list[list[tuple[str, int]]] = []

    def __call__(self, runs: list[Run]) -> FakeAnalysis:
        self.calls.append([(r.name, len(r.table)) for r in runs])
        out = []
        for run in runs:
            arrays = run.arrays(self.metric)
            if arrays is None:
                continue
            steps, values = arrays
            mask = values > self.limit
            edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
            for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
                peak = a + int(np.argmax(values[a:b]))
                out.append(
                    Finding(
                        rule="kl_limit",
                        severity=Severity.ERROR,
                        run=run.name,
                        metric=self.metric,
                        key=run.resolve(self.metric) or "",
                        start_step=int(steps[a]),
                        end_step=int(steps[b - 1]),
                        peak_step=int(steps[peak]),
                        peak_value=float(values[peak]),
                    )
                )
        return FakeAnalysis(out)


class ThreadWriter:
    """Runs ``actions`` in a background thread, one per poll: the watch loop's ``sleep`` hands
    over to the writer and waits until that action is done (so every test is deterministic,
    while the appends really come from another thread)."""

    def __init__(self, actions: Iterable[Callable[[], None]]) -> None:
        self.actions = list(actions)
        self.done = 0
        self.sleeps: list[float] = []
        self._go = threading.Semaphore(0)
        self._finished = threading.Semaphore(0)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for action in self.actions:
            self._go.acquire()
            try:
                action()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
                self._error = exc
            self._finished.release()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.done < len(self.actions):
            self._go.release()
            assert self._finished.acquire(timeout=20), "writer thread stuck"
            self.done += 1
            if self._error is not None:
                raise self._error


_WRITER = textwrap.dedent("""
    import os, sys
    from tensorboardX.event_file_writer import EventsWriter
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.summary import scalar
    # tensorboardX's record writer, used synchronously (SummaryWriter.flush() does not wait for
    # its background queue, so a lock-step test could not know when the data is on disk)
    writer = EventsWriter(os.path.join(sys.argv[1], "events"))
    writer.flush()
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            break
        for item in line.split():
            step, value = item.split(":")
            for tag, v in (("train/kl", float(value)), ("train/loss", 1.0)):
                writer.write_event(Event(wall_time=1e9 + int(step), step=int(step),
                                         summary=scalar(tag, v)))
        writer.flush()
        sys.stdout.write("ok\\n"); sys.stdout.flush()
    writer.close()
""")


class ProcessWriter:
    """A separate Python process writing TensorBoard scalars with tensorboardX; each ``sleep``
    sends it the next batch of ``(step, kl)`` points and waits until they are flushed."""

    def __init__(self, logdir: Path, batches: list[list[tuple[int, float]]]) -> None:
        self.batches = list(batches)
        self.done = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(logdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "ready\n"

    def sleep(self, seconds: float) -> None:
        if self.done < len(self.batches):
            batch = self.batches[self.done]
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(" ".join(f"{s}:{v}" for s, v in batch) + "\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline() == "ok\n"
            self.done += 1

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=20)


def findings_by_poll(events: list) -> list[tuple[int, Finding]]:
    """``(poll number, finding)`` for each NewFinding (its poll is the next Polled event)."""
    out, pending = [], []
    for ev in events:
        if isinstance(ev, NewFinding):
            pending.append(ev.finding)
        elif isinstance(ev, Polled):
            out += [(ev.poll, f) for f in pending]
            pending = []
    return out


def tfrecord_ends(data: bytes) -> list[int]:
    """Byte offsets just after each TFRecord (8-byte length, 4 crc, payload, 4 crc)."""
    ends, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 8], "little")
        pos += 16 + n
        ends.append(pos)
    return ends
