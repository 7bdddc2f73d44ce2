"""The per-run work of a scan: read one discovered run, run the rules, return its rows.

Module-level functions of picklable arguments, so the same call runs in-process, in a local
process pool or on a Dask worker, with identical results. Rules and aliases are loaded once per
worker process.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.discover import RunSources
from trainlens.findings import Finding, json_safe
from trainlens.fleet.rows import FindingRow, RunRow, RunStatus


@dataclass(frozen=True)
class ScanSettings:
    """What every worker needs to analyse a run the way the driver was asked to (hashable:
    paths as strings, mappings as JSON text)."""

    rules_dirs: tuple[str, ...] = ()
    params_json: str = "{}"  # rule id → parameter → value
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    alias_files: tuple[str, ...] = ()
    aliases_json: str = "{}"  # inline aliases of the project config
    audit_json: str = "{}"  # the project config's [audit] settings

    @classmethod
    def make(
        cls,
        *,
        rules_dirs: list[Path] | tuple[Path, ...] = (),
        params: dict[str, dict[str, Any]] | None = None,
        select: list[str] | tuple[str, ...] = (),
        ignore: list[str] | tuple[str, ...] = (),
        alias_files: list[Path] | tuple[Path, ...] = (),
        aliases: dict[str, Any] | None = None,
        audit: dict[str, Any] | None = None,
    ) -> ScanSettings:
        def dump(value: Any) -> str:
            return json.dumps(value or {}, sort_keys=True, default=str)

        return cls(
            rules_dirs=tuple(str(p) for p in rules_dirs),
            params_json=dump(params),
            select=tuple(select),
            ignore=tuple(ignore),
            alias_files=tuple(str(p) for p in alias_files),
            aliases_json=dump(aliases),
            audit_json=dump(audit),
        )


@dataclass(frozen=True)
class RunTask:
    """One run to scan: its discovered sources and when its files were last written."""

    sources: RunSources
    last_write: datetime | None
    settings: ScanSettings


@dataclass(frozen=True)
class RunOutcome:
    """What one run gave: its row, its findings' rows, and the seconds its work took where it
    ran (not part of the tables: it differs from run to run)."""

    run: RunRow
    findings: list[FindingRow] = field(default_factory=list)
    seconds: float = 0.0


@lru_cache(maxsize=4)
def prepare(settings: ScanSettings) -> tuple[Any, Any]:
    """The rule set and alias table for ``settings``, loaded once per process."""
    from trainlens.engine.spec import load_rules
    from trainlens.metrics import AliasTable

    rules = load_rules([Path(p) for p in settings.rules_dirs], json.loads(settings.params_json))
    aliases = AliasTable.load(
        [Path(p) for p in settings.alias_files], inline=json.loads(settings.aliases_json) or None
    )
    return rules, aliases


def worker_version() -> str:
    """The trainlens version a worker runs (the Dask executor checks it before sending work)."""
    from trainlens._version import __version__

    return __version__


def scan_run(task: RunTask) -> RunOutcome:
    """Read and analyse one run. Never raises for the run's sake: a run that cannot be read or
    analysed becomes a row with status ``error`` and the error's text."""
    started = time.perf_counter()
    try:
        run, findings = _scan(task)
    except Exception as exc:  # noqa: BLE001 - one run's failure is a row, never a dead scan
        run, findings = error_row(task, f"{type(exc).__name__}: {exc}"), []
    return RunOutcome(run, findings, time.perf_counter() - started)


def error_row(task: RunTask, error: str) -> RunRow:
    """The row of a run whose scan failed."""
    src = task.sources
    return RunRow(
        name=src.name,
        path=str(src.root),
        format=src.primary.format.value,
        framework=None,
        first_step=None,
        last_step=None,
        steps=0,
        metrics=0,
        points=0,
        last_write=task.last_write,
        status=RunStatus.ERROR.value,
        error=error,
        errors=0,
        warnings_found=0,
        infos=0,
        read_warnings=0,
        warnings="[]",
    )


def _scan(task: RunTask) -> tuple[RunRow, list[FindingRow]]:
    from trainlens.analysis import analyze_runs
    from trainlens.load import load_run

    rules, aliases = prepare(task.settings)
    settings = task.settings
    warnings: list[ReadWarning] = []
    run = load_run(task.sources, aliases, warnings)
    read_warnings = len(warnings)
    analysis = analyze_runs(
        [run],
        rules=rules,
        select=settings.select,
        ignore=settings.ignore,
        warnings=warnings,
        audit=json.loads(settings.audit_json) or None,
    )
    path = str(task.sources.root)
    findings = [_finding_row(analysis, f, path) for f in analysis.findings]
    counts = analysis.counts()
    table = run.table
    has_metrics = len(table) > 0
    status = RunStatus.OK if has_metrics or run.meta.logs else RunStatus.NO_METRICS
    row = RunRow(
        name=run.name,
        path=path,
        format=run.format,
        framework=run.meta.framework,
        first_step=run.first_step,
        last_step=run.last_step,
        steps=int(table["step"].nunique()) if has_metrics else 0,
        metrics=int(table["key"].nunique()) if has_metrics else 0,
        points=len(table),
        last_write=task.last_write,
        status=status.value,
        error=None,
        errors=counts["error"],
        warnings_found=counts["warning"],
        infos=counts["info"],
        read_warnings=read_warnings,
        warnings=_json([w.to_dict() for w in analysis.warnings]),
    )
    return row, findings


def _finding_row(analysis: Any, f: Finding, path: str) -> FindingRow:
    return FindingRow(
        run=f.run,
        path=path,
        rule=f.rule,
        severity=f.severity.value,
        metric=f.metric,
        key=f.key,
        start_step=int(f.start_step),
        end_step=int(f.end_step),
        peak_step=None if f.peak_step is None else int(f.peak_step),
        peak_value=None if f.peak_value is None else float(f.peak_value),
        baseline=None if f.baseline is None else float(f.baseline),
        best_step=None if f.best_step is None else int(f.best_step),
        recommended_checkpoint=f.recommended_checkpoint,
        source_line=f.source_line,
        title_en=analysis.title(f, "en"),
        title_zh=analysis.title(f, "zh"),
        message_en=analysis.message(f, "en"),
        message_zh=analysis.message(f, "zh"),
        evidence=_json([e.to_dict() for e in f.evidence]),
        params=_json(dict(f.params)),
        members=_json(list(f.members)),
    )


def _json(value: Any) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False, sort_keys=True)
