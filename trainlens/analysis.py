"""The analysis API: load runs, run the rules, return Findings (never prints, never exits)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlens.audit.runs import SETTINGS as AUDIT_SETTINGS
from trainlens.audit.runs import AuditCache, RunAudit, audit_runs, scale_from_audits
from trainlens.cache import CacheOption
from trainlens.cache.runs import evaluate_cached
from trainlens.config import ProjectConfig
from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSet, load_rules, render_message
from trainlens.findings import Finding, Skipped
from trainlens.load import load_runs
from trainlens.logscan import log_findings, scan_logs
from trainlens.metrics import AliasTable
from trainlens.run import Run
from trainlens.scan_ahead import ScanAhead


@dataclass
class Analysis:
    """Runs, what the rules found in them (sorted: run, severity desc, start step), the rules
    that could not run and why, and every warning (bad input, a rule that crashed)."""

    runs: list[Run]
    findings: list[Finding]
    skipped: list[Skipped]
    warnings: list[ReadWarning]
    rules: RuleSet
    selected: list[str] = field(default_factory=list)  # ids of the rules that were run
    #: What the model wrote, per audited file of a run (completions, predictions).
    audits: list[RunAudit] = field(default_factory=list)

    def message(self, finding: Finding, lang: str = "en") -> str:
        """A finding's message in ``lang``."""
        return render_message(finding, self.rules.get(finding.rule), lang)

    def title(self, finding: Finding, lang: str = "en") -> str:
        """The title of a finding's rule in ``lang``."""
        return self.rules.get(finding.rule).title_for(finding.params, lang)

    def for_run(self, run: Run | str) -> list[Finding]:
        """The findings of one run."""
        name = run if isinstance(run, str) else run.name
        return [f for f in self.findings if f.run == name]

    def counts(self) -> dict[str, int]:
        """Number of findings per severity (``info``, ``warning``, ``error``)."""
        out = {"info": 0, "warning": 0, "error": 0}
        for f in self.findings:
            out[f.severity.value] += 1
        return out


def analyze_runs(
    runs: list[Run],
    *,
    rules: RuleSet | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    warnings: list[ReadWarning] | None = None,
    audit: Mapping[str, Any] | None = None,
    audit_cache: AuditCache | None = None,
    scans: ScanAhead | None = None,
) -> Analysis:
    """Run the (selected) rules over already loaded runs. Runs whose directory holds
    ``completions.jsonl`` or prediction files are audited first (``audit``: the ``[audit]``
    settings; ``{"enabled": False}`` skips it; ``audit_cache`` keeps unchanged files' audits
    between calls): their rates join the run's series and their ``kind: audit`` findings the
    run's findings."""
    ruleset = rules if rules is not None else load_rules()
    specs = ruleset.select(select, ignore)
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    all_warnings = list(warnings or [])
    runs, audits, audit_warnings = audit_runs(runs, specs, audit, audit_cache)
    all_warnings.extend(audit_warnings)
    for run_audit in audits:
        findings.extend(run_audit.findings)
    findings.extend(scale_from_audits(runs, audits, specs))
    order = {run.name: i for i, run in enumerate(runs)}
    log_specs = [s for s in specs if s.kind == "log_pattern"]
    for run in runs:
        if len(run.table) or not run.meta.logs:  # a log without metrics: its messages only
            outcome = evaluate_cached(run, specs)  # evaluate_run, or its cached outcome
            findings.extend(outcome.findings)
            skipped.extend(outcome.skipped)
            all_warnings.extend(outcome.warnings)
        if log_specs and run.meta.logs:
            scan = scans.scan_logs if scans is not None else scan_logs
            found, scan_warnings = scan([Path(p) for p in run.meta.logs], log_specs)
            all_warnings.extend(scan_warnings)
            findings.extend(
                log_findings(
                    found,
                    log_specs,
                    run.name,
                    step=run.last_step or 0,
                    has_metrics=len(run.table) > 0,
                )
            )
    findings.sort(
        key=lambda f: (
            order.get(f.run, len(order)),
            -f.severity.rank,
            f.start_step,
            not f.members,
            f.rule,
            f.metric,
        )
    )
    return Analysis(
        runs=runs,
        findings=findings,
        skipped=skipped,
        warnings=all_warnings,
        rules=ruleset,
        selected=[s.id for s in specs],
        audits=audits,
    )


def merge_params(*layers: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Rule parameter overrides, later layers winning per parameter."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for rule, values in (layer or {}).items():
            out.setdefault(rule, {}).update(values)
    return out


def param_sources(
    config: ProjectConfig, params: Mapping[str, Mapping[str, Any]] | None, label: str = "--param"
) -> dict[str, dict[str, str]]:
    """Where each rule parameter override of ``merge_params(config.rule_params, params)`` came
    from, as error messages name it: the config file and table, or ``label RULE.NAME``."""
    pyproject = config.path is not None and config.path.name == "pyproject.toml"
    table = "tool.trainlens.rules" if pyproject else "rules"
    where = str(config.path) if config.path else "config"
    out: dict[str, dict[str, str]] = {}
    for rule, values in config.rule_params.items():
        for name in values:
            out.setdefault(rule, {})[name] = f"{where}: [{table}.{rule}] {name}"
    for rule, overrides in (params or {}).items():
        for name in overrides:
            out.setdefault(rule, {})[name] = f"{label} {rule}.{name}"
    return out


def analyze(
    path: Path | str,
    *,
    config: ProjectConfig | None = None,
    aliases: AliasTable | None = None,
    rules_dirs: Sequence[Path] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    cache: CacheOption = None,
    jobs: int | None = None,
) -> Analysis:
    """Load every run under ``path`` and analyse it. ``config`` supplies aliases, rule dirs,
    parameters and select/ignore; the keyword arguments add to it (``select`` replaces the
    config's selection, ``ignore`` and ``params`` extend it). ``cache`` and ``jobs``: as for
    :func:`~trainlens.load.load_runs`."""
    cfg = config or ProjectConfig()
    table = aliases or AliasTable.load(cfg.alias_files, inline=cfg.aliases or None)
    rules = load_rules(
        [*cfg.rules_dirs, *rules_dirs],
        merge_params(cfg.rule_params, params),
        sources=param_sources(cfg, params, "params"),
    )
    specs = rules.select(list(select) or cfg.select, [*cfg.ignore, *ignore])
    with ScanAhead(specs) as ahead:
        loaded = load_runs(
            path, aliases=table, on_discovered=ahead.start_discovered, cache=cache, jobs=jobs
        )
        return analyze_runs(
            loaded.runs,
            rules=rules,
            select=list(select) or cfg.select,
            ignore=[*cfg.ignore, *ignore],
            warnings=loaded.warnings,
            audit=cfg.checked_section("audit", AUDIT_SETTINGS),
            scans=ahead,
        )
