"""Independent reads in a process pool: results in input order, exactly as a serial loop gives.

The pool is worth its start-up (forking workers, sending tables back) only for real work: callers
ask :func:`worth_a_pool` with the number of items and their total size on disk, and a small
workload stays in this process. ``jobs``: None or 0 = one worker per CPU, 1 = serial.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported when a pool runs: a small load (trainlens gate) never pays for them
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

#: Below this much input (bytes) a pool costs more than it saves.
MIN_POOL_BYTES = 16 << 20


def default_jobs(jobs: int | None = None) -> int:
    """``jobs`` as a worker count (None or 0: the CPUs this process may use)."""
    if jobs and jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worth_a_pool(items: int, total_bytes: int, jobs: int | None) -> bool:
    """Whether ``items`` reads of ``total_bytes`` in all go to a pool of ``jobs`` workers."""
    return default_jobs(jobs) > 1 and items > 1 and total_bytes >= MIN_POOL_BYTES


def file_size(path: Any) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _context() -> Any:
    import multiprocessing

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")  # no re-import of numpy/pandas per worker
    return multiprocessing.get_context("spawn")


def map_in_pool(
    fn: Callable[[T], R],
    items: Sequence[T],
    jobs: int | None,
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    on_done: Callable[[int, int, int], None] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` computed by a pool of ``jobs`` workers (``fn`` and the items
    must pickle), in input order; ``on_done(done, total, index)`` after each item finishes."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(default_jobs(jobs), len(items))
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=initializer, initargs=initargs
    ) as pool:
        futures: list[Future[R]] = [pool.submit(fn, item) for item in items]
        if on_done is not None:
            index = {id(f): i for i, f in enumerate(futures)}
            for done, future in enumerate(as_completed(futures), start=1):
                on_done(done, len(items), index[id(future)])
        return [f.result() for f in futures]
