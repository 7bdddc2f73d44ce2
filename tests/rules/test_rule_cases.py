"""Every rule on both sides: quiet on realistic healthy runs, firing at the right steps on an
injected anomaly. The cases are data in ``rulecases.py``; one parametrised test runs them."""

from __future__ import annotations

import string

import pytest
from rulecases import CASES, Case, critic, grpo, grpo_noisy, make, ppo, sft

from trainlens.analysis import analyze_runs
from trainlens.engine.spec import LANGS, load_rules

RULES = load_rules()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_case(case: Case) -> None:
    run = case.build()
    analysis = analyze_runs([run], rules=RULES, select=[case.rule, *case.select])
    assert not analysis.warnings, analysis.warnings
    found = [f for f in analysis.findings if f.rule == case.rule]
    if case.healthy:
        assert not found, [analysis.message(f) for f in found]
        if case.skipped_code:
            codes = {s.code for s in analysis.skipped if s.rule == case.rule}
            assert codes == {case.skipped_code}
        return
    assert len(found) == len(case.fires), [analysis.message(f) for f in found]
    for f, (lo, hi) in zip(sorted(found, key=lambda f: f.start_step), case.fires):
        assert lo <= f.start_step <= hi, (f.start_step, analysis.message(f))
        assert f.evidence or f.rule == "run_restart"
        assert len(f.evidence) <= 12
        for lang in LANGS:
            text = analysis.message(f, lang)
            assert text and "{" not in text
    if case.peak is not None:
        assert min(found, key=lambda f: f.start_step).peak_step == case.peak
    if case.check:
        case.check(found)


def test_every_rule_has_both_kinds_of_case() -> None:
    kinds: dict[str, set[bool]] = {}
    for case in CASES:
        kinds.setdefault(case.rule, set()).add(case.healthy)
    series = [s.id for s in RULES.of_kind("series")]
    missing = {r: {True, False} - kinds.get(r, set()) for r in series}
    assert not {r: k for r, k in missing.items() if k}, "rules without healthy/anomaly cases"
    assert set(kinds) <= set(series)


@pytest.mark.parametrize("rule_id", RULES.ids)
def test_rule_texts_in_both_languages(rule_id: str) -> None:
    spec = RULES.get(rule_id)
    for lang in LANGS:
        for section in ("title", "summary", "message", "why"):
            assert spec.text(section, lang).strip()
        assert spec.text("causes", lang) and spec.text("advice", lang)
    for texts in (spec.message, *(t for _, t in spec.message_when)):
        placeholders = {p for _, p, _, _ in string.Formatter().parse(texts["en"]) if p}
        assert placeholders == {p for _, p, _, _ in string.Formatter().parse(texts["zh"]) if p}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.text("why", "zh"))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("base", ["grpo", "grpo5", "grpo_noisy", "sft", "critic", "ppo"])
def test_healthy_runs_raise_nothing(base: str, seed: int) -> None:
    """The false-alarm check: every rule, several seeds, no finding at all (info included)."""
    build = {
        "grpo": lambda: grpo(2000, seed=seed),
        "grpo5": lambda: grpo(6000, 5, seed),
        "grpo_noisy": lambda: grpo_noisy(seed=seed),
        "sft": lambda: sft(seed=seed),
        "critic": lambda: critic(seed=seed),
        "ppo": lambda: ppo(seed=seed),
    }[base]
    analysis = analyze_runs([make(build(), name=f"{base}-{seed}")], rules=RULES)
    assert not [analysis.message(f) for f in analysis.findings]
    assert not analysis.warnings


def test_grad_vanishing_from_the_first_step_quotes_no_earlier_level():
    import numpy as np

    from trainlens.analysis import analyze_runs
    from trainlens.engine.memory import run_from_series

    steps = np.arange(1, 61)
    run = run_from_series({"grad_norm": (steps, np.zeros(60))}, name="stuck")
    (finding,) = [f for f in analyze_runs([run]).findings if f.rule == "grad_vanishing"]
    assert finding.params["from_start"] is True
    analysis = analyze_runs([run])
    message = analysis.message(finding, "en")
    assert "from the first logged step" in message and "earlier level" not in message
