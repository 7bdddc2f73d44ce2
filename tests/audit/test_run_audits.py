"""Audits inside runs: a GRPO run dir's completions.jsonl and an SFT run's predictions are
audited by analyze/report; their rates become series any rule can use; [audit] settings."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from auditfiles import swift_completion_lines, swift_infer_records, write_jsonl
from logwriters import write_swift_run
from typer.testing import CliRunner

from trainlens.analysis import analyze
from trainlens.cli import app
from trainlens.config import ProjectConfig

runner = CliRunner()


def _grpo_run(tmp_path: Path) -> Path:
    rows = [(s, {"loss": 0.1, "reward": 0.5, "kl": 0.01}) for s in range(1, 41)]
    run = write_swift_run(tmp_path / "grpo", rows, 40, args={"max_completion_length": 512})
    steps = list(range(5, 41, 5))
    write_jsonl(run / "completions.jsonl", swift_completion_lines(steps, 8, bad_from=25))
    return run


def test_completions_in_a_run_dir_become_series_and_findings(tmp_path: Path) -> None:
    analysis = analyze(_grpo_run(tmp_path))
    (run,) = analysis.runs
    unclosed = run.series("unclosed_rate")
    assert unclosed is not None
    assert list(unclosed.index) == [5, 10, 15, 20, 25, 30, 35, 40]
    assert list(unclosed.values) == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]
    assert run.series("strict_accuracy") is not None
    assert any(s.role == "audit" for s in run.meta.sources)
    (audit,) = analysis.audits
    assert audit.file.endswith("completions.jsonl") and audit.audit.n == 64
    rules = {f.rule for f in analysis.findings}
    assert {"unclosed_answers", "format_gap"} <= rules


def test_a_user_rule_fires_on_the_unclosed_rate_series(tmp_path: Path) -> None:
    rules_dir = tmp_path / "my_rules"
    rules_dir.mkdir()
    rule = {
        "id": "answers_stop_closing",
        "severity": "warning",
        "metrics": ["unclosed_rate"],
        "detector": "bound",
        "params": {"above": 0.25, "min_points": 2},
        "title": {"en": "Answers stop closing", "zh": "答案不再闭合"},
        "summary": {"en": "s", "zh": "s"},
        "message": {"en": "unclosed from {steps}", "zh": "{steps} 起未闭合"},
        "why": {"en": "w", "zh": "w"},
        "causes": {"en": ["c"], "zh": ["c"]},
        "advice": {"en": ["a"], "zh": ["a"]},
    }
    (rules_dir / "answers_stop_closing.yaml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    analysis = analyze(_grpo_run(tmp_path), rules_dirs=[rules_dir])
    (hit,) = [f for f in analysis.findings if f.rule == "answers_stop_closing"]
    assert hit.start_step == 25


def test_audit_can_be_switched_off_and_configured(tmp_path: Path) -> None:
    run = _grpo_run(tmp_path)
    off = analyze(run, config=ProjectConfig(sections={"audit": {"enabled": False}}))
    assert off.audits == [] and off.runs[0].series("unclosed_rate") is None
    # the configured stop string does not occur: every answer counts as unclosed
    cfg = ProjectConfig(sections={"audit": {"stop": "</final>"}})
    assert analyze(run, config=cfg).audits[0].audit.summary()["unclosed_rate"] == 1.0


def test_report_shows_the_audit_table_and_escaped_excerpts(tmp_path: Path) -> None:
    rows = [(s, {"loss": 1.0 / s}) for s in range(1, 21)]
    run = write_swift_run(tmp_path / "sft", rows, 20, args={"dataset": ["gsm8k#1024"]})
    records = swift_infer_records(30, correct=10, unclosed=12)
    records[10]["response"] = "<think>" + "x" * 400 + " a | b *c* _d_ `e`"  # escaped, cut
    write_jsonl(run / "generated_predictions.jsonl", records)
    for lang, heading in (("en", "What the model wrote"), ("zh", "模型输出审计")):
        out = tmp_path / f"report.{lang}.md"
        result = runner.invoke(app, ["report", str(run), "-o", str(out), "--lang", lang])
        assert result.exit_code == 0, result.output
        text = out.read_text(encoding="utf-8")
        assert heading in text
        assert "generated_predictions.jsonl" in text
        assert "40.00%" in text  # unclosed rate in the audit table
        assert "a \\| b \\*c\\* \\_d\\_ \\`e\\`" in text
        assert "x" * 200 not in text
        assert "skipped" not in text  # the predictions are not taken for a training log
    analysis = runner.invoke(app, ["analyze", str(run), "--format", "json"])
    doc = json.loads(analysis.stdout)
    assert "unclosed_answers" in {f["rule"] for f in doc["findings"]}
    (audit,) = doc["audits"]
    assert audit["file"].endswith("generated_predictions.jsonl") and audit["steps"] == 0
    assert audit["summary"]["unclosed_rate"] == 0.4 and audit["summary"]["n"] == 30


def test_a_followed_file_is_read_only_where_it_grew(tmp_path: Path) -> None:
    from trainlens.analysis import analyze_runs
    from trainlens.audit.runs import AuditCache
    from trainlens.load import load_runs

    run_dir = _grpo_run(tmp_path)
    path = run_dir / "completions.jsonl"
    cache = AuditCache()
    first = analyze_runs(load_runs(run_dir).runs, audit_cache=cache)
    (entry,) = cache.entries.values()
    assert entry.auditor.reader.line == 8 and first.audits[0].audit.n == 64
    again = analyze_runs(load_runs(run_dir).runs, audit_cache=cache)
    assert {f.rule for f in first.findings} == {f.rule for f in again.findings}
    assert entry.auditor.reader.line == 8  # nothing read again
    line = json.dumps(swift_completion_lines([45], 8, bad_from=25)[0])
    with open(path, "a", encoding="utf-8") as fh:  # the run goes on, mid-write
        fh.write(line[:50])
    grown = analyze_runs(load_runs(run_dir).runs, audit_cache=cache)
    assert grown.audits[0].audit.n == 64 and entry.auditor.reader.skipped == 0
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line[50:] + "\n")
    grown = analyze_runs(load_runs(run_dir).runs, audit_cache=cache)
    assert grown.audits[0].audit.n == 72 and entry.auditor.reader.line == 9
    unclosed = grown.runs[0].series("unclosed_rate")
    assert unclosed is not None and unclosed.index[-1] == 45
    path.write_text(line + "\n", encoding="utf-8")  # rewritten: read from the start
    assert analyze_runs(load_runs(run_dir).runs, audit_cache=cache).audits[0].audit.n == 8
