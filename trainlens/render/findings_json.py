"""``analyze --format json``: the findings document (``schema_version`` 1)."""

from __future__ import annotations

import json
from typing import Any

from trainlens.analysis import Analysis
from trainlens.engine.messages import skip_text
from trainlens.findings import SCHEMA_VERSION, Finding, json_safe
from trainlens.report.chains import diagnose
from trainlens.report.model import rule_titles


def finding_dict(analysis: Analysis, finding: Finding, lang: str = "en") -> dict[str, Any]:
    """One finding as JSON: the schema-1 keys plus ``title`` and ``params``."""
    out = finding.to_dict(analysis.message(finding, lang))
    out["title"] = analysis.title(finding, lang)
    out["params"] = json_safe(dict(finding.params))
    return out


def analysis_document(analysis: Analysis, lang: str = "en") -> dict[str, Any]:
    """The whole ``--format json`` document. Made to scale to logdirs of many runs like the
    terminal report: the findings (sorted by run, severity, step) and warnings come first, the
    per-run records after them, and the skipped rules grouped by rule (then run)."""
    order = {r.name: i for i, r in enumerate(analysis.runs)}
    skipped = sorted(analysis.skipped, key=lambda s: (s.rule, order.get(s.run, len(order))))
    doc = {
        "schema_version": SCHEMA_VERSION,
        "lang": lang,
        "findings": [finding_dict(analysis, f, lang) for f in analysis.findings],
        "warnings": [w.to_dict() for w in analysis.warnings],
        "runs": [
            {
                "name": r.name,
                "path": str(r.path),
                "format": r.format,
                "framework": r.meta.framework,
                "first_step": r.first_step,
                "last_step": r.last_step,
            }
            for r in analysis.runs
        ],
        # ``reason`` stays English; ``message`` says it in the document's language
        "skipped": [{**s.to_dict(), "message": skip_text(s, lang)} for s in skipped],
        "rules": list(analysis.selected),
    }
    chains = [
        d.to_dict(lang)
        for run in analysis.runs
        for d in diagnose(run, analysis.for_run(run), rule_titles(analysis.rules))
    ]
    if chains:  # only when findings match a known causal chain (rules/chains.yaml)
        doc["chains"] = chains
    if analysis.audits:  # only for runs holding completions or predictions
        doc["audits"] = [
            {
                "run": a.run,
                "file": a.file,
                "read_as": [f.to_dict() for f in a.audit.files],
                "summary": json_safe(a.audit.summary()),
                "steps": len(a.audit.steps),
            }
            for a in analysis.audits
        ]
    return doc


def render_json(analysis: Analysis, lang: str = "en") -> str:
    """The document as indented JSON text (UTF-8, not ASCII-escaped)."""
    return json.dumps(analysis_document(analysis, lang), indent=2, ensure_ascii=False)
