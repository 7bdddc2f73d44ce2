"""Gate outputs: JUnit XML (validated by parsing it), JSON, GitHub annotations, terminal."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from rich.console import Console

from trainlens.findings import Finding, Severity
from trainlens.gate import SeverityPolicy, evaluate, parse_policy
from trainlens.merge import merge_frames
from trainlens.metrics import AliasTable
from trainlens.readers import make_frame
from trainlens.render import gate_output
from trainlens.render.junit import render_junit
from trainlens.run import Run, RunMeta


def make_run(name: str, **series: list[float]) -> Run:
    keys, steps, values = [], [], []
    for key, vals in series.items():
        keys += [key] * len(vals)
        steps += list(range(1, len(vals) + 1))
        values += vals
    table, _ = merge_frames([("f", make_frame(keys, np.asarray(steps), np.asarray(values)))])
    return Run(name, Path("/logs") / name, "tensorboard", table, RunMeta(), AliasTable.load())


class FakeAnalysis:
    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.skipped: list = []
        self.warnings: list = []


def report():
    runs = [
        make_run('a<&"b', kl=[0.1, 12.0, 0.2, 11.0], loss=[1.0, 0.5, 0.4, 0.3]),
        make_run("ok", kl=[0.1, 0.2, 0.1, 0.1], loss=[1.0, 1.0, 1.0, 1.0]),
    ]
    spike = Finding(
        rule="kl_spike",
        severity=Severity.ERROR,
        run='a<&"b',
        metric="kl",
        key="kl",
        start_step=2,
        end_step=2,
        peak_step=2,
        peak_value=12.0,
    )
    policies = [
        parse_policy("kl>10"),
        parse_policy("eval_score<1.8"),
        parse_policy("max(loss)>2"),
        SeverityPolicy(Severity.ERROR),
    ]
    return evaluate(policies, runs, FakeAnalysis([spike]))


def test_junit_parses_with_one_testcase_per_policy_per_run():
    rep = report()
    root = ET.fromstring(render_junit(rep).encode())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) == (
        "8",
        "2",
        "2",
        "0",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ['a<&"b', "ok"]
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [
        "kl>10",
        "eval_score<1.8",
        "max(loss)>2",
        "severity>=error",
    ]
    fail = cases[0].find("failure")
    assert fail is not None and fail.get("type") == "PolicyFailed"
    assert "worst 12 at step 2" in fail.get("message")
    assert "2 of 4 logged points violate" in fail.text and "  2: 12" in fail.text
    assert cases[1].find("skipped").get("message") == "metric 'eval_score' not found"
    assert cases[2].find("failure") is None and "max(loss) = 1" in cases[2].find("system-out").text
    sev = cases[3].find("failure")
    assert "kl_spike (error) on kl, step 2" in sev.text
    assert suites[1].get("failures") == "0" and suites[1].get("skipped") == "1"


def test_junit_strict_turns_missing_into_failures():
    root = ET.fromstring(render_junit(report(), strict=True).encode())
    assert (root.get("failures"), root.get("skipped")) == ("4", "0")
    case = root.find("testsuite/testcase[@name='eval_score<1.8']/failure")
    assert case is not None and case.get("type") == "PolicyNotChecked"


def test_json_document():
    rep = report()
    doc = json.loads(gate_output.render_json(rep))
    assert doc["schema_version"] == 1 and doc["passed"] is False and doc["exit_code"] == 1
    assert doc["summary"] == {"checks": 8, "failed": 2, "missing": 2, "passed": 4}
    assert [p["kind"] for p in doc["policies"]] == ["metric", "metric", "metric", "severity"]
    first = doc["runs"][0]["results"][0]
    assert {
        k: first[k]
        for k in ("policy", "status", "key", "value", "step", "violations", "points", "fired_step")
    } == {
        "policy": "kl>10",
        "status": "fail",
        "key": "kl",
        "value": 12.0,
        "step": 2,
        "violations": 2,
        "points": 4,
        "fired_step": 2,
    }
    sev = doc["runs"][0]["results"][3]
    assert sev["findings"][0]["rule"] == "kl_spike" and sev["findings"][0]["message"]
    assert json.loads(gate_output.render_json(rep, strict=True))["exit_code"] == 2


def test_github_annotations_are_escaped():
    lines = gate_output.github_annotations(report())
    assert len(lines) == 4
    assert lines[0].startswith('::error title=trainlens gate%3A kl>10 failed::run a<&"b: ')
    assert sum(line.startswith("::warning ") for line in lines) == 2
    assert all("\n" not in line for line in lines)
    assert (
        gate_output.annotation("error", "a:b,c", "50%\nnext")
        == "::error title=a%3Ab%2Cc::50%25%0Anext"
    )


def test_terminal_lines_and_summary():
    buf = io.StringIO()
    gate_output.render_terminal(report(), Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert "FAIL  kl>10" in text and "SKIP  eval_score<1.8" in text and "PASS  max(loss)>2" in text
    assert 'a<&"b' in text and "— failed" in text
    assert "ok  (tensorboard, steps 1–4) — passed" in text
    rep = report()
    assert gate_output.summary_line(rep) == (
        "gate failed: 2 of 8 checks failed on 2 runs; 2 could not be checked (counted as passed)"
    )
    warning = gate_output.missing_warnings(rep)[0]
    assert "policy 'eval_score<1.8'" in warning and "counts as passed" in warning


def test_junit_survives_control_characters():
    run = make_run("bad\x01name", **{"k\x02": [1.0, 2.0]})
    rep = evaluate([parse_policy("'k\x02'>1"), parse_policy("nope>1")], [run])
    root = ET.fromstring(render_junit(rep).encode())
    assert root.find("testsuite").get("name") == "bad\ufffdname"
    assert root.get("failures") == "1"


def test_strict_verdict_says_what_happened():
    """--strict: a run whose policies could not all be checked must not read "passed"."""
    rep = evaluate(
        [parse_policy("max(loss)>5"), parse_policy("loss<100")], [make_run("n", kl=[1.0])]
    )
    out = io.StringIO()
    gate_output.render_terminal(rep, Console(file=out, width=200, color_system=None), strict=True)
    text = out.getvalue()
    assert "— passed" not in text
    assert "n  (tensorboard, steps 1–1) — not checked: 2 policies could not be checked" in text
    lax = io.StringIO()
    gate_output.render_terminal(rep, Console(file=lax, width=200, color_system=None))
    assert "— passed (2 not checked)" in lax.getvalue()
    doc = json.loads(gate_output.render_json(rep, strict=True))
    assert doc["passed"] is False and doc["exit_code"] == 2
    assert doc["runs"][0]["passed"] is False and doc["runs"][0]["verdict"].startswith("not checked")
    assert json.loads(gate_output.render_json(rep))["passed"] is True
    assert gate_output.summary_line(rep).startswith("gate passed, but nothing was checked")


def test_all_nan_metric_is_skipped_with_its_reason():
    rep = evaluate([parse_policy("max(loss)>5")], [make_run("nan", loss=[float("nan")] * 3)])
    (r,) = rep.results
    assert r.status.value == "missing" and rep.exit_code(strict=True) == 2
    assert gate_output.evidence(r).startswith("all 3 logged values of loss are NaN")
    nan_test = evaluate([parse_policy("loss==nan")], [make_run("nan", loss=[float("nan")] * 3)])
    assert "ignored" not in gate_output.evidence(nan_test.results[0])


# ------------------------------------------------------------------------- --summary Markdown


def test_gate_summary_markdown(tmp_path) -> None:
    from typer.testing import CliRunner

    from trainlens.cli import commands  # noqa: F401
    from trainlens.cli.app import app

    out = tmp_path / "s.md"
    examples = Path(__file__).resolve().parents[2] / "examples"
    result = CliRunner().invoke(
        app,
        [
            "gate",
            str(examples / "grpo_kl_episodes"),
            "--fail-on",
            "kl>10",
            "--fail-on",
            "reward>100",
            "--fail-on",
            '"nope|x">1',
            "--summary",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    text = out.read_text()
    assert text.startswith("## trainlens gate: ❌ failed\n")
    assert "**gate failed: 1 of 3 checks failed on 1 run; 1 could not be checked" in text
    assert "| `grpo_kl_episodes` | 1–6000 | failed | 1 |" in text
    failed = text.split("### Failed policies")[1].split("###")[0]
    assert "`kl>10`" in failed and "reward>100" not in failed
    assert "- `grpo_kl_episodes`: `\"nope|x\">1`: metric 'nope|x' not found" in text
    top = text.split("### Top findings (5 of ")[1].splitlines()[2:7]
    assert all(line.startswith("- 🚨 `grpo_kl_episodes`, step") for line in top)
