"""Audits inside a run: a run directory's ``completions.jsonl`` (GRPO ``--log_completions``) and
prediction files (found by name, or globs in ``[audit] files``) are audited; their rates join
the run's series (``audit/unclosed_rate`` per logged step, canonical ``unclosed_rate``) so any
rule can fire on them, and their ``kind: audit`` findings join the run's findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainlens.audit.completions import (
    AuditOptions,
    CompletionAudit,
    FileAuditor,
    audit_completions,
)
from trainlens.audit.findings import audit_findings, options_from_rules
from trainlens.audit.scale import OutputRow, find_predictions, scale_findings, training_size
from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec
from trainlens.errors import TrainlensError
from trainlens.findings import Finding
from trainlens.run import Run, SourceInfo

#: The ``[audit]`` table of the project config.
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "enabled": bool,
    "files": list,
    "stop": str,
    "require_tags": list,
    "gold_key": str,
    "response_key": str,
    "answer_pattern": str,
}
#: Series an audit adds to its run (``audit/<name>``).
SERIES = (
    "unclosed_rate",
    "unparseable_rate",
    "empty_rate",
    "degenerate_rate",
    "repetition_rate",
    "strict_accuracy",
    "diagnostic_accuracy",
)


@dataclass
class RunAudit:
    """One audited file of a run: the audit (tables, examples) and its findings."""

    run: str
    file: str
    audit: CompletionAudit
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Followed:
    size: int
    mtime_ns: int
    opts: AuditOptions
    auditor: FileAuditor
    audit: CompletionAudit


@dataclass
class AuditCache:
    """Audits kept between analyses of the same files (``watch``, ``gate`` on a live run): an
    unchanged file is not read again, a grown one is read from where the last audit stopped
    (complete lines only), a shrunk one from the start (files are taken as append-only)."""

    entries: dict[str, _Followed] = field(default_factory=dict)

    def audit(self, path: Path, opts: AuditOptions) -> tuple[CompletionAudit, bool]:
        """The audit of ``path`` and whether anything was read for it."""
        st = path.stat()
        entry = self.entries.get(str(path))
        if entry is not None and entry.opts == opts:
            if (entry.size, entry.mtime_ns) == (st.st_size, st.st_mtime_ns):
                return entry.audit, False
            if st.st_size >= entry.size:
                audit = entry.auditor.advance()
                entry.size, entry.mtime_ns, entry.audit = st.st_size, st.st_mtime_ns, audit
                return audit, True
        auditor = FileAuditor(path, opts, follow=True)
        audit = auditor.advance()
        self.entries[str(path)] = _Followed(st.st_size, st.st_mtime_ns, opts, auditor, audit)
        return audit, True


def audit_files(run: Run, patterns: Sequence[str] = ()) -> list[Path]:
    """The files of ``run`` to audit: ``completions.jsonl``, a prediction file found by name,
    and what ``patterns`` (globs relative to the run directory) match."""
    folder = run.path if run.path.is_dir() else run.path.parent
    found: list[Path] = []
    if (folder / "completions.jsonl").is_file():
        found.append(folder / "completions.jsonl")
    predictions = find_predictions(folder)
    if predictions is not None:
        found.append(predictions)
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise TrainlensError(f"[audit] files: {pattern!r} must be relative to the run dir")
        found.extend(sorted(p for p in folder.glob(pattern) if p.is_file()))
    unique: list[Path] = []
    for p in found:
        if p.resolve() not in {u.resolve() for u in unique}:
            unique.append(p)
    return unique


def options(settings: Mapping[str, Any]) -> AuditOptions:
    """Audit options from the ``[audit]`` settings."""
    return AuditOptions(
        stop=settings.get("stop"),
        require_tags=tuple(str(t) for t in settings.get("require_tags", [])),
        gold_key=settings.get("gold_key"),
        response_key=settings.get("response_key"),
        answer_pattern=settings.get("answer_pattern"),
    )


def audit_runs(
    runs: list[Run],
    specs: Sequence[RuleSpec],
    settings: Mapping[str, Any] | None = None,
    cache: AuditCache | None = None,
) -> tuple[list[Run], list[RunAudit], list[ReadWarning]]:
    """Every run with its audits' series added (a new Run when it had files to audit), the
    audits with their findings, and the warnings of reading them. ``cache`` keeps audits of
    unchanged files between calls."""
    cfg = dict(settings or {})
    if cfg.get("enabled", True) is False:
        return runs, [], []
    audit_specs = [s for s in specs if s.kind == "audit"]
    opts = options_from_rules(audit_specs, options(cfg))
    out_runs: list[Run] = []
    audits: list[RunAudit] = []
    warnings: list[ReadWarning] = []
    for run in runs:
        files = audit_files(run, [str(p) for p in cfg.get("files", [])])
        series: list[tuple[str, CompletionAudit]] = []
        for file in files:
            try:
                if cache is not None:
                    audit, fresh = cache.audit(file, opts)
                else:
                    audit, fresh = audit_completions([file], opts), True
            except (TrainlensError, OSError) as exc:
                warnings.append(ReadWarning(str(file), str(exc)))
                continue
            if fresh:
                warnings.extend(audit.warnings)
            if not audit.n:
                continue
            findings = audit_findings(audit, audit_specs, run.name)
            audits.append(RunAudit(run.name, str(file), audit, findings))
            series.append((str(file), audit))
        out_runs.append(with_series(run, series) if series else run)
    return out_runs, audits, warnings


def with_series(run: Run, audits: Sequence[tuple[str, CompletionAudit]]) -> Run:
    """``run`` with each audit's rates as ``audit/<rate>`` series: one point per logged step,
    or one point at the run's last step for a file without steps (an evaluation)."""
    rows: list[tuple[str, str, int, float]] = []
    taken: set[str] = set(map(str, run.table["key"].cat.categories))
    for source, audit in audits:
        by_step = audit.step_series()
        if not by_step:
            rates = audit.counts.rates(audit.closure_measured)
            by_step = {k: [(run.last_step or 0, v)] for k, v in rates.items() if v is not None}
        for name in SERIES:
            key = f"audit/{name}"
            if key in taken or name not in by_step:
                continue
            taken.add(key)
            rows.extend((source, key, step, value) for step, value in by_step[name])
    if not rows:
        return run
    old = run.table
    new_keys = [k for k in dict.fromkeys(r[1] for r in rows)]
    old_sources = set(map(str, old["source"].cat.categories))
    new_sources = [x for x in dict.fromkeys(r[0] for r in rows) if x not in old_sources]
    base = old.assign(  # codes kept: adding categories does not touch the rows
        source=old["source"].cat.add_categories(new_sources),
        key=old["key"].cat.add_categories(new_keys),
    )
    new = pd.DataFrame(
        {
            "source": pd.Categorical(
                [r[0] for r in rows], categories=base["source"].cat.categories
            ),
            "key": pd.Categorical([r[1] for r in rows], categories=base["key"].cat.categories),
            "step": np.array([r[2] for r in rows], dtype=np.int64),
            "value": np.array([r[3] for r in rows], dtype=np.float64),
            "wall_time": np.full(len(rows), np.nan),
        }
    )
    table = pd.concat([base, new], ignore_index=True)
    order = np.argsort(table["key"].cat.codes.to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    meta = replace(run.meta, sources=list(run.meta.sources))
    for source, _ in audits:
        points = sum(1 for r in rows if r[0] == source)
        steps = [r[2] for r in rows if r[0] == source]
        meta.sources.append(
            SourceInfo(
                source,
                "completions",
                points,
                min(steps) if steps else None,
                max(steps) if steps else None,
                role="audit",
            )
        )
    return Run(run.name, run.path, run.format, table, meta, run.aliases)


def scale_from_audits(
    runs: Sequence[Run], audits: Sequence[RunAudit], specs: Sequence[RuleSpec]
) -> list[Finding]:
    """``scale_regression`` over the runs of one analysis whose directories hold evaluation
    predictions (files without steps), sized from each run's config."""
    spec = next((s for s in specs if s.id == "scale_regression"), None)
    if spec is None:
        return []
    configs = {r.name: r.meta.config for r in runs}
    rows: dict[str, OutputRow] = {}
    for item in audits:
        if item.audit.steps or item.run in rows:
            continue
        s = item.audit.summary()
        size, source = training_size(configs.get(item.run, {}))
        rows[item.run] = OutputRow(
            run=item.run,
            file=item.file,
            size=size,
            size_from=source,
            n=s["n"],
            strict=s["strict_accuracy"],
            diagnostic=s["diagnostic_accuracy"],
            unclosed=s["unclosed_rate"],
            unparseable=s["unparseable_rate"],
        )
    return scale_findings(list(rows.values()), spec)
