"""Where a scan's per-run work runs: in this process, a local process pool sized to the cores,
or an existing Dask cluster. Each returns the outcomes in the order of the tasks."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trainlens.errors import TrainlensError
from trainlens.fleet.tables import FLEET_INSTALL
from trainlens.fleet.work import (
    RunOutcome,
    RunTask,
    ScanSettings,
    error_row,
    prepare,
    scan_run,
    worker_version,
)

#: Called with (runs done, runs total, name of the run just done).
ScanProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Executor:
    """``local`` (``jobs`` processes; 1: in this process) or a Dask scheduler ``address``."""

    kind: str
    address: str | None = None
    jobs: int | None = None

    def __str__(self) -> str:
        return f"dask://{self.address_display}" if self.kind == "dask" else "local"

    @property
    def address_display(self) -> str:
        return (self.address or "").removeprefix("tcp://")


def parse_executor(text: str, jobs: int | None = None) -> Executor:
    """``local`` or ``dask://HOST:PORT``; anything else raises :class:`TrainlensError`."""
    if jobs is not None and jobs < 1:
        raise TrainlensError(f"--jobs {jobs}: expected 1 or more")
    if text == "local":
        return Executor("local", jobs=jobs)
    if text.startswith("dask://"):
        if jobs is not None:
            raise TrainlensError("--jobs sizes the local executor; a Dask cluster has its workers")
        hostport = text.removeprefix("dask://").strip("/")
        host, sep, port = hostport.rpartition(":")
        if sep and host and port.isdigit():
            return Executor("dask", address=f"tcp://{hostport}")
    raise TrainlensError(f"--executor {text!r}: expected local or dask://HOST:PORT")


def default_jobs() -> int:
    """Processes for the local executor: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_tasks(
    tasks: Sequence[RunTask], executor: Executor, progress: ScanProgress | None = None
) -> list[RunOutcome]:
    """Run every task on ``executor``; outcomes in task order."""
    if executor.kind == "dask":
        return _run_dask(tasks, executor.address or "", progress)
    jobs = min(executor.jobs or default_jobs(), len(tasks))
    if jobs <= 1:
        return _run_serial(tasks, progress)
    return _run_pool(tasks, jobs, progress)


def _run_serial(tasks: Sequence[RunTask], progress: ScanProgress | None) -> list[RunOutcome]:
    out = []
    for i, task in enumerate(tasks):
        out.append(scan_run(task))
        if progress:
            progress(i + 1, len(tasks), task.sources.name)
    return out


def _pool_context(settings: ScanSettings) -> multiprocessing.context.BaseContext:
    """fork on Linux, from this process with the work's modules imported and the rules loaded
    (the workers start at once; the pool starts them all before any thread of its own, and the
    CLI's progress bar starts only after), else spawn (macOS, Windows)."""
    if sys.platform.startswith("linux"):
        import trainlens.analysis  # noqa: F401  (what scan_run imports, once, before forking)
        import trainlens.load  # noqa: F401

        prepare(settings)
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_pool(
    tasks: Sequence[RunTask], jobs: int, progress: ScanProgress | None
) -> list[RunOutcome]:
    """All tasks in a pool of ``jobs``; when a worker dies (killed, out of memory) the pool is
    broken and every unfinished run is retried alone in a one-worker pool, so that only the
    run that kills its worker becomes an error row."""
    context = _pool_context(tasks[0].settings)
    results: list[RunOutcome | None] = [None] * len(tasks)
    done = 0

    def finish(i: int, outcome: RunOutcome) -> None:
        nonlocal done
        results[i] = outcome
        done += 1
        if progress:
            progress(done, len(tasks), tasks[i].sources.name)

    with _pool(jobs, context) as pool:
        pending = {pool.submit(scan_run, task): i for i, task in enumerate(tasks)}
        for future in as_completed(pending):
            if not isinstance(future.exception(), BrokenProcessPool):
                finish(pending[future], _outcome(tasks[pending[future]], future.result))
    retry = [i for i, r in enumerate(results) if r is None]
    while retry:
        with _pool(1, context) as alone:
            while retry:
                i = retry.pop(0)
                try:
                    finish(i, alone.submit(scan_run, tasks[i]).result())
                except BrokenProcessPool as exc:
                    finish(i, RunOutcome(error_row(tasks[i], f"worker died: {exc}")))
                    break  # a fresh one-worker pool for the rest
    return [r for r in results if r is not None]


@contextmanager
def _pool(jobs: int, context: multiprocessing.context.BaseContext) -> Iterator[ProcessPoolExecutor]:
    """A process pool that, on Ctrl-C or an error in the caller, drops its queued work instead
    of finishing it."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _outcome(task: RunTask, result: Callable[[], RunOutcome]) -> RunOutcome:
    """A task's outcome; a task the cluster lost (its worker died) marks only its run."""
    try:
        return result()
    except Exception as exc:  # noqa: BLE001 - the cluster lost this run's worker
        return RunOutcome(error_row(task, f"worker failed: {type(exc).__name__}: {exc}"))


#: Seconds to reach a Dask scheduler and to hear back from one of its workers.
DASK_TIMEOUT = 30.0


def _run_dask(
    tasks: Sequence[RunTask], address: str, progress: ScanProgress | None
) -> list[RunOutcome]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise TrainlensError(
            f"--executor dask://... needs dask.distributed: {FLEET_INSTALL}"
        ) from None
    shown = address.removeprefix("tcp://")
    try:
        client = Client(address, timeout=DASK_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise TrainlensError(f"cannot reach the Dask scheduler at {shown}: {exc}") from None
    try:
        _check_workers(client, shown)
        futures = client.map(scan_run, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[RunOutcome | None] = [None] * len(tasks)
        with client.as_current():  # as_completed finds the client it waits on this way
            for done, future in enumerate(dask_completed(futures), start=1):
                i = index[future.key]
                results[i] = _outcome(tasks[i], future.result)
                future.release()
                if progress:
                    progress(done, len(tasks), tasks[i].sources.name)
        return [r for r in results if r is not None]
    finally:
        client.close()


def _check_workers(client: Any, shown: str) -> None:
    """Fail early, with what to do, when the cluster's workers cannot run trainlens."""
    from trainlens._version import __version__

    try:
        theirs = client.submit(worker_version, pure=False).result(timeout=DASK_TIMEOUT)
    except TimeoutError:
        raise TrainlensError(
            f"the Dask cluster at {shown} ran no task within {DASK_TIMEOUT:.0f} s (no workers?)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever the worker raised, say it plainly
        raise TrainlensError(
            f"the Dask workers at {shown} cannot run trainlens ({type(exc).__name__}: {exc}); "
            f"install trainlens {__version__} there ({FLEET_INSTALL})"
        ) from None
    if theirs != __version__:
        raise TrainlensError(
            f"the Dask workers at {shown} run trainlens {theirs}, this is {__version__}: "
            "install the same version on both sides so results match"
        )
