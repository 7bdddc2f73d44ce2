"""JUnit XML for CI: one ``<testsuite>`` per run, one ``<testcase>`` per policy.

A failed policy is a ``<failure>`` whose text is the evidence (worst value, violating points or the
findings); a policy that could not be checked is ``<skipped>`` (or a ``<failure>`` with
``strict``). Built with ElementTree, so every value is escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from trainlens.gate.evaluate import GateReport, PolicyResult, Status
from trainlens.render.gate_output import FindingText, default_finding_text, evidence, fmt

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _safe(text: str) -> str:
    """Text XML 1.0 can hold (control characters from odd metric keys are replaced)."""
    return _NOT_XML.sub("\ufffd", text)


def _failure_body(r: PolicyResult, finding_text: FindingText | None) -> str:
    lines = [
        f"policy: {r.policy.text}",
        f"meaning: fails when {r.policy.describe()}",
        f"run: {r.run}",
    ]
    if r.key:
        lines.append(f"key: {r.key}")
    lines.append(f"evidence: {evidence(r, finding_text)}")
    if r.samples:
        lines.append("violating points (step: value):")
        lines += [f"  {step}: {fmt(value)}" for step, value in r.samples]
    text = finding_text or default_finding_text
    for f in r.findings:
        lines.append(f"finding: {text(f)}")
        lines += [f"  step {e.step}: {fmt(e.value)}" for e in f.evidence]
    return _safe("\n".join(lines) + "\n")


def render_junit(
    report: GateReport, *, strict: bool = False, finding_text: FindingText | None = None
) -> str:
    """The JUnit XML document as a string (UTF-8 declared)."""
    root = ET.Element("testsuites", name="trainlens gate")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for run in report.runs:
        results = [r for r in report.results if r.run == run.name]
        failures = sum(
            r.status is Status.FAIL or (strict and r.status is Status.MISSING) for r in results
        )
        skipped = sum(r.status is Status.MISSING and not strict for r in results)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_safe(run.name),
            tests=str(len(results)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time="0",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="path", value=_safe(str(run.path)))
        ET.SubElement(props, "property", name="format", value=run.format)
        for r in results:
            case = ET.SubElement(
                suite,
                "testcase",
                name=_safe(r.policy.text),
                classname=_safe(f"trainlens.gate.{run.name}"),
                time="0",
            )
            if r.status is Status.FAIL:
                el = ET.SubElement(
                    case,
                    "failure",
                    type="PolicyFailed",
                    message=_safe(f"{r.policy.text}: {evidence(r, finding_text)}"),
                )
                el.text = _failure_body(r, finding_text)
            elif r.status is Status.MISSING:
                if strict:
                    el = ET.SubElement(
                        case, "failure", type="PolicyNotChecked", message=_safe(r.note)
                    )
                    el.text = _failure_body(r, finding_text)
                else:
                    ET.SubElement(case, "skipped", message=_safe(r.note))
            else:
                ET.SubElement(case, "system-out").text = _safe(evidence(r, finding_text) + "\n")
        totals["tests"] += len(results)
        totals["failures"] += failures
        totals["skipped"] += skipped
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
