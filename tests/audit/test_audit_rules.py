"""Every ``kind: audit`` rule on both sides: a file where it fires (with example ids and
excerpts) and a healthy one where it stays quiet; rule parameters change what counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from auditfiles import swift_infer_records, write_jsonl

from trainlens.audit.api import run_completions_audit
from trainlens.audit.findings import AUDIT_RULES
from trainlens.config import ProjectConfig
from trainlens.engine.spec import load_rules

#: Audit rules judged by other audits (label masks, compared runs), tested there.
OTHER_AUDITS = {"label_mask_suspect", "scale_regression"}
LOOP = "then we add the two numbers again and check the result once more " * 6
HEALTHY = swift_infer_records(40, correct=36, unclosed=0)  # 4 closed wrong answers


def _fired(tmp_path: Path, records: list[dict], **kw: object) -> dict[str, object]:
    path = write_jsonl(tmp_path / "pred.jsonl", records)
    result = run_completions_audit([path], **kw)  # type: ignore[arg-type]
    return {f.rule: f for f in result.analysis.findings}


def _with(records: list[dict], texts: list[str]) -> list[dict]:
    out = [dict(r) for r in records]
    for r, text in zip(out, texts):
        r["response"] = text
    return out


CASES = {
    "unclosed_answers": _with(HEALTHY, ["<think>never stops 12"] * 4),
    "unparseable_answers": _with(HEALTHY, ["<answer>1 then 2</answer>"] * 4),
    "format_gap": swift_infer_records(40, correct=20, unclosed=10),
    "degenerate_completions": _with(HEALTHY, ["", "a", "", "<"]),
    "repetitive_completions": _with(HEALTHY, [LOOP, LOOP + "<answer>1</answer>", LOOP]),
}


def test_every_audit_rule_has_a_case() -> None:
    audit_rules = {s.id for s in load_rules().of_kind("audit")}
    assert set(CASES) == set(AUDIT_RULES) == audit_rules - OTHER_AUDITS


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_with_examples(tmp_path: Path, rule: str) -> None:
    finding = _fired(tmp_path, CASES[rule])[rule]
    params = finding.params  # type: ignore[attr-defined]
    assert params["examples"] and params["excerpt"] and params["lines"]
    assert params["file_name"] == "pred.jsonl" and params["n"] == 40
    result = run_completions_audit([tmp_path / "pred.jsonl"])
    for lang in ("en", "zh"):
        message = result.analysis.message(finding, lang)  # type: ignore[arg-type]
        assert "line " in message and "{" not in message


def test_healthy_predictions_raise_nothing(tmp_path: Path) -> None:
    assert _fired(tmp_path, HEALTHY) == {}


def test_format_gap_names_both_accuracies(tmp_path: Path) -> None:
    f = _fired(tmp_path, CASES["format_gap"])["format_gap"]
    assert f.params["strict_pct"] == 50.0 and f.params["diagnostic_pct"] == 75.0  # type: ignore[attr-defined]
    assert f.params["gap_points"] == 25.0 and f.params["count"] == 10  # type: ignore[attr-defined]
    assert {"unclosed_answers"} <= set(_fired(tmp_path, CASES["format_gap"]))


def test_small_rates_stay_quiet_and_parameters_apply(tmp_path: Path) -> None:
    one_unclosed = _with(HEALTHY, ["<think>never stops 12"])  # 1 of 40 = 2.5% < 5%
    assert "unclosed_answers" not in _fired(tmp_path, one_unclosed)
    strict = ProjectConfig(rule_params={"unclosed_answers": {"min_rate": 0.02}})
    assert "unclosed_answers" in _fired(tmp_path, one_unclosed, cfg=strict)
    shorter = ProjectConfig(rule_params={"repetitive_completions": {"min_repeats": 20}})
    assert "repetitive_completions" not in _fired(
        tmp_path, CASES["repetitive_completions"], cfg=shorter
    )
    # a gap of 5 points stays under format_gap's 10
    small_gap = swift_infer_records(40, correct=30, unclosed=2)
    assert "format_gap" not in _fired(tmp_path, small_gap)


def test_far_shorter_than_the_rest_is_degenerate(tmp_path: Path) -> None:
    long = "<think>" + "word " * 200 + "</think><answer>1</answer>"
    records = [{"response": long, "labels": "1"} for _ in range(40)]
    records[3]["response"] = "<answer>1</answer> ok"
    records[9]["response"] = "<answer>1</answer> ok"
    fired = _fired(tmp_path, records)
    f = fired["degenerate_completions"]
    assert f.params["count"] == 2 and "line 4" in f.params["example_ids"]  # type: ignore[attr-defined]
