"""The failure scan of big console logs, run in worker processes while the reader parses them.

A console log is read twice: once for its metrics (the reader) and once for the failures it
printed (``logscan``). On a multi-GB log each pass takes tens of seconds on one core, so for
files of :data:`SCAN_AHEAD_BYTES` or more the scan starts in a worker process as soon as
discovery has found the file, and the analysis collects its result afterwards. Results are the
ones an in-process scan gives (same function, same rules); anything that goes wrong in a worker
falls back to scanning in-process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec
from trainlens.logscan import LogScan, scan_file

#: Console logs at least this large are scanned in a worker while the reader parses them.
SCAN_AHEAD_BYTES = 32 << 20


def _key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


class ScanAhead:
    """Scans started early (:meth:`start`) and collected later (:meth:`scan_logs`); use as a
    context manager so the workers are shut down."""

    def __init__(self, specs: Sequence[RuleSpec], *, min_bytes: int = SCAN_AHEAD_BYTES) -> None:
        self.specs = [s for s in specs if s.kind == "log_pattern"]
        self.min_bytes = min_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[tuple[str, int, int], Future[LogScan]] = {}

    def start(self, paths: Iterable[Path]) -> None:
        """Start scanning each big file of ``paths`` (small ones are scanned when collected)."""
        if not self.specs or (os.cpu_count() or 1) < 2:
            return
        for path in paths:
            key = _key(Path(path))
            if key is None or key in self._futures or key[1] < self.min_bytes:
                continue
            try:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(
                        max_workers=max(1, (os.cpu_count() or 2) - 1),
                        mp_context=multiprocessing.get_context("spawn"),
                    )
                self._futures[key] = self._pool.submit(scan_file, Path(path), self.specs)
            except (OSError, RuntimeError):  # no processes here: scan in-process later
                return

    def start_discovered(self, found: Any) -> None:
        """:meth:`start` on the console logs of every run a discovery found."""
        self.start(p for run in getattr(found, "runs", ()) for p in run.logs)

    def scan_logs(
        self, paths: Sequence[Path], specs: Sequence[RuleSpec]
    ) -> tuple[list[LogScan], list[ReadWarning]]:
        """Like :func:`trainlens.logscan.scan_logs`: a started scan's result when its file is
        unchanged and ``specs`` are the rules it ran with, else a scan now."""
        same_rules = [s.id for s in specs if s.kind == "log_pattern"] == [s.id for s in self.specs]
        scans = []
        for path in paths:
            future = self._futures.pop(_key(Path(path)) or ("", 0, 0), None)
            scan = None
            if future is not None and same_rules:
                try:
                    scan = future.result()
                except Exception:  # a worker died or could not unpickle: scan here
                    scan = None
            scans.append(scan if scan is not None else scan_file(Path(path), specs))
        return scans, [w for s in scans for w in s.warnings]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._futures.clear()

    def __enter__(self) -> ScanAhead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
