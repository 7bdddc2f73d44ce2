"""The audit API the commands call: rules loaded as the project configures them, the audit,
its findings wrapped in an :class:`~trainlens.analysis.Analysis` for the renderers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trainlens.analysis import Analysis, merge_params, param_sources
from trainlens.audit.completions import AuditOptions, CompletionAudit, audit_completions
from trainlens.audit.findings import audit_findings, options_from_rules
from trainlens.config import ProjectConfig
from trainlens.engine.spec import RuleSet, load_rules


@dataclass
class AuditRun:
    """An audit and its findings (``analysis.findings``; ``analysis.runs`` is empty)."""

    audit: CompletionAudit
    analysis: Analysis


def project_rules(cfg: ProjectConfig, rules_dirs: Sequence[Path] = ()) -> RuleSet:
    """The rules with the project's directories and parameter overrides."""
    return load_rules(
        [*cfg.rules_dirs, *rules_dirs],
        merge_params(cfg.rule_params),
        sources=param_sources(cfg, None),
    )


def run_completions_audit(
    files: Sequence[Path],
    cfg: ProjectConfig | None = None,
    *,
    rules_dirs: Sequence[Path] = (),
    run: str | None = None,
    stop: str | None = None,
    require_tags: tuple[str, ...] = (),
    gold_key: str | None = None,
    response_key: str | None = None,
    answer_pattern: str | None = None,
    tokenizer: Path | None = None,
    max_new_tokens: int | None = None,
) -> AuditRun:
    """Audit ``files`` as one set and judge the result with the selected ``kind: audit`` rules
    (``run`` names the findings' run; default: the first file's name)."""
    project = cfg or ProjectConfig()
    ruleset = project_rules(project, rules_dirs)
    specs = ruleset.select(project.select, project.ignore, kind="audit")
    counter = None
    if tokenizer is not None:
        from trainlens.audit.tokens import load_tokenizer

        counter = load_tokenizer(tokenizer)
    base = AuditOptions(
        stop=stop,
        require_tags=require_tags,
        gold_key=gold_key,
        response_key=response_key,
        answer_pattern=answer_pattern,
        tokenizer=counter,
        max_new_tokens=max_new_tokens,
    )
    audit = audit_completions(files, options_from_rules(specs, base))
    name = run or (Path(files[0]).name if files else "audit")
    findings = audit_findings(audit, specs, name)
    analysis = Analysis(
        runs=[],
        findings=findings,
        skipped=[],
        warnings=list(audit.warnings),
        rules=ruleset,
        selected=[s.id for s in specs],
    )
    return AuditRun(audit, analysis)
