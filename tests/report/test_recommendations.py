"""Recommendations read the run's configuration and never suggest what the run already has."""

from __future__ import annotations

import pytest
import report_builders as b

from trainlens.findings import Finding, Severity
from trainlens.report.recommendations import (
    Advice,
    Cause,
    FindingAdvice,
    finding_advice,
    generic_advice,
    generic_causes,
)
from trainlens.report.settings import ADVISED, Settings, named_settings
from trainlens.report.targets import monitoring_targets
from trainlens.report.text import Text, Translator, catalog
from trainlens.settings import setting_specs

CHRONIC = 0.08  # a normal truncation level of 8%: the length limit is a real cause


def advice_for(tmp_path, args, rule="t_kl_spike", clipped=0.02):
    run = b.grpo_run(tmp_path, args, clipped=clipped)
    finding = next(f for f in b.findings(run) if f.rule == rule)
    fa = finding_advice(run, finding)
    t = Translator("en")
    return (
        {a.text.key: a.text.params for a in fa.advice},
        [t(a.text) for a in fa.advice],
        {c.text.key for c in fa.causes},
    )


def test_recommendations_follow_the_config(tmp_path):
    weak, weak_text, weak_causes = advice_for(tmp_path / "a", b.GRPO_ARGS)
    assert weak["advice.beta_raise"] == {"beta": "0.04"}
    assert weak["advice.lr_lower"] == {"lr": "5e-5", "new": "5e-6"}
    assert "advice.warmup_add" in weak and "advice.clip_set" in weak
    assert "`beta` is 0.04 → raise it to 0.1–0.2, or use an adaptive KL controller." in weak_text
    assert {"cause.beta_weak", "cause.lr_high_rl", "cause.no_clip"} <= weak_causes

    tuned = {
        **b.GRPO_ARGS,
        "beta": 0.2,
        "learning_rate": 1e-6,
        "warmup_ratio": 0.1,
        "max_grad_norm": 1.0,
    }
    strong, _, strong_causes = advice_for(tmp_path / "b", tuned)
    assert "advice.beta_raise" not in strong and "advice.warmup_add" not in strong
    assert "advice.clip_set" not in strong and "advice.clip_lower" not in strong
    assert strong["advice.lr_lower"] == {"lr": "1e-6", "new": "5e-7"}  # already low: halved
    assert "cause.beta_strong" in strong_causes and "cause.lr_high_rl" not in strong_causes

    loose, _, _ = advice_for(tmp_path / "c", {**tuned, "max_grad_norm": 5.0})
    assert loose["advice.clip_lower"] == {"clip": "5"}


def test_without_config_the_advice_says_what_to_check(tmp_path):
    params, _, _ = advice_for(tmp_path, {})
    assert "advice.beta_unknown" in params and "advice.clip_unknown" in params
    assert params["advice.lr_lower_logged"] == {"lr": "5e-5", "new": "5e-6"}  # from the logs


def test_truncation_advice_quotes_the_limit_and_the_ratio(tmp_path):
    params, _, _ = advice_for(tmp_path, b.GRPO_ARGS, rule="t_clipped", clipped=CHRONIC)
    assert params["advice.length_limit"] == {
        "limit": "512",
        "clipped": "0.875",
        "step": "150",
        "key": "max_completion_length",
    }
    masked, _, _ = advice_for(
        tmp_path / "m",
        {**b.GRPO_ARGS, "mask_truncated_completions": False},
        rule="t_clipped",
        clipped=CHRONIC,
    )
    assert masked["advice.mask_truncated"] == {"key": "mask_truncated_completions"}
    assert "advice.mask_truncated" not in params  # key absent from the config: not claimed
    assert "advice.mask_truncated_unset" in params  # ... but both switches are named


@pytest.mark.parametrize(
    "switch, value, expected",
    [
        ("overlong_filter", False, "advice.mask_truncated"),  # ms-swift
        ("mask_truncated_completions", False, "advice.mask_truncated"),  # TRL
        ("overlong_filter", True, "advice.length_penalty_masked"),
        ("mask_truncated_completions", True, "advice.length_penalty_masked"),
    ],
)
def test_both_frameworks_truncation_switches_are_read(tmp_path, switch, value, expected):
    params, text, _ = advice_for(
        tmp_path, {**b.GRPO_ARGS, switch: value}, rule="t_clipped", clipped=CHRONIC
    )
    assert params[expected] == {"key": switch}
    assert f"`{switch}`" in " ".join(text)
    other = {"advice.mask_truncated", "advice.length_penalty_masked", "advice.mask_truncated_unset"}
    assert set(params) & other == {expected}


def test_truncation_advice_never_says_to_lower_the_limit():
    """A lower limit truncates more completions: every length sentence points the other way,
    as the clipped_ratio_surge rule's own advice does ("Raise max_completion_length")."""
    from trainlens.engine.spec import load_rules

    own = load_rules([]).get("clipped_ratio_surge").advice["en"]
    assert any(item.startswith("Raise max_completion_length") for item in own)
    texts = catalog()
    for key in (
        "advice.length_limit",
        "advice.length_limit_noclip",
        "advice.length_limit_inferred",
        "advice.length_unknown",
    ):
        en, zh = texts[key]["en"], texts[key]["zh"]
        assert "raise" in en and "owering it would truncate" in en, key
        assert "→ lower" not in en and "lower the limit so" not in en, key
        assert "调大" in zh and "调低上限只会让更多回答被截断" in zh, key


def _extra(advice: tuple[str, ...] = (), causes: tuple[str, ...] = ()) -> FindingAdvice:
    return FindingAdvice(
        tuple(Cause(Text("cause.x"), s) for s in causes),
        tuple(Advice(Text("advice.x"), s, 10) for s in advice),
    )


GRAD_ADVICE = {
    "en": [
        "Find the batch at the spike step and check its lengths, labels and rewards.",
        "Make sure gradient clipping is on (max_grad_norm 1.0) and lower the learning rate.",
    ],
    "zh": ["找到尖峰那一步的批次。", "确认已开启梯度裁剪（max_grad_norm 1.0）；降低学习率。"],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    "config, kept",
    [
        ({"max_grad_norm": 1.0}, 1),  # already clipped at 1.0: not recommended again
        ({"max_grad_norm": 0.5}, 1),
        ({"max_grad_norm": 5.0}, 2),  # not what the advice asks: kept
        ({"max_grad_norm": 0}, 2),
        ({}, 2),  # unknown: kept
    ],
)
def test_rule_advice_about_a_setting_the_run_already_has_is_dropped(config, kept, lang):
    items = generic_advice(GRAD_ADVICE, lang, _extra(), Settings(config))
    assert items == GRAD_ADVICE[lang][:kept]


def test_settledness_is_decided_on_the_english_item_for_both_languages():
    texts = {
        "en": ["Raise the sampling temperature or the upper clip range.", "Read completions."],
        "zh": ["提高采样温度，或放宽裁剪上界。", "查看生成样本。"],  # 采样温度: no key spelled
    }
    for lang in ("en", "zh"):
        assert (
            generic_advice(texts, lang, _extra(), Settings({"temperature": 1.0})) == texts[lang][1:]
        )
        assert generic_advice(texts, lang, _extra(), Settings({"temperature": 0.7})) == texts[lang]
        assert (
            generic_advice(texts, lang, _extra(("temperature",)), Settings({})) == texts[lang][1:]
        )


@pytest.mark.parametrize(
    "setting, followed, not_followed",
    [
        ("max_grad_norm", {"max_grad_norm": 1.0}, {"max_grad_norm": 2.0}),
        ("beta", {"beta": 0.1}, {"beta": 0.04}),
        ("temperature", {"temperature": 1.0}, {"temperature": 0.6}),
        ("warmup_ratio", {"warmup_ratio": 0.05}, {"warmup_ratio": 0.0, "warmup_steps": 0}),
        ("warmup_steps", {"warmup_steps": 50}, {"warmup_ratio": 0.0, "warmup_steps": 0}),
        ("mask_truncated_completions", {"overlong_filter": True}, {"overlong_filter": False}),
        ("load_best_model_at_end", {"load_best_model_at_end": True}, {}),
        ("epsilon_high", {"epsilon_high": 0.28}, {"epsilon_high": 0.2}),
        ("bf16", {"bf16": True}, {"bf16": False}),
        ("fp16", {"fp16": False}, {"fp16": True}),
    ],
)
def test_every_advised_setting_has_a_checkable_condition(setting, followed, not_followed):
    check = ADVISED[setting].followed
    assert check(Settings(followed)) is True
    assert check(Settings(not_followed)) is not True
    assert setting in named_settings(f"set {setting_specs()[setting].prose_names[0]} as advised")
    assert set(ADVISED) <= set(setting_specs())


def test_setting_names_are_whole_words():
    assert named_settings("raise beta; keep max_grad_norm at 1.0") == {"beta", "max_grad_norm"}
    assert named_settings("调大 beta，max_grad_norm 保持在 1.0") == {"beta", "max_grad_norm"}
    assert named_settings("adam_beta1 and beta_schedule") == set()
    assert named_settings("lower the learning rate") == set()  # plain words: causes only
    assert named_settings("learning rate too high", terms=True) == {"learning_rate"}


KL_CAUSES = {
    "en": [
        "learning rate too high for the model size and batch size",
        "beta too small to hold the policy near the reference",
        "an update that moved the policy too far (learning rate, beta, clipping)",
    ],
    "zh": ["学习率偏大", "beta 太小", "某次更新让策略移动过远（学习率、beta、裁剪设置）"],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rule_causes_restated_with_the_runs_values_are_dropped(lang):
    zh_or_en = KL_CAUSES[lang]
    # "The KL penalty is weak (beta 0.04)" was said: "beta too small" is not said again
    assert generic_causes(KL_CAUSES, lang, _extra(causes=("beta",))) == [
        zh_or_en[0],
        zh_or_en[2],  # also names the learning rate: still informative
    ]
    both = _extra(causes=("beta", "learning_rate"))
    assert generic_causes(KL_CAUSES, lang, both) == []
    assert generic_causes(KL_CAUSES, lang, _extra()) == zh_or_en  # nothing said: all kept
    # a config-aware recommendation is no cause: it does not remove a cause
    assert generic_causes(KL_CAUSES, lang, _extra(advice=("beta",))) == zh_or_en


def test_a_cause_about_the_runs_own_setting_is_kept():
    """Advised values settle advice, not causes: bf16 precision loss is a cause in a bf16 run."""
    causes = {"en": ["fp16 overflow or bf16 precision loss"], "zh": ["fp16 溢出或 bf16 精度损失"]}
    advice = {"en": ["Consider bf16 instead of fp16."], "zh": ["可考虑用 bf16 替代 fp16。"]}
    config = {"bf16": True, "fp16": False}
    assert generic_causes(causes, "en", _extra()) == causes["en"]
    assert generic_advice(advice, "zh", _extra(), Settings(config)) == []
    assert (
        generic_advice(advice, "zh", _extra(), Settings({"bf16": False, "fp16": True}))
        == advice["zh"]
    )


def _degradation_advice(run):
    finding = next(f for f in b.findings(run) if f.rule == "t_degrade")  # best 100, onset 200
    return {a.text.key: a.text.params for a in finding_advice(run, finding).advice}


def test_degradation_points_at_a_checkpoint_or_at_save_steps(tmp_path):
    run = b.grpo_run(tmp_path)
    assert "advice.checkpoint_unseen" in _degradation_advice(run)  # no checkpoint folders
    (run.path / "checkpoint-300").mkdir()  # only one after the decline
    keys = _degradation_advice(b.load_runs(run.path).runs[0])
    assert keys["advice.checkpoint_save_more"] == {
        "metric": "reward",
        "best": "1.41",
        "best_step": "100",
        "onset": "200",
        "save": "100",
        "new": "25",
    }
    (run.path / "checkpoint-100").mkdir()
    keys = _degradation_advice(b.load_runs(run.path).runs[0])
    assert keys["advice.checkpoint_use"]["checkpoint"] == "checkpoint-100"


@pytest.mark.parametrize(
    "setting, value",
    [
        ("beta", 0.2),
        ("warmup_ratio", 0.1),
        ("max_grad_norm", 1.0),
        ("temperature", 1.0),
    ],
)
def test_never_recommends_the_current_setting(tmp_path, setting, value):
    run = b.grpo_run(tmp_path, {**b.GRPO_ARGS, setting: value})
    for finding in b.findings(run):
        for item in finding_advice(run, finding).advice:
            assert item.setting != setting, (finding.rule, item.text.key)


def test_targets_carry_numbers(tmp_path):
    run = b.grpo_run(tmp_path)
    targets = {t.metric: t for t in monitoring_targets(run, b.findings(run))}
    t = Translator("en")
    assert t(targets["kl"].target) == "KL < 5 throughout, with no sudden jumps."
    assert t(targets["clipped_ratio"].target) == "clipped_ratio < 0.05."
    assert t(targets["kl"].observed) == "19.6 at step 150"


def _entropy_advice(tmp_path, args):
    run = b.grpo_run(tmp_path, args)
    fall = Finding(
        "t_entropy",
        Severity.WARNING,
        run.name,
        "entropy",
        "entropy",
        100,
        200,
        peak_step=150,
        peak_value=0.05,
        baseline=0.8,
    )
    return {a.text.key: a for a in finding_advice(run, fall).advice}


def test_entropy_advice_when_the_temperature_is_already_1(tmp_path):
    cold = _entropy_advice(tmp_path / "a", {**b.GRPO_ARGS, "temperature": 0.7})
    assert "advice.temperature_raise" in cold and "advice.clip_higher" not in cold
    warm = _entropy_advice(tmp_path / "b", b.GRPO_ARGS)  # temperature 1.0: clip-higher instead
    assert warm["advice.clip_higher"].text.params == {"t": "1", "high": "0.28"}
    assert "advice.temperature_raise" not in warm
    done = _entropy_advice(tmp_path / "c", {**b.GRPO_ARGS, "epsilon_high": 0.28})
    assert "advice.clip_higher" not in done and "advice.temperature_raise" not in done


@pytest.fixture(scope="module")
def kl_episodes():
    """The reviewer's case: examples/grpo_kl_episodes (ms-swift, max_grad_norm 1.0, beta 0.04,
    max_completion_length 512, overlong_filter false)."""
    from pathlib import Path

    from trainlens.analysis import analyze
    from trainlens.render.markdown import render_markdown

    root = Path(__file__).resolve().parents[2] / "examples" / "grpo_kl_episodes"
    result = analyze(root)
    return {
        lang: render_markdown(result, lang=lang, charts=False, date="2026-01-01")
        for lang in ("en", "zh")
    }


def _section(text: str, title: str) -> str:
    return text.split(title, 1)[1].split("\n#### ", 1)[0]


def test_example_advice_agrees_with_its_config(kl_episodes):
    en, zh = kl_episodes["en"], kl_episodes["zh"]
    grad = _section(en, "#### 🚨 3. Gradient explosion")
    assert "max_grad_norm 1.0" not in grad  # the run already clips at 1.0
    assert "(max_grad_norm 1.0)" not in _section(zh, "#### 🚨 3. 梯度爆炸")
    assert "grad_norm is logged before clipping at 1" in grad  # said with the run's value
    assert "→ lower it" not in en and "调低，或" not in zh  # lowering the limit truncates more
    # truncation is 2.3% normally: the 0.875 is a one-step consequence, no length-limit advice
    assert "`max_completion_length` is 512 and clipped_ratio reached 0.875" not in en
    assert "Completions run into the 512-token limit" not in en
    assert "`overlong_filter` is false → set it to true" not in en
    assert "`overlong_filter` 为 false → 设为 true" not in zh
    assert "resume from checkpoint-2000" in en  # the checkpoint before the first spike, named
    kl = _section(en, "#### 🚨 2. KL divergence spike")
    assert "The KL penalty is weak (`beta` 0.04)" in kl
    assert "beta too small" not in kl  # the same cause, once
    truncation = _section(en, "#### ⚠️ 5. Truncated completions surge")
    assert "max_completion_length too small for the task" not in truncation


def test_target_quotes_the_worst_occurrence_not_an_episode(tmp_path):
    from trainlens.report.model import rank_key

    run = b.grpo_run(tmp_path)

    def grad(start: int, peak: float, members: tuple[str, ...] = ()) -> Finding:
        rule = "t_episode" if members else "t_grad_spike"
        return Finding(
            rule,
            Severity.ERROR,
            run.name,
            "grad_norm",
            "grad_norm",
            start,
            start,
            peak_step=start,
            peak_value=peak,
            baseline=0.4,
            members=members,
        )

    episode = grad(100, 8.93, ("t_grad_spike@grad_norm", "t_clipped@clipped_ratio"))
    found = sorted([grad(150, 6.12), grad(250, 10.7), episode], key=rank_key)
    assert found[0] is episode  # ranked first, as in the report
    target = next(t for t in monitoring_targets(run, found) if t.metric == "grad_norm")
    assert Translator("en")(target.observed) == "10.7 at step 250"


def test_a_one_step_truncation_surge_gets_no_length_limit_advice(tmp_path):
    """2% truncated normally, 87.5% at the one bad step: a consequence, not the cause."""
    params, text, causes = advice_for(tmp_path, b.GRPO_ARGS, rule="t_clipped")
    assert not {"advice.length_limit", "advice.mask_truncated_unset"} & set(params)
    assert "cause.length_limit" not in causes


def test_chronic_truncation_gets_the_length_advice_too(tmp_path):
    run = b.grpo_run(tmp_path, clipped=CHRONIC)
    chronic = Finding(
        "t_clipped",
        Severity.ERROR,
        run.name,
        "clipped_ratio",
        "completions/clipped_ratio",
        1,
        300,
        peak_step=150,
        peak_value=0.875,
    )  # the whole run: nothing to rise from
    keys = {a.text.key for a in finding_advice(run, chronic).advice}
    assert "advice.length_limit" in keys and "advice.mask_truncated_unset" in keys


def test_a_dip_of_the_gradient_norm_is_no_level_to_move_away_from(tmp_path):
    run = b.grpo_run(tmp_path)
    dip = Finding(
        "t_grad_dip",
        Severity.INFO,
        run.name,
        "grad_norm",
        "grad_norm",
        100,
        100,
        peak_step=100,
        peak_value=1e-4,
        baseline=0.4,
    )
    target = monitoring_targets(run, [dip])[0]
    assert Translator("en")(target.target) == "No `t_grad_dip` finding."
