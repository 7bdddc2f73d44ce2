"""Why a rule was not checked, in every language (detectors and the engine give a code)."""

from __future__ import annotations

from typing import Any

from trainlens.findings import Skipped

SKIP_REASONS: dict[str, dict[str, str]] = {
    "not_logged": {
        "en": "not logged: {metrics}",
        "zh": "未记录：{metrics}",
    },
    "kl_beta_zero": {
        "en": "kl not logged: the run config has beta = 0 (no KL penalty), nothing to check",
        "zh": "未记录 kl：运行配置中 beta = 0（未启用 KL 惩罚），无需检查",
    },
    "kl_off": {
        "en": "the run config has beta = 0 (no KL penalty): a KL of 0 is expected",
        "zh": "运行配置中 beta = 0（未启用 KL 惩罚）：KL 为 0 属正常",
    },
    "kl_absent_rl": {
        "en": "kl not logged (normal when the KL penalty is off: beta = 0, TRL's default)",
        "zh": "未记录 kl（关闭 KL 惩罚时属正常：beta = 0，即 TRL 的默认值）",
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


def skip_text(skipped: Skipped, lang: str) -> str:
    """A skip reason in ``lang`` (its English ``reason`` when the code is unknown)."""
    template = SKIP_REASONS.get(skipped.code, {}).get(lang)
    if template is None:
        return skipped.reason
    try:
        return template.format(**skipped.params)
    except (KeyError, IndexError, ValueError):
        return skipped.reason


def make_skipped(rule: str, run: str, code: str, **params: Any) -> Skipped:
    """A Skipped record whose English ``reason`` comes from :data:`SKIP_REASONS`."""
    if code in SKIP_REASONS:
        reason = SKIP_REASONS[code]["en"].format(**params)
    else:  # a user detector's free-text reason
        reason = f"{params['key']}: {code}" if "key" in params else code
    return Skipped(rule, run, reason, code, dict(params))
