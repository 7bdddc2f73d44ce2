"""A rule's causes ordered by this run's evidence (``rules/cause_evidence.yaml``).

A rule lists its causes as prose, most likely first in general. Some of them can be checked on
the run: one isolated spike speaks against "learning rate too high" and for "an outlier batch";
a spike below the clipping threshold was never clipped; "identical rewards in every group" is
contradicted when ``frac_reward_zero_std`` was 0.2–0.4 at those steps; "overfitting (SFT,
multi-epoch DPO)" does not fit an RL run. The report puts supported causes first, keeps the
ones the run cannot judge in their order, and puts contradicted ones last, marked unlikely with
the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import yaml

from trainlens.findings import Finding
from trainlens.report.checks import OPS, Observation, Text, setting_check
from trainlens.report.fmt import num
from trainlens.resources import rules_dir
from trainlens.run import Run

EVIDENCE_FILE = "cause_evidence.yaml"
_KINDS = ("isolated", "repeated", "below_clip", "rl", "llm", "finding", "setting", "metric")
#: Frameworks that train language models (a custom RL loop is none of them).
LLM_FRAMEWORKS = frozenset({"trl", "ms-swift", "verl", "openrlhf", "llama-factory", "hf-trainer"})
_LLM_METRICS = ("response_length", "completion", "num_tokens", "token")


@dataclass(frozen=True)
class CauseCheck:
    kind: str
    args: Mapping[str, Any]
    supports: bool


@dataclass(frozen=True)
class CauseEvidence:
    """The checks of one cause (or advice item, ``advice``) of a rule, found by a piece of
    its English text."""

    cause: str
    checks: tuple[CauseCheck, ...]
    advice: bool = False


def _check(raw: Mapping[str, Any]) -> CauseCheck:
    (direction, body), *rest = raw.items()
    kind = next((k for k in _KINDS if isinstance(body, dict) and k in body), None)
    if rest or direction not in ("supports", "against") or kind is None:
        raise ValueError(f"{EVIDENCE_FILE}: bad check {raw!r}")
    return CauseCheck(kind, body, direction == "supports")


@cache
def cause_table() -> dict[str, tuple[CauseEvidence, ...]]:
    """rule id → the evidence of its causes."""
    raw = yaml.safe_load((rules_dir() / EVIDENCE_FILE).read_text(encoding="utf-8")) or {}
    return {
        rule: tuple(
            CauseEvidence(
                e.get("cause") or e["advice"],
                tuple(_check(c) for c in e.get("checks") or ()),
                advice="advice" in e,
            )
            for e in entries
        )
        for rule, entries in raw.items()
    }


class _Facts:
    """What the checks read about one finding of one run."""

    def __init__(
        self, run: Run, occurrences: Sequence[Finding], others: Sequence[Finding] = ()
    ) -> None:
        self.run = run
        self.others = list(others)
        self.occurrences = list(occurrences)
        self.primary = max(
            self.occurrences,
            key=lambda f: abs(f.peak_value) if f.peak_value is not None else 0.0,
        )

    def steps(self) -> list[tuple[int, int]]:
        return [(f.start_step, f.end_step) for f in self.occurrences]

    def points_of(self, f: Finding) -> int:
        arrays = self.run.key_arrays(f.key)
        if arrays is None:
            return 0
        steps = arrays[0]
        return int(((steps >= f.start_step) & (steps <= f.end_step)).sum())


def _isolated(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    f = facts.primary
    holds = len(facts.occurrences) == 1 and facts.points_of(f) <= 2
    if holds:
        return True, {
            "en": f"a single spike (step {f.start_step})",
            "zh": f"只有一次尖峰（第 {f.start_step} 步）",
        }
    n = len(facts.occurrences)
    return False, {"en": f"{n} occurrences", "zh": f"共出现 {n} 次"}


def _repeated(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    n = len(facts.occurrences)
    return n >= int(args["repeated"]), {"en": f"fired {n} times", "zh": f"共触发 {n} 次"}


def _below_clip(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    settings = facts.run.meta.settings
    clip = settings.number("max_grad_norm")
    peak = facts.primary.peak_value
    if clip is None or clip <= 0 or peak is None:
        return None, {"en": "", "zh": ""}
    key = settings.key("max_grad_norm") or "max_grad_norm"
    if peak < clip:
        return True, {
            "en": f"the peak {num(peak)} stays below the clipping threshold ({key} = {num(clip)})",
            "zh": f"峰值 {num(peak)} 低于梯度裁剪阈值（{key} = {num(clip)}）",
        }
    return False, {
        "en": f"the peak {num(peak)} exceeds the clipping threshold ({key} = {num(clip)})",
        "zh": f"峰值 {num(peak)} 超过梯度裁剪阈值（{key} = {num(clip)}）",
    }


def is_rl_run(run: Run) -> bool:
    """Rewards, a KL or an RL config: an RL run."""
    names = run.canonical_names
    rewarded = any(n == "reward" or n.startswith("reward/") for n in names)
    return rewarded or "kl" in names or run.meta.settings.is_rl


def _rl(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    rl = is_rl_run(facts.run)
    text = (
        {"en": "an RL run (rewards / KL logged)", "zh": "这是强化学习运行（记录了奖励/KL）"}
        if rl
        else {"en": "not an RL run (no reward or KL)", "zh": "不是强化学习运行（没有奖励或 KL）"}
    )
    return rl == bool(args["rl"]), text


def is_llm_run(run: Run) -> bool:
    """A language-model run: an LLM framework, or completion/token metrics."""
    if (run.meta.framework or "") in LLM_FRAMEWORKS:
        return True
    return any(m in n for n in run.canonical_names for m in _LLM_METRICS)


def _llm(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    llm = is_llm_run(facts.run)
    text = (
        {"en": "a language-model run", "zh": "这是语言模型训练"}
        if llm
        else {
            "en": "not a language-model run (no completions, groups or tokens)",
            "zh": "不是语言模型训练（没有生成、分组或 token）",
        }
    )
    return llm == bool(args["llm"]), text


def _finding(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    rules = set(args["finding"])
    hit = next((f for f in facts.others if f.rule in rules), None)
    if hit is None:
        return False, {"en": "", "zh": ""}
    return True, {
        "en": f"{hit.rule} at step {hit.start_step}",
        "zh": f"第 {hit.start_step} 步出现 {hit.rule}",
    }


def _setting(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    holds, text = setting_check(facts.run.meta.settings, args)
    return holds, ({"en": "", "zh": ""} if holds is None else {"en": text, "zh": text})


def _metric(facts: _Facts, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    from trainlens.engine.evaluate import expand

    metric, stat, op, want = args["metric"], args.get("stat", "mean"), args["op"], args["value"]
    found = expand(facts.run, metric)
    arrays = facts.run.key_arrays(found[0][1]) if found else None
    if arrays is None:
        return None, {"en": "", "zh": ""}
    steps, values = arrays
    keep = np.zeros(len(steps), dtype=bool)
    for lo, hi in facts.steps():
        inside = (steps >= lo) & (steps <= hi)
        if not inside.any() and len(steps):  # not logged at that step: the nearest point
            inside = np.abs(steps - lo) == np.abs(steps - lo).min()
        keep |= inside
    keep &= np.isfinite(values)
    if not keep.any():
        return None, {"en": "", "zh": ""}
    lo_v, hi_v = float(values[keep].min()), float(values[keep].max())
    value = {"mean": float(values[keep].mean()), "min": lo_v, "max": hi_v}[stat]
    shown = num(lo_v) if lo_v == hi_v else f"{num(lo_v)}–{num(hi_v)}"
    return bool(OPS[op](value, want)), {
        "en": f"{metric} was {shown} at those steps",
        "zh": f"这些步的 {metric} 为 {shown}",
    }


_CHECKS: dict[str, Callable[[_Facts, Mapping[str, Any]], tuple[bool | None, Text]]] = {
    "isolated": _isolated,
    "repeated": _repeated,
    "below_clip": _below_clip,
    "rl": _rl,
    "llm": _llm,
    "finding": _finding,
    "setting": _setting,
    "metric": _metric,
}


def _seen(facts: _Facts, entry: CauseEvidence | None) -> list[Observation]:
    if entry is None:
        return []
    out = []
    for c in entry.checks:
        holds, text = _CHECKS[c.kind](facts, c.args)
        out.append(Observation(text, holds, c.supports))
    return out


_UNLIKELY = {"en": "unlikely", "zh": "可能性低"}
_SUPPORTED = {"en": "supported", "zh": "有证据支持"}


def fitting_advice(
    run: Run,
    rule: str,
    occurrences: Sequence[Finding],
    others: Sequence[Finding],
    items: Sequence[str],
    english: Sequence[str],
) -> list[str]:
    """``items`` (a rule's advice in some language, aligned with their ``english`` text) minus
    the ones this run's evidence speaks against (GRPO-group advice for a custom RL agent, more
    generations for completions that are one token long)."""
    entries = [e for e in cause_table().get(rule, ()) if e.advice]
    if not entries or len(items) != len(english):
        return list(items)
    facts = _Facts(run, occurrences, others)
    kept = []
    for item, probe in zip(items, english):
        entry = next((e for e in entries if e.cause.lower() in probe.lower()), None)
        if not any(s.verdict == "against" for s in _seen(facts, entry)):
            kept.append(item)
    return kept


def ranked_causes(
    run: Run,
    rule: str,
    occurrences: Sequence[Finding],
    items: Sequence[str],
    english: Sequence[str],
    lang: str,
    others: Sequence[Finding] = (),
) -> list[str]:
    """``items`` (a rule's causes in ``lang``, aligned with their ``english`` text) ordered by
    this run's evidence, each checked cause followed by what was seen."""
    entries = [e for e in cause_table().get(rule, ()) if not e.advice]
    if not entries or len(items) != len(english):
        return list(items)
    facts = _Facts(run, occurrences, others)
    scored = []
    for i, (item, probe) in enumerate(zip(items, english)):
        entry = next((e for e in entries if e.cause.lower() in probe.lower()), None)
        seen = [s for s in _seen(facts, entry) if s.verdict != "unknown" and s.text.get(lang)]
        against = [s for s in seen if s.verdict == "against"]
        support = sum(s.verdict == "for" for s in seen)
        if against:
            reasons = ("；" if lang == "zh" else "; ").join(s.text[lang] for s in against)
            text = (
                f"{item}（{_UNLIKELY[lang]}：{reasons}）"
                if lang == "zh"
                else (f"{item} ({_UNLIKELY[lang]}: {reasons})")
            )
            rank = 2
        elif support:
            reasons = ("；" if lang == "zh" else "; ").join(
                s.text[lang] for s in seen if s.verdict == "for"
            )
            text = (
                f"{item}（{_SUPPORTED[lang]}：{reasons}）"
                if lang == "zh"
                else (f"{item} ({_SUPPORTED[lang]}: {reasons})")
            )
            rank = 0
        else:
            text, rank = item, 1
        scored.append((rank, -support, i, text))
    return [text for *_, text in sorted(scored)]
