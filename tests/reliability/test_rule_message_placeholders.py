"""Rule-file message templates: only declared plain placeholders with a format spec; attribute
traversal, indexing, conversions and nested specs are refused when the rule is loaded (and
rendered as inert text should one ever reach the formatter)."""

from __future__ import annotations

import pytest
import yaml

from trainlens.engine.spec import _SafeFormatter, load_rules
from trainlens.errors import TrainlensError
from trainlens.resources import rules_dir


def _write_rule(folder, message_en: str):
    doc = yaml.safe_load((rules_dir() / "kl_spike.yaml").read_text(encoding="utf-8"))
    doc["id"] = "my_kl"
    doc["message"] = {"en": message_en, "zh": "第 {peak_step} 步"}
    path = folder / "my_kl.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("{peak_value.__class__.__mro__}", "only plain names"),
        ("{x[0]}", "only plain names"),
        ("{peak_value.real}", "only plain names"),
        ("{peak_value!r}", "conversions"),
        ("{peak_value:{ratio}}", "nested fields"),
        ("{nope}", "unknown placeholder {nope}"),
        ("{peak_value", "bad template"),
    ],
)
def test_rule_message_placeholders_rejected_at_load(tmp_path, template, fragment):
    path = _write_rule(tmp_path, f"KL {template} at step {{peak_step}}")
    with pytest.raises(TrainlensError) as err:
        load_rules([tmp_path])
    assert str(path) in err.value.message and fragment in err.value.message


def test_rule_message_placeholders_declared_ones_load(tmp_path):
    _write_rule(tmp_path, "KL {peak_value:.3g} at step {peak_step}")
    assert "my_kl" in load_rules([tmp_path])


def test_rule_message_placeholders_formatter_never_traverses():
    out = _SafeFormatter().format("{v.__class__.__mro__} {v[0]} {v:.2f}", v=1.5)
    assert out == "{v.__class__.__mro__} {v[0]} 1.50"
