"""The report model: everything the templates show, built from an Analysis, language-neutral
(findings, numbers, catalog keys). Templates phrase it; ``render.charts`` draws its chart jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlens.findings import Finding, Severity, Skipped
from trainlens.report.audits import AuditView, audit_views
from trainlens.report.chains import Diagnosis, diagnose
from trainlens.report.evidence import KeyTable, key_table, member_metrics
from trainlens.report.fmt import asset_name, display_path, num, slug
from trainlens.report.overview import (
    FAMILY_ORDER,
    OverviewGroup,
    chart_metrics,
    compare_columns,
    overview,
)
from trainlens.report.policies import ProposedPolicy, propose_policies
from trainlens.report.recommendations import (
    Advice,
    FindingAdvice,
    checkpoint_for,
    finding_advice,
    immediate_actions,
)
from trainlens.report.settings import Settings
from trainlens.report.shape import direction, primary, stuck
from trainlens.report.targets import Target, monitoring_targets
from trainlens.run import Run

EPISODE = "episode"
MAX_OCCURRENCES = 20
RELATED_MAX = 4
RELATED_MARGIN = 0.02  # findings within 2% of the run's step span count as co-occurring
#: Run settings shown in the overview when the config has them.
KEY_SETTINGS = (
    "model",
    "train_type",
    "rlhf_type",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_ratio",
    "warmup_steps",
    "max_grad_norm",
    "beta",
    "num_generations",
    "temperature",
    "max_completion_length",
    "max_length",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "save_steps",
)
RL_SETTINGS = frozenset({"beta", "num_generations", "temperature", "max_completion_length"})


@dataclass(frozen=True)
class ChartJob:
    """A PNG to draw: ``name`` is its file name inside the assets folder."""

    name: str
    run: Run
    metrics: tuple[str, ...]
    findings: tuple[Finding, ...]
    overview: bool = False
    #: (rule id, detector name) of the findings' rules: what each finding's chart compares
    detectors: tuple[tuple[str, str], ...] = ()


@dataclass
class FindingView:
    """One report section: every finding of one rule on one metric in one run (a rule that
    fires ten times gets one section with an occurrence table, not ten). ``finding`` is the most
    pronounced occurrence, the one the key-data table, message and advice are about."""

    finding: Finding
    occurrences: tuple[Finding, ...]  # all of them, by step (the primary included)
    spec: Any  # trainlens.engine.spec.RuleSpec, or None when the rule set lacks the id
    family: str
    number: int  # the section's number in the report (sections in display order)
    direction: str
    stuck: bool  # a metric stuck at one value: no peak or baseline worth showing
    table: KeyTable | None
    extra: FindingAdvice
    related: list[Finding] = field(default_factory=list)
    chart: str | None = None  # file name in the assets folder; first section of the metric only
    chart_shown_in: int | None = None  # the number of the section that shows this metric's chart

    @property
    def is_episode(self) -> bool:
        return bool(self.finding.members)

    @property
    def repeated(self) -> bool:
        return len(self.occurrences) > 1

    @property
    def shown_occurrences(self) -> tuple[Finding, ...]:
        """The occurrences listed in the table (all, up to :data:`MAX_OCCURRENCES`)."""
        return self.occurrences[:MAX_OCCURRENCES]


@dataclass(frozen=True)
class FamilyGroup:
    family: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class SourceView:
    path: str
    format: str
    points: int
    first_step: int | None
    last_step: int | None
    role: str


@dataclass
class RunReport:
    run: Run
    path: str
    sources: list[SourceView]
    status: str  # error | warning | healthy
    counts: dict[str, int]  # sections (problems) per severity
    findings: int  # findings in all (a section may hold several occurrences)
    finding_counts: dict[str, int]  # findings per severity, as ``trainlens analyze`` counts them
    ranked: list[FindingView]
    groups: list[FamilyGroup]
    overview: list[OverviewGroup]
    settings: list[tuple[str, str]]
    actions: list[Advice]
    targets: list[Target]
    checkpoint: tuple[str, Finding] | None
    skipped: list[Skipped]
    overview_chart: str | None = None
    audits: list[AuditView] = field(default_factory=list)  # what the model wrote
    #: known causal chains the findings match (rules/chains.yaml), the report's opening
    diagnoses: list[Diagnosis] = field(default_factory=list)
    #: gate / watch policies that would have caught this run
    policies: list[ProposedPolicy] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.run.name


@dataclass
class Report:
    paths: list[str]
    date: str
    runs: list[RunReport]
    compare_columns: list[tuple[str, str]]  # (metric, best | max | last)
    comparison: Any  # trainlens.compare.Comparison for several runs, else None
    warnings: list[tuple[str, str]]
    charts: list[ChartJob]
    #: several runs with charts: how many runs got none because they have no finding
    uncharted: int = 0

    @property
    def multi(self) -> bool:
        return len(self.runs) > 1


def rank_key(f: Finding) -> tuple[int, int, int, str, str]:
    """Most severe first; episodes before their parts; earlier first; then by rule and metric."""
    return (-f.severity.rank, 0 if f.members else 1, f.start_step, f.rule, f.metric)


def rule_titles(rules: Any) -> Callable[[str], Mapping[str, str]]:
    """A rule id → its title per language (empty when the rule set lacks it)."""

    def title(rule_id: str) -> Mapping[str, str]:
        return getattr(rule_spec(rules, rule_id), "title", None) or {}

    return title


def rule_spec(rules: Any, rule_id: str) -> Any:
    """The RuleSpec of ``rule_id``, or None when the rule set does not have it."""
    return rules.get(rule_id) if rules is not None and rule_id in rules else None


def _sections(findings: list[Finding]) -> list[list[Finding]]:
    """Findings grouped by (rule, metric) (episodes by rule: their metric is just the first
    member's), each group by step, groups in rank order."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.rule, "" if f.members else f.metric), []).append(f)
    out = [sorted(g, key=lambda f: (f.start_step, f.end_step)) for g in groups.values()]
    return sorted(out, key=lambda g: rank_key(primary(g)))


def _family(run: Run, finding: Finding, spec: Any) -> str:
    if finding.members:
        return EPISODE
    family = run.info(finding.metric).family
    if family not in FAMILY_ORDER:
        family = getattr(spec, "family", None) or "other"
    return family if family in FAMILY_ORDER else "other"


def _related(run: Run, finding: Finding, others: list[Finding]) -> list[Finding]:
    """Findings on other metrics around the same steps (an episode: its members there)."""
    span = max((run.last_step or 0) - (run.first_step or 0), 1)
    margin = RELATED_MARGIN * span
    wanted = set(finding.members)
    out: dict[tuple[str, str], Finding] = {}
    for f in others:
        near = (
            f.start_step <= finding.end_step + margin and f.end_step >= finding.start_step - margin
        )
        if wanted:
            keep = f"{f.rule}@{f.metric}" in wanted
        else:
            keep = not f.members and f.metric != finding.metric
        if near and keep:
            out.setdefault((f.rule, f.metric), f)
    return list(out.values())[:RELATED_MAX]


def _setting_value(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, str):
        if not value:
            return None
        return Path(value).name if os.path.isabs(value) or value.startswith("/") else value
    return str(value).lower() if isinstance(value, bool) else num(value, 6)


def _settings(settings: Settings) -> list[tuple[str, str]]:
    """The key settings of the run as its config spells them (verl's nested keys included); a
    setting every switch of which is off shows 0 and the switches."""
    out = []
    rl = settings.is_rl
    for name in KEY_SETTINGS:
        if name in RL_SETTINGS and not rl:
            continue
        found = settings.resolve(name)
        if found is None or (text := _setting_value(found.value)) is None:
            continue
        if ", " in found.key:  # resolved from switches that are all off
            out.append((name, f"{text} ({found.key})"))
        else:
            out.append((found.key, text))
    return out


def _status(counts: dict[str, int]) -> str:
    if counts.get("error"):
        return "error"
    if counts.get("warning"):
        return "warning"
    return "healthy"


def _base(paths: Sequence[str | Path]) -> Path | None:
    if len(paths) != 1:
        return None
    p = Path(paths[0])
    return p if p.is_dir() else p.parent


def _group(views: list[FindingView]) -> list[FamilyGroup]:
    by: dict[str, list[FindingView]] = {}
    for v in views:
        by.setdefault(v.family, []).append(v)
    order = [EPISODE, *FAMILY_ORDER]
    families = sorted(
        by, key=lambda fam: (fam != EPISODE, rank_key(by[fam][0].finding)[0], order.index(fam))
    )
    return [FamilyGroup(fam, tuple(by[fam])) for fam in families]


def build_run(
    run: Run,
    findings: list[Finding],
    skipped: list[Skipped],
    rules: Any,
    base: Path | None,
    *,
    charts: bool,
    prefix: str,
) -> tuple[RunReport, list[ChartJob]]:
    """The model of one run's part of the report, plus the charts it links."""
    findings = sorted(findings, key=rank_key)
    views = []
    for group in _sections(findings):
        f = primary(group)
        spec = rule_spec(rules, f.rule)
        flat = stuck(run, f)
        views.append(
            FindingView(
                finding=f,
                occurrences=tuple(group),
                spec=spec,
                family=_family(run, f, spec),
                number=0,
                direction=direction(run, f),
                stuck=flat,
                table=key_table(run, f, flat=flat),
                extra=finding_advice(run, f, group),
                related=_related(run, f, findings),
            )
        )
    groups = _group(views)
    for i, v in enumerate((v for g in groups for v in g.findings), start=1):
        v.number = i
    jobs: list[ChartJob] = []
    if charts:
        jobs = _plan_charts(run, groups, prefix)
    counts = {s.value: sum(v.finding.severity is s for v in views) for s in Severity}
    checkpoint = next(
        (
            (name, f)
            for f in findings
            if f.best_step is not None and (name := checkpoint_for(run, f)) is not None
        ),
        None,
    )
    extra_metrics = tuple(dict.fromkeys(m for f in findings for m in member_metrics(f)))
    report = RunReport(
        run=run,
        path=display_path(run.path, base),
        sources=[
            SourceView(
                display_path(s.path, base), s.format, s.points, s.first_step, s.last_step, s.role
            )
            for s in run.meta.sources
        ],
        status=_status(counts),
        counts=counts,
        findings=len(findings),
        finding_counts={s.value: sum(f.severity is s for f in findings) for s in Severity},
        ranked=views,
        groups=groups,
        overview=overview(run, extra_metrics),
        settings=_settings(run.meta.settings),
        actions=immediate_actions([v.extra for v in views]),
        targets=monitoring_targets(run, findings),
        checkpoint=checkpoint,
        skipped=sorted(skipped, key=lambda s: s.rule),
        diagnoses=diagnose(run, findings, rule_titles(rules)),
        policies=propose_policies(run, findings),
    )
    if charts:
        report.overview_chart = next((j.name for j in jobs if j.overview), None)
    return report, jobs


def _plan_charts(run: Run, groups: list[FamilyGroup], prefix: str) -> list[ChartJob]:
    """One chart per metric with a finding (linked from the first section about it) and one
    overview grid (the metrics with findings first); episodes link the chart of their own
    metric."""
    jobs: list[ChartJob] = []
    own: dict[str, list[Finding]] = {}
    episodes: dict[str, list[Finding]] = {}
    for group in groups:
        for v in group.findings:
            target = episodes if v.is_episode else own
            target.setdefault(v.finding.metric, []).extend(v.occurrences)
    by_metric = {**episodes, **own}  # windows shaded per metric: its own findings win
    detectors = tuple(
        sorted({(v.finding.rule, v.spec.detector) for g in groups for v in g.findings if v.spec})
    )
    shown: dict[str, int] = {}
    for group in groups:
        for v in group.findings:
            metric = v.finding.metric
            if run.resolve(v.finding.key) is None and run.resolve(metric) is None:
                continue
            if metric in shown:
                v.chart_shown_in = shown[metric]
                continue
            shown[metric] = v.number
            v.chart = asset_name(f"{prefix}{slug(metric)}")
            job = ChartJob(v.chart, run, (metric,), tuple(by_metric[metric]), False, detectors)
            jobs.append(job)
    panels = chart_metrics(run, tuple(shown))
    if panels:
        findings = tuple(f for fs in by_metric.values() for f in fs)
        jobs.append(ChartJob(asset_name(f"{prefix}overview"), run, tuple(panels), findings, True))
    return jobs


def build_report(
    analysis: Any,
    *,
    charts: bool,
    date: str | dt.date | None = None,
    analysed_paths: Sequence[str | Path] = (),
) -> Report:
    """The model of the whole report for ``analysis`` (runs, findings, skipped, warnings, rules)."""
    runs: list[Run] = list(analysis.runs)
    paths = list(analysed_paths) or _derive_paths(runs)
    base = _base(paths)
    multi = len(runs) > 1
    reports, jobs = [], []
    prefixes: set[str] = set()
    uncharted = 0
    findings_of: dict[str, list[Finding]] = {}
    for f in analysis.findings:
        findings_of.setdefault(f.run, []).append(f)
    skipped_of: dict[str, list[Skipped]] = {}
    for s in analysis.skipped:
        skipped_of.setdefault(s.run, []).append(s)
    for run in runs:
        findings = findings_of.get(run.name, [])
        skipped = skipped_of.get(run.name, [])
        prefix = _chart_prefix(run.name, prefixes) if multi else ""
        # several runs: charts only for the runs with something to show (a logdir of hundreds
        # of healthy runs would otherwise spend minutes drawing overviews nobody reads)
        draw = charts and (bool(findings) or not multi)
        if charts and not draw:
            uncharted += 1
        report, run_jobs = build_run(
            run, findings, skipped, analysis.rules, base, charts=draw, prefix=prefix
        )
        report.audits = audit_views(analysis, run.name, base)
        reports.append(report)
        jobs += run_jobs
    comparison = None
    if multi:
        from trainlens.compare import compare_runs

        comparison = compare_runs(runs)
    warnings = [(display_path(w.source, base), w.message) for w in analysis.warnings]
    when = date.isoformat() if isinstance(date, dt.date) else (date or dt.date.today().isoformat())
    return Report(
        paths=[display_path(p) for p in paths],
        date=when,
        runs=reports,
        compare_columns=compare_columns(
            runs, comparison.metric if comparison is not None else None
        ),
        comparison=comparison,
        warnings=warnings,
        charts=jobs,
        uncharted=uncharted,
    )


def _chart_prefix(name: str, used: set[str]) -> str:
    """The chart file prefix of one run of several: its name as a slug, bounded (a long run
    path gives a long name), with a hash of the name when another run's prefix is the same
    (``a/b`` and ``a-b``), so that no run's chart overwrites another's."""
    prefix = asset_name(slug(name), "-")
    if prefix in used:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]
        prefix = asset_name(f"{slug(name)[:40]}-{digest}", "-")
    used.add(prefix)
    return prefix


def _derive_paths(runs: list[Run]) -> list[str]:
    """The folder holding every run (a run named after a log file counts as its folder)."""
    folders = [
        os.path.abspath(r.path if Path(r.path).is_dir() else Path(r.path).parent) for r in runs
    ]
    if not folders:
        return []
    try:
        return [os.path.commonpath(folders)]
    except ValueError:  # different drives
        return folders


__all__ = ["ChartJob", "FindingView", "Report", "RunReport", "build_report", "rule_spec"]
