"""The MCP tools as plain functions: each takes a :class:`Workspace` and the agent's arguments
and returns a compact JSON string within the workspace's budget. Paths are confined to the
workspace's roots; errors raise :class:`~trainlens.errors.TrainlensError` (the server turns
them into tool errors)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.discover import RunSources, SourceFormat, discover_all
from trainlens.errors import TrainlensError
from trainlens.load import load_run
from trainlens.mcp.budget import DEFAULT_BUDGET, fit
from trainlens.mcp.roots import PathRefused, Roots
from trainlens.metrics import AliasTable
from trainlens.run import Run

#: Warnings an answer quotes at most (the rest are counted).
MAX_WARNINGS = 5


def _files(src: RunSources) -> list[Path | None]:
    out: list[Path | None] = [src.root, src.config_path, *src.logs, *src.meta_files]
    for s in (src.primary, *src.companions):
        out += [s.path, *s.files]
    return out


@dataclass
class Workspace:
    """The roots, the answer budget, and loaded runs cached by path and file stamps."""

    roots: Roots
    budget: int = DEFAULT_BUDGET
    lang: str = "en"
    aliases: AliasTable = field(default_factory=AliasTable.load)
    _cache: dict[Path, tuple[Any, list[Run], list[ReadWarning]]] = field(default_factory=dict)
    _rules: Any = None

    @property
    def rules(self) -> Any:
        if self._rules is None:
            from trainlens.engine.spec import load_rules

            self._rules = load_rules()
        return self._rules

    def load(self, path: str) -> tuple[Path, list[Run], list[ReadWarning]]:
        """Every run under ``path`` (inside the roots); a run reading any file outside them
        (a symlink out) is left out with a warning."""
        real = self.roots.resolve(path)
        found = discover_all(real)
        warnings = list(found.skipped)
        allowed = []
        for src in found.runs:
            if self.roots.check(_files(src)):
                allowed.append(src)
            else:
                warnings.append(
                    ReadWarning(self.roots.show(src.root), "refused: reads files outside the roots")
                )
        stamp = tuple(_stamp(p) for src in allowed for p in _files(src))
        cached = self._cache.get(real)
        if cached is not None and cached[0] == stamp:
            return real, cached[1], warnings + cached[2]
        runs: list[Run] = []
        read: list[ReadWarning] = []
        for src in allowed:
            before = len(read)
            run = load_run(src, self.aliases, read)
            if run.format == SourceFormat.TENSORBOARD.value and not len(run.table):
                if len(read) == before:
                    continue
            runs.append(run)
        self._cache[real] = (stamp, runs, read)
        return real, runs, warnings + read

    def run(self, path: str) -> tuple[Run, list[ReadWarning]]:
        """The one run ``path`` names (a run folder or file that list_runs gave)."""
        real, runs, warnings = self.load(path)
        if not runs:
            raise TrainlensError(f"{path}: no run with readable metrics")
        if len(runs) == 1:
            return runs[0], warnings
        exact = [r for r in runs if Path(r.path).resolve() == real]
        if len(exact) == 1:
            return exact[0], warnings
        names = ", ".join(self.roots.show(Path(r.path)) for r in runs[:10])
        raise TrainlensError(f"{path}: holds {len(runs)} runs; pass one of: {names}")

    def warn(self, warnings: Sequence[ReadWarning]) -> dict[str, Any]:
        if not warnings:
            return {}
        shown = [f"{self.roots.show(Path(w.source))}: {w.message}" for w in warnings]
        out: dict[str, Any] = {"warnings": shown[:MAX_WARNINGS]}
        if len(shown) > MAX_WARNINGS:
            out["more_warnings"] = len(shown) - MAX_WARNINGS
        return out


def _stamp(path: Path | None) -> tuple[str, int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), st.st_size, st.st_mtime_ns)


def _steps(run: Run) -> list[int | None]:
    return [run.first_step, run.last_step]


# ------------------------------------------------------------------------------------ tools


def list_runs(ws: Workspace, path: str = ".") -> str:
    """The runs under ``path``: what to pass as ``run`` to the other tools."""
    _, runs, warnings = ws.load(path)
    rows = [
        {
            "run": ws.roots.show(Path(r.path)),
            "name": r.name,
            "format": r.format,
            "framework": r.meta.framework,
            "steps": _steps(r),
            "metrics": len(r.keys),
            "points": len(r.table),
        }
        for r in runs
    ]
    return fit({"count": len(rows), "runs": rows, **ws.warn(warnings)}, ws.budget, ["runs"])


def metrics(ws: Workspace, run: str) -> str:
    """Each metric of a run: canonical name, raw key, points, step range, first/last/min/max."""
    r, warnings = ws.run(run)
    rows = []
    seen: set[str] = set()
    names = [*r.canonical_names, *(k for k in r.keys if r.canonical(k) is None)]
    for name in names:
        key = r.resolve(name)
        if key is None or key in seen:
            continue
        seen.add(key)
        arrays = r.arrays(key)
        assert arrays is not None
        steps, values = arrays
        finite = values[np.isfinite(values)]
        rows.append(
            {
                "name": name,
                "key": key,
                "family": r.info(name).family,
                "points": len(steps),
                "steps": [int(steps[0]), int(steps[-1])],
                "first": float(values[0]),
                "last": float(values[-1]),
                "min": float(finite.min()) if len(finite) else None,
                "max": float(finite.max()) if len(finite) else None,
                "non_finite": int(len(values) - len(finite)),
            }
        )
    doc = {"run": ws.roots.show(Path(r.path)), "count": len(rows), "metrics": rows}
    return fit({**doc, **ws.warn(warnings)}, ws.budget, ["metrics"])


def downsample(steps: np.ndarray, values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices kept by min/max buckets: ``max_points // 2`` buckets of consecutive points, each
    keeping its lowest and highest value (in step order), so spikes survive; NaN points are
    kept too (one per bucket), since a NaN is news."""
    n = len(steps)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        part = values[a:b]
        nan = np.flatnonzero(np.isnan(part))
        if len(nan) == len(part):
            keep.append(a + int(nan[0]))
            continue
        picks = {a + int(np.nanargmin(part)), a + int(np.nanargmax(part))}
        keep.extend(sorted(picks))
    return np.asarray(keep, dtype=int)


def series(
    ws: Workspace,
    run: str,
    metric: str,
    start: int | None = None,
    end: int | None = None,
    max_points: int = 200,
) -> str:
    """One metric's points between ``start`` and ``end`` (steps, inclusive), at most
    ``max_points`` of them (min/max per bucket; ``merged`` says how many were dropped)."""
    r, warnings = ws.run(run)
    arrays = r.arrays(metric)
    if arrays is None:
        from trainlens.gate.evaluate import missing_note

        raise TrainlensError(missing_note(metric, r))
    steps, values = arrays
    keep = np.ones(len(steps), dtype=bool)
    if start is not None:
        keep &= steps >= start
    if end is not None:
        keep &= steps <= end
    steps, values = steps[keep], values[keep]
    max_points = max(2, min(int(max_points), 5000))
    idx = downsample(steps, values, max_points)
    doc: dict[str, Any] = {
        "run": ws.roots.show(Path(r.path)),
        "metric": metric,
        "key": r.resolve(metric),
        "points_in_range": len(steps),
        "points_returned": len(idx),
        "merged": len(steps) - len(idx),
    }
    if len(idx) < len(steps):
        doc["downsampling"] = (
            f"min/max buckets: {max_points // 2} buckets of about "
            f"{len(steps) / max(1, max_points // 2):.0f} points, each keeping its lowest and "
            "highest value"
        )
    doc["points"] = [[int(s), float(v)] for s, v in zip(steps[idx], values[idx])]
    return fit({**doc, **ws.warn(warnings)}, ws.budget, ["points"])


def _analysis(ws: Workspace, r: Run, select: Sequence[str] = ()) -> Any:
    from trainlens.analysis import analyze_runs

    return analyze_runs([r], rules=ws.rules, select=list(select))


def analyze(ws: Workspace, run: str, select: Sequence[str] | None = None) -> str:
    """The rules over a run: findings (most severe first) with their messages."""
    r, warnings = ws.run(run)
    a = _analysis(ws, r, select or ())
    rows = [
        {
            "rule": f.rule,
            "severity": f.severity.value,
            "metric": f.metric,
            "steps": [f.start_step, f.end_step],
            "peak": [f.peak_step, f.peak_value] if f.peak_step is not None else None,
            "message": a.message(f, ws.lang),
        }
        for f in a.findings
    ]
    doc = {
        "run": ws.roots.show(Path(r.path)),
        "counts": a.counts(),
        "findings": rows,
        "rules_run": len(a.selected),
        "skipped": [f"{s.rule}: {s.reason}" for s in a.skipped],
        "hint": "finding(run, rule) gives a rule's evidence, causes and advice",
    }
    return fit({**doc, **ws.warn([*warnings, *a.warnings])}, ws.budget, ["findings", "skipped"])


def finding(ws: Workspace, run: str, rule: str) -> str:
    """Everything about one rule on a run: its findings with evidence rows, why it matters,
    likely causes and advice."""
    r, warnings = ws.run(run)
    try:
        spec = ws.rules.get(rule)
    except (KeyError, TrainlensError):
        import difflib

        close = difflib.get_close_matches(rule, [s.id for s in ws.rules], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise TrainlensError(f"unknown rule {rule!r}{hint}") from None
    a = _analysis(ws, r, [rule])
    lang = ws.lang
    doc: dict[str, Any] = {
        "run": ws.roots.show(Path(r.path)),
        "rule": rule,
        "title": spec.text("title", lang),
        "severity": spec.severity.value,
        "why": spec.text("why", lang),
        "causes": spec.text("causes", lang),
        "advice": spec.text("advice", lang),
        "findings": [f.to_dict(a.message(f, lang)) for f in a.findings],
    }
    skipped = [s.reason for s in a.skipped]
    if skipped:
        doc["skipped"] = skipped
    return fit({**doc, **ws.warn([*warnings, *a.warnings])}, ws.budget, ["findings"])


def compare(ws: Workspace, runs: Sequence[str], metric: str | None = None) -> str:
    """Several runs on one score metric: best, degradation onset, checkpoint to keep."""
    from trainlens.compare import compare_runs, unique_names
    from trainlens.render.compare.json_doc import comparison_document

    loaded: list[Run] = []
    warnings: list[ReadWarning] = []
    for path in runs:
        _, found, w = ws.load(path)
        loaded += found
        warnings += w
    if not loaded:
        raise TrainlensError("compare: no runs found")
    names = unique_names([(r.name, ws.roots.show(Path(r.path))) for r in loaded])
    renamed = []
    for r, name in zip(loaded, names):
        copy = Run(name, r.path, r.format, r.table, r.meta, r.aliases)
        renamed.append(copy)
    doc = comparison_document(compare_runs(renamed, metric=metric), ws.lang)
    return fit({**doc, **ws.warn(warnings)}, ws.budget, ["runs", "notes"])


def gate(
    ws: Workspace,
    run: str,
    policies: Sequence[str] = (),
    fail_on_severity: str | None = None,
    fail_on_rule: Sequence[str] = (),
) -> str:
    """``trainlens gate`` on a run: each policy's pass / fail / missing with its evidence."""
    from trainlens.gate import build_policies, evaluate, needs_analysis
    from trainlens.gate.rulebook import check_rules, finding_text
    from trainlens.render.gate_output import gate_document

    pset = build_policies(
        fail_on=list(policies), fail_on_severity=fail_on_severity, fail_on_rule=fail_on_rule
    )
    if not pset.policies:
        raise TrainlensError("gate: give policies (e.g. ['kl>10 for 3']) or a severity / rule")
    r, warnings = ws.run(run)
    analysis = None
    if needs_analysis(pset.policies):
        check_rules(pset.policies, ws.rules)
        analysis = _analysis(ws, r)
    report = evaluate(pset.policies, [r], analysis, warnings)
    doc = gate_document(report, finding_text=finding_text(ws.rules, ws.lang))
    doc.pop("warnings", None)
    doc["runs"] = [{**d, "path": ws.roots.show(Path(d["path"]))} for d in doc["runs"]]
    return fit({**doc, **ws.warn(warnings)}, ws.budget, ["runs"])


def report(ws: Workspace, run: str, lang: str | None = None) -> str:
    """The postmortem of a run as Markdown (no charts), cut to the budget if needed."""
    from trainlens.render.markdown import render_markdown

    r, warnings = ws.run(run)
    language = lang or ws.lang
    if language not in ("en", "zh"):
        raise TrainlensError("report: lang must be 'en' or 'zh'")
    text = render_markdown(
        _analysis(ws, r), lang=language, charts=False, analysed_paths=[ws.roots.show(r.path)]
    )
    doc = {"run": ws.roots.show(Path(r.path)), "lang": language, "markdown": text}
    return fit({**doc, **ws.warn(warnings)}, ws.budget, text="markdown")


TOOLS = (list_runs, metrics, series, analyze, finding, compare, gate, report)
__all__ = ["TOOLS", "PathRefused", "Workspace", "downsample", *[t.__name__ for t in TOOLS]]
