"""The fleet scan API: ``scan(logdir)`` → a :class:`ScanResult` of run rows and finding rows,
optionally written as Parquet or DuckDB (never prints, never exits)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trainlens.config import ProjectConfig
from trainlens.diagnostics import ReadWarning
from trainlens.discover import discover_all
from trainlens.fleet.executors import Executor, ScanProgress, parse_executor, run_tasks
from trainlens.fleet.rows import FindingRow, RunRow, RunStatus
from trainlens.fleet.since import last_write, parse_since
from trainlens.fleet.tables import check_output, write_tables
from trainlens.fleet.work import RunTask, ScanSettings

SUMMARY_VERSION = 1


@dataclass
class ScanResult:
    """The rows of both tables (runs in discovery order, findings by run then as ``analyze``
    sorts them), what discovery skipped, and how the scan went."""

    logdir: str
    runs: list[RunRow]
    findings: list[FindingRow]
    warnings: list[ReadWarning] = field(default_factory=list)  # log-like files skipped
    discovered: int = 0
    since: datetime | None = None
    unchanged: int = 0  # runs left out by ``since``
    executor: str = "local"
    seconds: float = 0.0
    work_seconds: float = 0.0  # the per-run work summed over runs, wherever it ran
    outputs: list[Path] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts for machines (``scan --format json``)."""
        status = Counter(r.status for r in self.runs)
        severity = Counter(f.severity for f in self.findings)
        return {
            "schema_version": SUMMARY_VERSION,
            "logdir": self.logdir,
            "executor": self.executor,
            "since": self.since.isoformat() if self.since else None,
            "discovered": self.discovered,
            "unchanged": self.unchanged,
            "scanned": len(self.runs),
            "status": {s.value: status.get(s.value, 0) for s in RunStatus},
            "findings": {s: severity.get(s, 0) for s in ("error", "warning", "info")},
            "rules": dict(sorted(Counter(f.rule for f in self.findings).items())),
            "failed": [
                {"run": r.name, "path": r.path, "error": r.error} for r in self.runs if r.error
            ],
            "skipped_files": len(self.warnings),
            "outputs": [str(p) for p in self.outputs],
            "seconds": round(self.seconds, 3),
            "work_seconds": round(self.work_seconds, 3),
        }


def settings_from(
    config: ProjectConfig | None = None,
    *,
    rules_dirs: list[Path] | tuple[Path, ...] = (),
    params: dict[str, dict[str, Any]] | None = None,
    select: list[str] | tuple[str, ...] = (),
    ignore: list[str] | tuple[str, ...] = (),
    alias_files: list[Path] | tuple[Path, ...] = (),
) -> ScanSettings:
    """The workers' settings from a project config plus the caller's additions (as
    :func:`trainlens.analyze` combines them); the rules are loaded here once, so a bad rule or
    parameter fails before any run is read."""
    from trainlens.analysis import merge_params, param_sources
    from trainlens.audit.runs import SETTINGS as AUDIT_SETTINGS
    from trainlens.engine.spec import load_rules

    cfg = config or ProjectConfig()
    dirs = [*cfg.rules_dirs, *rules_dirs]
    merged = merge_params(cfg.rule_params, params)
    rules = load_rules(dirs, merged, sources=param_sources(cfg, params))
    chosen, dropped = list(select) or cfg.select, [*cfg.ignore, *ignore]
    rules.select(chosen, dropped)  # unknown ids fail here
    return ScanSettings.make(
        rules_dirs=[p.resolve() for p in dirs],
        params=merged,
        select=chosen,
        ignore=dropped,
        alias_files=[p.resolve() for p in [*cfg.alias_files, *alias_files]],
        aliases=cfg.aliases,
        audit=cfg.checked_section("audit", AUDIT_SETTINGS),
    )


def scan(
    logdir: Path | str,
    *,
    out: Path | str | None = None,
    since: datetime | str | None = None,
    executor: Executor | str = "local",
    jobs: int | None = None,
    settings: ScanSettings | None = None,
    progress: ScanProgress | None = None,
) -> ScanResult:
    """Discover every run under ``logdir``, analyse each (only those written at or after
    ``since``: a datetime, an ISO date or an age like ``2d``) on ``executor`` (``local``: a
    process pool of ``jobs`` processes, default one per core; ``dask://HOST:PORT``: an existing
    Dask cluster whose workers see the same paths), and write both tables to ``out`` when given.

    Raises :class:`~trainlens.errors.TrainlensError` for bad arguments, a missing ``logdir``,
    a missing optional library or an unreachable cluster; a run that cannot be read is a row
    with status ``error``, never an exception."""
    started = time.perf_counter()
    where = parse_executor(executor, jobs) if isinstance(executor, str) else executor
    after = parse_since(since) if isinstance(since, str) else since
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        check_output(out_path)
    found = discover_all(logdir)
    work = settings or settings_from()
    tasks = []
    unchanged = 0
    for sources in found.runs:
        written = last_write(sources)
        if after is not None and (written is None or written < after):
            unchanged += 1
            continue
        tasks.append(RunTask(sources, written, work))
    outcomes = run_tasks(tasks, where, progress) if tasks else []
    result = ScanResult(
        logdir=str(logdir),
        runs=[o.run for o in outcomes],
        findings=[f for o in outcomes for f in o.findings],
        warnings=list(found.skipped),
        discovered=len(found.runs),
        since=after,
        unchanged=unchanged,
        executor=str(where),
        work_seconds=sum(o.seconds for o in outcomes),
    )
    if out_path is not None:
        result.outputs = write_tables(out_path, result.runs, result.findings)
    result.seconds = time.perf_counter() - started
    return result
