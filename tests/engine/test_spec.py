"""Rule loading: the built-in catalogue, validation errors naming the file, overrides, messages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from trainlens.engine.spec import load_rules, render_message
from trainlens.errors import TrainlensError
from trainlens.findings import Finding, Severity

ISSUE_IDS = {
    "kl_spike",
    "grad_explosion",
    "loss_spike",
    "ppo_clip_surge",
    "clipped_ratio_surge",
    "length_surge",
    "length_collapse",
    "reward_collapse",
    "entropy_collapse",
    "kl_stuck_zero",
    "grad_vanishing",
    "degenerate_generation",
    "d_acc_jump",
    "score_collapse",
    "score_diff_out_of_range",
    "length_bias",
    "hard_sample_collapse",
    "degradation_after_best",
    "throughput_drop",
    "nan_inf",
    "overfit_onset",
    "wasted_rollouts",
    "run_restart",
    "instability_episode",
    "grad_collapsed_steps",
}


def good_rule(rule_id: str = "my_rule", **over: object) -> dict:
    doc = {
        "id": rule_id,
        "severity": "warning",
        "metrics": ["loss"],
        "detector": "spike",
        "params": {"factor": 3.0},
        "title": {"en": "My rule", "zh": "我的规则"},
        "summary": {"en": "Fires on loss.", "zh": "loss 异常时报告。"},
        "message": {
            "en": "{metric} at {peak_step}: {ratio:.1f}x",
            "zh": "第 {peak_step} 步 {metric}",
        },
        "why": {"en": "Because.", "zh": "因为。"},
        "causes": {"en": ["a"], "zh": ["甲"]},
        "advice": {"en": ["b"], "zh": ["乙"]},
    }
    doc.update(over)
    return doc


def write(folder: Path, doc: dict, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_builtin_catalogue_has_every_issue_rule() -> None:
    rules = load_rules()
    assert ISSUE_IDS <= set(rules.ids)
    assert rules.get("run_restart").severity is Severity.INFO
    assert rules.get("kl_spike").params["limit"] == 10.0


def test_user_rule_dir_adds_rules(tmp_path: Path) -> None:
    write(tmp_path, good_rule())
    rules = load_rules([tmp_path])
    assert "my_rule" in rules and rules.get("my_rule").path.parent == tmp_path


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"severity": "fatal"}, "severity must be"),
        ({"detector": "magic"}, "unknown detector 'magic'"),
        ({"params": {"factr": 3}}, "params.factr: unknown parameter"),
        ({"params": {"factor": "big"}}, "expected float"),
        ({"params": {"log": 1}}, "expected bool"),
        ({"title": {"en": "only English"}}, "title.zh is missing"),
        ({"causes": {"en": ["a"], "zh": []}}, "causes.zh must be a non-empty list"),
        ({"message": {"en": "{nope}", "zh": "{peak_step}"}}, "unknown placeholder {nope}"),
        ({"message": {"en": "{peak_step", "zh": "x"}}, "bad template"),
        ({"metrics": []}, "at least one metric"),
        ({"detector": "diverging_scores", "params": {}}, "takes 2 series"),
        ({"detector": "restarted", "params": {}}, "reads no metric series"),
        ({"id": "Bad-Id"}, "lower_snake_case"),
        ({"params": {"window": 0}}, "params.window: 0 is out of range for rule my_rule"),
        ({"params": {"factor": -1.0}}, "(allowed: ≥ 0)"),
        ({"params": {"tail_q": 1.5}}, "(allowed: [0, 1])"),
        ({"params": {"limit": float("nan")}}, "(allowed: any finite number)"),
        (
            {"detector": "collapse_from_peak", "params": {"drop": 0}},
            "params.drop: 0 is out of range for rule my_rule parameter drop (allowed: (0, 1])",
        ),
        (
            {"detector": "level_shift", "params": {"toward": "sideways"}},
            "allowed: one of 'up', 'down'",
        ),
        ({"message_when": {"nope": {"en": "a", "zh": "b"}}}, "message_when.nope: not a field"),
        ({"message_when": {"from_start": {"en": "{ratio}"}}}, "message_when.from_start.zh is"),
        (
            {"message_when": {"from_start": {"en": "{nope}", "zh": "x"}}},
            "message_when.from_start.en: unknown placeholder {nope}",
        ),
        ({"escalate": {"fatal": [{"share": 0.5}]}}, "escalate.fatal: not a severity"),
        ({"escalate": {"warning": [{"share": 0.5}]}}, "must be above the rule's severity"),
        ({"escalate": {"error": [{"nope": 0.5}]}}, "escalate.error.nope: not a number"),
        ({"escalate": {"error": [{"share": "half"}]}}, "expected a number"),
        ({"escalate": {"error": [{}]}}, "each condition must map numbers"),
    ],
)
def test_invalid_rules_name_their_file(tmp_path: Path, change: dict, fragment: str) -> None:
    doc = good_rule(**change)
    path = write(tmp_path, doc, name=doc["id"] if doc["id"] == "my_rule" else "my_rule")
    with pytest.raises(TrainlensError) as err:
        load_rules([tmp_path])
    assert str(path) in err.value.message
    assert fragment in err.value.message


def test_every_detector_parameter_declares_a_range_and_its_default_fits() -> None:
    from trainlens.engine.registry import CONTEXT, DETECTORS, Range, constraint

    for info in DETECTORS.values():
        for name, default in info.defaults.items():
            if name in CONTEXT or info.types[name] in (bool, str):
                continue
            allowed = constraint(info.types[name])
            assert allowed is not None, (info.name, name)
            assert default is None or default in allowed, (info.name, name, default)
    assert -1 not in Range(1) and 0 in Range(0) and 0 not in Range(0, lo_open=True)
    assert float("inf") not in Range() and True not in Range()
    assert str(Range(0, 1, lo_open=True)) == "(0, 1]" and str(Range(1)) == "≥ 1"


def test_a_detector_without_a_declared_range_is_refused() -> None:
    from trainlens.engine.registry import detector

    def undeclared(s: object, *, window: int = 5) -> list:
        return []

    with pytest.raises(TypeError, match="parameter window needs a declared range"):
        detector()(undeclared)


def test_out_of_range_overrides_name_rule_parameter_value_range_and_source() -> None:
    with pytest.raises(TrainlensError) as err:
        load_rules(
            overrides={"kl_spike": {"window": -1}},
            sources={"kl_spike": {"window": "--param kl_spike.window"}},
        )
    assert err.value.message == (
        "--param kl_spike.window: -1 is out of range for rule kl_spike parameter window "
        "(allowed: [1, 1000000])"
    )
    with pytest.raises(TrainlensError, match=r"parameter degradation_after_best.drop: -1 is out"):
        load_rules(overrides={"degradation_after_best": {"drop": -1}})
    for rule, name, value in [
        ("grad_explosion", "window", 0),
        ("reward_collapse", "after", 0),
        ("entropy_collapse", "drop", 1.5),
        ("wasted_rollouts", "limit", 2.0),
        ("instability_episode", "min_members", 1),
        ("loss_divergence", "factor", 1.0),
    ]:
        with pytest.raises(TrainlensError, match="is out of range"):
            load_rules(overrides={rule: {name: value}})
    # the boundaries themselves are accepted
    rules = load_rules(overrides={"grad_explosion": {"window": 1}, "entropy_collapse": {"drop": 1}})
    assert rules.get("grad_explosion").params["window"] == 1


def test_escalate_raises_a_findings_severity_by_its_own_numbers() -> None:
    spec = load_rules().get("clipped_ratio_surge")
    assert spec.severity is Severity.WARNING
    assert spec.severity_for({"share": 0.02, "level": 0.95, "n_points": 1}) is Severity.WARNING
    assert spec.severity_for({"share": 0.6, "level": 0.4, "n_points": 30}) is Severity.ERROR
    assert spec.severity_for({"share": 0.1, "level": 0.9, "n_points": 5}) is Severity.ERROR
    assert spec.severity_for({}) is Severity.WARNING


def test_message_when_picks_the_variant_whose_field_is_true() -> None:
    spec = load_rules().get("clipped_ratio_surge")
    base = Finding(
        rule="clipped_ratio_surge",
        severity=Severity.ERROR,
        run="r",
        metric="clipped_ratio",
        key="completions/clipped_ratio",
        start_step=5,
        end_step=200,
        peak_step=115,
        peak_value=1.0,
        baseline=None,
        params={**spec.params, "n_points": 40, "share": 1.0, "level": 0.95, "from_start": True},
    )
    chronic = render_message(base, spec, "en")
    assert "rolling median" not in chronic and "—" not in chronic
    assert "from the first logged steps" in chronic and "100% of the run" in chronic
    assert "长期处于高位" in render_message(base, spec, "zh")
    surge = replace(base, baseline=0.02, params={**base.params, "from_start": False})
    assert "rolling median 2.0%" in render_message(surge, spec, "en")
    # the title follows the variant (title_when)
    assert spec.title_for(base.params, "en") == "Chronic truncation"
    assert spec.title_for(base.params, "zh") == "截断比例长期过高"
    assert spec.title_for(surge.params, "en") == "Truncated completions surge"
    # one affected point: said as such in Chinese
    one = replace(surge, start_step=2800, end_step=2800, peak_step=2800)
    one = replace(one, params={**one.params, "n_points": 1})
    assert "仅第 2800 步这 1 个记录点" in render_message(one, spec, "zh")
    assert "受影响" not in render_message(one, spec, "zh")


def test_title_when_names_a_field_of_the_findings(tmp_path: Path) -> None:
    doc = good_rule(title_when={"no_such_field": {"en": "A", "zh": "甲"}})
    with pytest.raises(TrainlensError, match="title_when.no_such_field"):
        load_rules([write(tmp_path, doc).parent])


def test_missing_section_and_name_mismatch(tmp_path: Path) -> None:
    doc = good_rule()
    del doc["why"]
    write(tmp_path / "a", doc)
    with pytest.raises(TrainlensError, match="missing field 'why'"):
        load_rules([tmp_path / "a"])
    write(tmp_path / "b", good_rule(), name="other_name")
    with pytest.raises(TrainlensError, match="file name must be the rule id"):
        load_rules([tmp_path / "b"])


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, good_rule("kl_spike"))
    with pytest.raises(TrainlensError, match="duplicate rule id 'kl_spike'"):
        load_rules([tmp_path])


def test_invalid_yaml_and_missing_dir(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(TrainlensError, match="broken.yaml: invalid YAML"):
        load_rules([tmp_path])
    with pytest.raises(TrainlensError, match="rules directory not found"):
        load_rules([tmp_path / "nope"])


def test_overrides_replace_params_and_are_checked() -> None:
    rules = load_rules(overrides={"kl_spike": {"limit": 5}})
    spec = rules.get("kl_spike")
    assert spec.params["limit"] == 5 and spec.defaults["limit"] == 10.0
    with pytest.raises(TrainlensError, match="unknown rule 'kl_spiek'"):
        load_rules(overrides={"kl_spiek": {"limit": 5}})
    with pytest.raises(TrainlensError, match="kl_spike.limt: unknown parameter"):
        load_rules(overrides={"kl_spike": {"limt": 5}})
    with pytest.raises(TrainlensError, match="expected float"):
        load_rules(overrides={"kl_spike": {"limit": "high"}})
    # a parameter whose default is None accepts a number or null
    assert (
        load_rules(overrides={"grad_explosion": {"limit": 1e6}})
        .get("grad_explosion")
        .params["limit"]
        == 1e6
    )


def test_select_and_ignore() -> None:
    rules = load_rules()
    assert [s.id for s in rules.select(["kl_*"], kind="series")] == [
        "kl_level",
        "kl_spike",
        "kl_stuck_zero",
    ]
    assert "kl_estimator_blowup" in [s.id for s in rules.select(["kl_*"])]  # a replay rule
    ids = [s.id for s in rules.select((), ["kl_*", "nan_inf"])]
    assert "kl_spike" not in ids and "nan_inf" not in ids and "grad_explosion" in ids
    with pytest.raises(TrainlensError, match="unknown rule 'kl_spke'"):
        rules.select(["kl_spke"])
    for patterns in ((["nosuch*"], []), ([], ["nosuch*"]), (["kl_*", "x?z"], [])):
        with pytest.raises(TrainlensError, match="no rule matches"):
            rules.select(*patterns)


def test_render_message_both_languages_and_missing_numbers() -> None:
    spec = load_rules().get("kl_spike")
    f = Finding(
        rule="kl_spike",
        severity=Severity.ERROR,
        run="r",
        metric="kl",
        key="kl",
        start_step=10,
        end_step=10,
        peak_step=10,
        peak_value=19.6,
        baseline=None,
        params={"ratio": float("inf")},
    )
    en = render_message(f, spec, "en")
    assert en.startswith("KL reached 19.6 at step 10") and "—" in en
    zh = render_message(f, spec, "zh")
    assert "第 10 步 KL 升至 19.6" in zh
    assert render_message(f, spec, "fr") == en  # unknown language: English
