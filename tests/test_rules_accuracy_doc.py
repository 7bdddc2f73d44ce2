"""`trainlens rules show ID` prints the rule's row of the labelled bank (rules/accuracy.json,
written by benchmarks/accuracy/run.py --write-rule-table from the full bank)."""

from __future__ import annotations

from trainlens.engine.docs import accuracy_lines, accuracy_table, rule_doc
from trainlens.engine.spec import load_rules


def test_every_series_rule_has_a_row() -> None:
    table = accuracy_table()
    assert table["bank"]["runs"] >= 400 and table["bank"]["healthy_runs"] >= 80
    series = {s.id for s in load_rules().select((), ()) if s.kind == "series"}
    rows = table["rules"]
    assert series <= set(rows), sorted(series - set(rows))
    for rule in series:
        assert rows[rule]["labelled"] >= 12, rule


def test_rule_doc_shows_recall_and_false_alarms() -> None:
    spec = load_rules().get("kl_spike")
    doc = rule_doc(spec, "en")
    assert "Accuracy on the labelled bank" in doc and "recall 100% of" in doc
    zh = rule_doc(spec, "zh")
    assert "标注场景库上的准确度" in zh and "召回" in zh


def test_a_rule_without_scenarios_says_so() -> None:
    lines = accuracy_lines("cuda_oom", "en")
    assert "not measured" in lines[-1]
