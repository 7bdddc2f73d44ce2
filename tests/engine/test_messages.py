"""Skip reasons: every code the engine emits is said in both languages, alike."""

from __future__ import annotations

import re
from pathlib import Path

from trainlens.engine.messages import SKIP_REASONS, describe_selector, make_skipped, skip_text

ENGINE = Path(__file__).resolve().parents[2] / "trainlens" / "engine"


def test_every_emitted_skip_code_has_both_languages() -> None:
    emitted = set()
    for path in ENGINE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'NotApplicable\(\s*"([a-z_]+)"', text))
        emitted |= set(re.findall(r'make_skipped\([^)]*?"([a-z_]+)"', text))
    assert emitted and emitted <= set(SKIP_REASONS)
    for code, texts in SKIP_REASONS.items():
        assert set(texts) == {"en", "zh"}, code
        en = set(re.findall(r"{(\w+)}", texts["en"]))
        assert en == set(re.findall(r"{(\w+)}", texts["zh"])), code


def test_not_logged_names_the_same_metrics_in_both_languages() -> None:
    s = make_skipped("overfit_onset", "r", "not_logged", selectors=("eval_score", "eval_loss"))
    assert s.reason == "not logged: eval_score, eval_loss"
    assert skip_text(s, "en") == s.reason
    assert skip_text(s, "zh") == "未记录：eval_score、eval_loss"
    neg = make_skipped("loss_spike", "r", "negative_loss", key="loss")
    assert "策略梯度" in skip_text(neg, "zh") and "policy-gradient" not in skip_text(neg, "zh")


def test_selector_alternatives_and_globs_in_words() -> None:
    sel = "grad_norm|critic_grad_norm|*grad*norm*"
    assert describe_selector(sel, "en") == "grad_norm or critic_grad_norm or a *grad*norm* key"
    assert describe_selector(sel, "zh") == "grad_norm、critic_grad_norm 或匹配 *grad*norm* 的指标"
    s = make_skipped("grad_explosion", "r", "not_logged", selectors=(sel,))
    assert "|" not in s.reason and "|" not in skip_text(s, "zh")
