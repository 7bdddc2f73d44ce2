"""Evaluation: metric resolution, skips with visible reasons, crashes as warnings, evidence
tables, the episode pass, sorting, and the ``analyze`` entry point."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from logwriters import write_swift_run
from rulecases import at, grpo, make

from trainlens.analysis import analyze, analyze_runs
from trainlens.config import ProjectConfig
from trainlens.engine.evaluate import expand
from trainlens.engine.memory import run_from_series
from trainlens.engine.registry import DETECTORS
from trainlens.engine.spec import load_rules
from trainlens.findings import Severity

RULES = load_rules()


def test_expand_canonical_raw_and_globs() -> None:
    run = make(grpo(50))
    assert expand(run, "kl") == [("kl", "kl")]
    assert expand(run, "rewards/Format/mean") == [("reward/format", "rewards/Format/mean")]
    assert sorted(m for m, _ in expand(run, "reward/*")) == ["reward/accuracy", "reward/format"]
    assert len(expand(run, "*")) == len(run.keys)
    assert expand(run, "nothing_like_it") == []


def test_absent_metric_is_skipped_visibly_with_the_beta_reason() -> None:
    s = {k: v for k, v in grpo(100).items() if k != "kl"}
    plain = analyze_runs([make(s)], rules=RULES, select=["kl_spike"])
    assert [(x.rule, x.code) for x in plain.skipped] == [("kl_spike", "kl_absent_rl")]
    beta0 = analyze_runs([make(s, config={"beta": 0.0})], rules=RULES, select=["kl_*"])
    assert {x.code for x in beta0.skipped} == {"kl_beta_zero"}
    assert "(beta: 0)" in beta0.skipped[0].reason
    verl_off = {
        "actor_rollout_ref": {"actor": {"use_kl_loss": False, "kl_loss_coef": 0.001}},
        "algorithm": {"use_kl_in_reward": False},
    }
    verl = analyze_runs([make(s, config=verl_off)], rules=RULES, select=["kl_spike"])
    assert [x.code for x in verl.skipped] == ["kl_beta_zero"]
    assert "use_kl_loss: false" in verl.skipped[0].reason and "beta" not in verl.skipped[0].reason
    assert "TRL" not in verl.skipped[0].reason
    sft_like = analyze_runs(
        [make({"loss": (np.arange(10), np.ones(10))})],
        rules=RULES,
        select=["kl_spike", "score_collapse"],
    )
    reasons = {x.rule: x.reason for x in sft_like.skipped}
    assert reasons == {
        "kl_spike": "not logged: kl",
        "score_collapse": "not logged: student_score, teacher_score",
    }


def test_a_crashing_detector_becomes_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> list:
        raise ZeroDivisionError("bad luck")

    name = RULES.get("kl_spike").detector  # the detector kl_spike runs
    monkeypatch.setitem(DETECTORS, name, replace(DETECTORS[name], fn=boom))
    analysis = analyze_runs(
        [make(at(grpo(200), "completions/mean_length", (1, 200), 1.0))],
        rules=RULES,
        select=["kl_spike", "degenerate_generation"],
    )
    assert [w.source for w in analysis.warnings] == ["rule kl_spike"]
    assert "ZeroDivisionError: bad luck" in analysis.warnings[0].message
    assert [f.rule for f in analysis.findings] == ["degenerate_generation"]


def test_evidence_rows_are_few_and_changes_are_point_to_point() -> None:
    run = make(at(grpo(600), "kl", [300], 19.6))
    f = analyze_runs([run], rules=RULES, select=["kl_spike"]).findings[0]
    steps = [e.step for e in f.evidence]
    assert steps == [298, 299, 300, 301]
    kl = dict(zip(*run.arrays("kl")))
    assert f.evidence[2].change == pytest.approx(19.6 - kl[299])
    long = make(at(grpo(600), "completions/mean_length", (100, 600), 1.0))
    g = analyze_runs([long], rules=RULES, select=["degenerate_generation"]).findings[0]
    assert 6 <= len(g.evidence) <= 12 and g.evidence[0].step < 100 < g.evidence[-1].step


def test_nan_values_only_reach_the_nan_rule() -> None:
    run = make(at(grpo(300), "grad_norm", (100, 102), np.nan))
    analysis = analyze_runs([run], rules=RULES)
    assert [f.rule for f in analysis.findings] == ["nan_inf"]
    f = analysis.findings[0]
    assert (f.metric, f.start_step, f.end_step, f.params["nan_count"]) == ("grad_norm", 100, 102, 3)


def test_episode_groups_families_within_the_window_cause_first() -> None:
    s = grpo(600, every=5)
    s = at(s, "kl", [300], 15.0)
    s = at(s, "completions/clipped_ratio", [305], 0.7)
    s = at(s, "rewards/Format/mean", [310, 315], [0.1, 0.3])
    s = at(s, "grad_norm", [500], 30.0, mode="mul")  # alone, far away: no episode
    analysis = analyze_runs([make(s)], rules=RULES)
    episodes = [f for f in analysis.findings if f.rule == "instability_episode"]
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep.members == (
        "kl_spike@kl",
        "clipped_ratio_surge@clipped_ratio",
        "reward_collapse@reward/format",
    )
    # the episode's window covers its members' windows; its peak lies inside
    assert (ep.start_step, ep.end_step) == (300, 315)
    members = [
        f for f in analysis.findings if f.rule != "instability_episode" and f.start_step < 400
    ]
    assert ep.start_step == min(f.start_step for f in members)
    assert ep.end_step == max(f.end_step for f in members)
    assert ep.start_step <= ep.peak_step <= ep.end_step
    assert "within steps 300–315" in analysis.message(ep)
    assert [e.metric for e in ep.evidence] == ["kl", "clipped_ratio", "reward/format"]
    # one row per member: its start step (inside the episode's range) and its value there
    assert [(e.step, e.value) for e in ep.evidence] == [(300, 15.0), (305, 0.7), (310, 0.1)]
    assert "kl → clipped_ratio → reward/format" in analysis.message(ep)
    # a narrower window splits them
    narrow = load_rules(overrides={"instability_episode": {"window": 4, "points": 0}})
    assert not [
        f for f in analyze_runs([make(s)], rules=narrow).findings if f.rule == "instability_episode"
    ]


def test_episode_of_members_starting_together_says_so() -> None:
    s = grpo(600, every=5)
    s = at(s, "kl", [300], 15.0)
    s = at(s, "completions/clipped_ratio", [300, 305, 310], 0.7)
    analysis = analyze_runs([make(s)], rules=RULES)
    (ep,) = [f for f in analysis.findings if f.rule == "instability_episode"]
    assert ep.start_step == 300 and ep.end_step >= 310
    assert ep.params["together"] is True
    en = analysis.message(ep)
    assert "at step 300 together: kl, clipped_ratio (likely cause first)" in en
    assert "→" not in en
    assert "第 300 步同时出现 2 个异常" in analysis.message(ep, "zh")


def test_findings_sorted_by_run_then_severity_then_step() -> None:
    a = make(at(grpo(300), "completions/clipped_ratio", [100], 0.8), name="a")
    b = make(at(at(grpo(300), "kl", [250], 19.0), "completions/clipped_ratio", [50], 0.8), name="b")
    analysis = analyze_runs([b, a], rules=RULES, select=["kl_spike", "clipped_ratio_surge"])
    keys = [(f.run, f.severity, f.start_step) for f in analysis.findings]
    assert keys == [
        ("b", Severity.ERROR, 250),
        ("b", Severity.WARNING, 50),
        ("a", Severity.WARNING, 100),
    ]
    assert analysis.counts() == {"info": 0, "warning": 2, "error": 1}


def test_run_restart_is_info_from_run_metadata() -> None:
    from trainlens.run import Restart

    run = run_from_series(grpo(100), restarts=[Restart(40, 60, "x.jsonl", 21)])
    f = analyze_runs([run], rules=RULES, select=["run_restart"]).findings[0]
    assert f.severity is Severity.INFO and (f.start_step, f.end_step) == (40, 60)
    assert "21 logged step(s) were logged again" in analyze_runs(
        [run], rules=RULES, select=["run_restart"]
    ).message(f)


def test_restarts_flood_becomes_one_summary_and_duplicates_count_once() -> None:
    from trainlens.run import Restart

    jumps = [Restart(s, s + 2, "x.jsonl", 2) for s in range(3, 160, 3)]
    run = run_from_series(grpo(200), restarts=[*jumps, *jumps[:5]])
    analysis = analyze_runs([run], rules=RULES, select=["run_restart"])
    (f,) = analysis.findings
    assert f.severity is Severity.INFO and f.params["n_restarts"] == 53
    assert analysis.message(f).startswith(
        "the log went back 53 times between steps 3 and 161 (at steps 3, 6, 9, 12, 15, 18, 21, "
        "24, 27, 30, …): 106 logged step(s) were logged again in all"
    )
    assert "回退了 53 次" in analysis.message(f, "zh")
    few = run_from_series(grpo(200), restarts=[*jumps[:2], jumps[0]])
    assert len(analyze_runs([few], rules=RULES, select=["run_restart"]).findings) == 2


def test_analyze_path_with_config_params_and_user_rules(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [
        (
            s,
            {
                "loss": float(rng.normal(0.0, 0.01)),
                "kl": 0.05 + 0.001 * s,
                "grad_norm": float(np.exp(rng.normal(np.log(0.4), 0.2))),
            },
        )
        for s in range(1, 101)
    ]
    rows[59][1]["kl"] = 7.0  # below the default limit of 10, a robust spike anyway
    run_dir = write_swift_run(tmp_path / "run", rows, 100, args={"beta": 0.04})
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    doc = yaml.safe_load((Path(load_rules().get("kl_spike").path)).read_text("utf-8"))
    doc.update(id="kl_over_5", params={"limit": 5.0, "factor": 1000.0})
    (rules_dir / "kl_over_5.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    cfg = ProjectConfig(
        rule_params={"kl_spike": {"factor": 1000.0, "limit": 100.0}},
        rules_dirs=[rules_dir],
        ignore=["nan_inf"],
    )
    analysis = analyze(run_dir, config=cfg, select=["kl_*"])
    assert [f.rule for f in analysis.findings] == ["kl_over_5"]  # the override silenced kl_spike
    assert "nan_inf" not in analysis.selected
    again = analyze(run_dir, config=cfg, params={"kl_spike": {"factor": 5.0}}, select=["kl_spike"])
    assert [f.start_step for f in again.findings] == [60]
