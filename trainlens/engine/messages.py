"""Why a rule was not checked, in every language (detectors and the engine give a code)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainlens.findings import Skipped

SKIP_REASONS: dict[str, dict[str, str]] = {
    "not_logged": {
        "en": "not logged: {metrics}",
        "zh": "未记录：{metrics}",
    },
    "kl_beta_zero": {
        "en": "kl not logged: the run config turns the KL penalty off ({how}), nothing to check",
        "zh": "未记录 kl：运行配置关闭了 KL 惩罚（{how}），无需检查",
    },
    "kl_off": {
        "en": "the run config turns the KL penalty off: a KL of 0 is expected",
        "zh": "运行配置关闭了 KL 惩罚：KL 为 0 属正常",
    },
    "kl_absent_rl": {
        "en": "kl not logged (normal when the KL penalty is off: {how})",
        "zh": "未记录 kl（关闭 KL 惩罚时属正常：{how}）",
    },
    "negative_loss": {
        "en": "{key} goes negative (a policy-gradient surrogate loss): its size says nothing "
        "about stability",
        "zh": "{key} 会变为负数（策略梯度的替代目标），其大小与训练稳定性无关",
    },
    "direction_unknown": {
        "en": "{key}: whether higher or lower is better is unknown (set its direction in the "
        "alias table)",
        "zh": "{key}：不知道该指标越高越好还是越低越好（请在别名表中设置 direction）",
    },
    "needs_inputs": {
        "en": "{key}: needs {needs}",
        "zh": "{key}：需要 {needs}",
    },
}


_GLOB = frozenset("*?[")


def describe_selector(selector: str, lang: str = "en") -> str:
    """A rule's metric selector in words: ``grad_norm|critic_grad_norm|*grad*norm*`` becomes
    "grad_norm or critic_grad_norm or a *grad*norm* key" (zh: "grad_norm、critic_grad_norm 或
    匹配 *grad*norm* 的指标")."""
    parts = []
    for alt in (a.strip() for a in selector.split("|")):
        if not alt:
            continue
        if _GLOB & set(alt):
            alt = f"匹配 {alt} 的指标" if lang == "zh" else f"a {alt} key"
        parts.append(alt)
    if lang == "zh":
        if len(parts) == 1:
            return parts[0]
        head, last = "、".join(parts[:-1]), parts[-1]
        # a space only between Latin text and 或, none before or after Chinese
        return (
            f"{head}{' ' if head[-1].isascii() else ''}或{' ' if last[0].isascii() else ''}{last}"
        )
    return " or ".join(parts)


def describe_selectors(selectors: Sequence[str], lang: str = "en") -> str:
    """Several selectors in words, joined per language."""
    sep = (
        "；"
        if lang == "zh" and any("|" in s for s in selectors)
        else ("、" if lang == "zh" else ", ")
    )
    return sep.join(describe_selector(s, lang) for s in selectors)


def _localized(params: Mapping[str, Any], lang: str) -> dict[str, Any]:
    out = dict(params)
    selectors = params.get("selectors")
    if isinstance(selectors, (list, tuple)) and selectors:
        out["metrics"] = describe_selectors([str(s) for s in selectors], lang)
    return out


def skip_text(skipped: Skipped, lang: str) -> str:
    """A skip reason in ``lang`` (its English ``reason`` when the code is unknown)."""
    template = SKIP_REASONS.get(skipped.code, {}).get(lang)
    if template is None:
        return skipped.reason
    try:
        return template.format(**_localized(skipped.params, lang))
    except (KeyError, IndexError, ValueError):
        return skipped.reason


def make_skipped(rule: str, run: str, code: str, **params: Any) -> Skipped:
    """A Skipped record whose English ``reason`` comes from :data:`SKIP_REASONS`."""
    if code in SKIP_REASONS:
        reason = SKIP_REASONS[code]["en"].format(**_localized(params, "en"))
    else:  # a user detector's free-text reason
        reason = f"{params['key']}: {code}" if "key" in params else code
    return Skipped(rule, run, reason, code, dict(params))
