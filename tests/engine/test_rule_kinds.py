"""Rules that are not series detectors (log patterns, audits, replay), and message templates
that cannot reach beyond the numbers they format."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trainlens.engine.spec import load_rules, render_message, validate_rule
from trainlens.errors import TrainlensError
from trainlens.findings import Finding, Severity


def other_rule(kind: str = "log_pattern", **over: object) -> dict:
    doc: dict = {
        "id": "my_pattern",
        "kind": kind,
        "severity": "error",
        "outputs": ["count", "excerpt"],
        "title": {"en": "T", "zh": "标题"},
        "summary": {"en": "S", "zh": "摘要"},
        "message": {"en": "{count} lines: {excerpt}", "zh": "{count} 行：{excerpt}"},
        "why": {"en": "W", "zh": "原因"},
        "causes": {"en": ["c"], "zh": ["因"]},
        "advice": {"en": ["a"], "zh": ["议"]},
    }
    if kind == "log_pattern":
        doc["patterns"] = [r"CUDA out of memory\. Tried to allocate (?P<tried>[\d.]+ \w+)"]
    doc.update(over)
    return doc


def test_log_pattern_rule_loads_with_compiled_patterns() -> None:
    spec = validate_rule(other_rule(), Path("my_pattern.yaml"))
    assert spec.kind == "log_pattern" and spec.detector == ""
    assert spec.patterns[0].search("CUDA out of memory. Tried to allocate 4.78 GiB")
    with pytest.raises(TrainlensError, match="has no detector"):
        _ = spec.info


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"patterns": ["(unclosed"]}, "invalid regex"),
        ({"patterns": []}, "non-empty list"),
        ({"detector": "spike"}, "not used by rules of kind"),
        ({"outputs": ["not a name"]}, "outputs must be a list of names"),
        ({"message": {"en": "{nope}", "zh": "{nope}"}}, "unknown placeholder"),
        ({"kind": "magic"}, "kind must be one of"),
    ],
)
def test_bad_non_series_rules_name_the_problem(over: dict, error: str) -> None:
    with pytest.raises(TrainlensError, match=error):
        validate_rule(other_rule(**over), Path("my_pattern.yaml"))


def test_named_groups_are_placeholders_and_audit_rules_take_no_patterns() -> None:
    doc = other_rule(message={"en": "tried {tried}", "zh": "尝试 {tried}"})
    assert validate_rule(doc, Path("my_pattern.yaml")).outputs == ("count", "excerpt")
    audit = other_rule("audit", patterns=["x"])
    with pytest.raises(TrainlensError, match="only for rules of kind log_pattern"):
        validate_rule(audit, Path("my_pattern.yaml"))


def test_series_selection_ignores_other_kinds(tmp_path: Path) -> None:
    (tmp_path / "my_pattern.yaml").write_text(yaml.safe_dump(other_rule()), encoding="utf-8")
    rules = load_rules([tmp_path])
    assert "my_pattern" not in {s.id for s in rules.select(kind="series")}
    assert [s.id for s in rules.of_kind("log_pattern")][-1] == "my_pattern"


def test_plain_params_of_other_kinds_are_type_checked(tmp_path: Path) -> None:
    doc = other_rule("audit", params={"gap_points": 10.0})
    (tmp_path / "my_pattern.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert load_rules([tmp_path], {"my_pattern": {"gap_points": 12}}).get("my_pattern").params == {
        "gap_points": 12
    }
    with pytest.raises(TrainlensError, match="expected float"):
        load_rules([tmp_path], {"my_pattern": {"gap_points": "x"}})
    with pytest.raises(TrainlensError, match="unknown parameter"):
        load_rules([tmp_path], {"my_pattern": {"other": 1}})


@pytest.mark.parametrize(
    "template",
    [
        "{peak_value.__class__.__mro__}",
        "{peak_value[0]}",
        "{peak_value!r}",
        "{peak_value:{baseline.__class__}}",
    ],
)
def test_templates_cannot_traverse_attributes(template: str) -> None:
    doc = other_rule(message={"en": template, "zh": template}, outputs=["peak_value", "baseline"])
    with pytest.raises(TrainlensError, match="placeholder"):
        validate_rule(doc, Path("my_pattern.yaml"))


def test_formatter_renders_traversal_as_text_even_if_a_template_slips_through() -> None:
    spec = validate_rule(other_rule(), Path("my_pattern.yaml"))
    from dataclasses import replace

    bad = replace(spec, message={"en": "{count.__class__.__mro__} {count}", "zh": "x"})
    finding = Finding("my_pattern", Severity.ERROR, "r", "", "", 1, 1, params={"count": 3})
    assert render_message(finding, bad, "en") == "{count.__class__.__mro__} 3"
