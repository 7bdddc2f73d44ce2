"""Policies from the command line and the project config."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlens.config import ProjectConfig
from trainlens.errors import TrainlensError
from trainlens.findings import Severity
from trainlens.gate import MetricPolicy, PolicyError, RulePolicy, SeverityPolicy, build_policies
from trainlens.gate.rulebook import check_rules, rule_ids
from trainlens.gate.settings import GATE_KEYS, section


def test_config_then_command_line_deduplicated():
    got = build_policies(
        fail_on=["kl > 10", "max(kl)>3"],
        fail_on_severity="error",
        fail_on_rule=["kl_spike"],
        config={"fail_on": ["kl>10"], "fail_on_rule": "kl_spike", "fail_on_severity": "warning"},
    )
    assert [p.text for p in got.policies] == [
        "kl>10",
        "max(kl)>3",
        "severity>=warning",
        "severity>=error",
        "rule kl_spike",
    ]
    assert isinstance(got.policies[0], MetricPolicy)
    assert got.policies[2] == SeverityPolicy(Severity.WARNING)
    assert got.policies[4] == RulePolicy("kl_spike") and got.strict is False


def test_strict_from_config_or_flag():
    assert build_policies(config={"strict": True}).strict
    assert build_policies(strict=True, config={"strict": False}).strict
    with pytest.raises(TrainlensError, match=r"x.toml: gate.strict must be true or false"):
        build_policies(config={"strict": "yes"}, where="x.toml: gate")


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ({"fail_on": 3}, TrainlensError, "gate.fail_on: expected a string or a list of strings"),
        ({"fail_on": ["kl>"]}, PolicyError, 'bad policy "kl>"'),
        ({"fail_on_severity": "fatal"}, TrainlensError, "bad severity 'fatal'"),
        ({"fail_on_rule": [" "]}, TrainlensError, "empty rule id"),
    ],
)
def test_bad_config_values(config, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_policies(config=config)


def test_section_rejects_unknown_keys():
    cfg = ProjectConfig(path=Path("trainlens.toml"), sections={"gate": {"fail_onn": []}})
    with pytest.raises(TrainlensError, match=r"\[gate\]: unknown setting"):
        section(cfg, "gate", GATE_KEYS)
    assert section(ProjectConfig(), "gate", GATE_KEYS) == {}


def test_rule_ids_and_unknown_rules():
    class Spec:
        def __init__(self, id: str) -> None:
            self.id = id

    specs = [Spec("kl_spike"), Spec("loss_spike")]
    assert rule_ids(specs) == {"kl_spike", "loss_spike"}
    assert rule_ids({"a": object()}) == {"a"}
    check_rules([RulePolicy("kl_spike")], specs)
    with pytest.raises(TrainlensError, match="did you mean kl_spike"):
        check_rules([RulePolicy("kl_spik")], specs)


def test_real_rule_set_ids_and_messages():
    spec = pytest.importorskip("trainlens.engine.spec")
    from trainlens.findings import Finding
    from trainlens.gate.rulebook import finding_text

    rules = spec.load_rules()
    assert "kl_spike" in rule_ids(rules)
    f = Finding(
        rule="kl_spike",
        severity=Severity.ERROR,
        run="r",
        metric="kl",
        key="kl",
        start_step=5,
        end_step=7,
        peak_step=6,
        peak_value=19.6,
        baseline=0.1,
        params={"ratio": 196.0},
    )
    en, zh = finding_text(rules, "en")(f), finding_text(rules, "zh")(f)
    assert en.startswith("kl_spike: ") and "19.6" in en and "step 6" in en
    assert "第 6 步" in zh
    unknown = Finding(
        rule="not_a_rule",
        severity=Severity.INFO,
        run="r",
        metric="m",
        key="m",
        start_step=1,
        end_step=1,
    )
    assert finding_text(rules, "en")(unknown) == "not_a_rule (info) on m, step 1"
