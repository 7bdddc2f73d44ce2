"""The JSON form of a completions audit (``schema_version`` 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainlens.audit.completions import CompletionAudit
from trainlens.findings import SCHEMA_VERSION, Finding, json_safe


def audit_document(
    audit: CompletionAudit,
    findings: list[Finding],
    message: Callable[[Finding], str],
    title: Callable[[Finding], str],
) -> dict[str, Any]:
    """``{"schema_version", "files", "summary", "steps", "examples", "findings"}``; rates are
    shares of all samples read, accuracies of those with a gold answer (null without)."""
    steps = [
        {"step": step, "n": counts.values["n"], **counts.rates(audit.closure_measured)}
        for step, counts in sorted(audit.steps.items())
    ]
    return json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "files": [f.to_dict() for f in audit.files],
            "summary": audit.summary(),
            "steps": steps,
            "examples": {k: [e.to_dict() for e in v] for k, v in audit.examples.items()},
            "findings": [
                {
                    **f.to_dict(message(f)),
                    "title": title(f),
                    "params": dict(f.params),
                }
                for f in findings
            ],
        }
    )
