"""Rule loading: the built-in catalogue, validation errors naming the file, overrides, messages."""

from __future__ import annotations

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
    ],
)
def test_invalid_rules_name_their_file(tmp_path: Path, change: dict, fragment: str) -> None:
    doc = good_rule(**change)
    path = write(tmp_path, doc, name=doc["id"] if doc["id"] == "my_rule" else "my_rule")
    with pytest.raises(TrainlensError) as err:
        load_rules([tmp_path])
    assert str(path) in err.value.message
    assert fragment in err.value.message


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
    assert [s.id for s in rules.select(["kl_*"])] == ["kl_spike", "kl_stuck_zero"]
    ids = [s.id for s in rules.select((), ["kl_*", "nan_inf"])]
    assert "kl_spike" not in ids and "nan_inf" not in ids and "grad_explosion" in ids
    with pytest.raises(TrainlensError, match="unknown rule 'kl_spke'"):
        rules.select(["kl_spke"])


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
