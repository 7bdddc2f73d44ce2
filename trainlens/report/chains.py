"""Causal chains: the run's findings that belong together explained as one diagnosis.

The known chains are data (``rules/chains.yaml``). A chain matches a run when its findings
cover the chain's required groups; its candidate root causes are then checked against this
run's evidence (which finding came first, config values from ``rules/settings.yaml``, other
series over the chain's steps) and ranked: the root the evidence supports most first, a root
the evidence contradicts marked unlikely with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import yaml

from trainlens.findings import Finding
from trainlens.report.checks import OPS, Observation, Text, setting_check
from trainlens.report.fmt import num
from trainlens.resources import rules_dir
from trainlens.run import Run

CHAINS_FILE = "chains.yaml"
_CHECK_KINDS = ("first", "before", "present", "setting", "metric")
_UNKNOWN = {"en": "not in the config", "zh": "配置中未给出"}


@dataclass(frozen=True)
class Check:
    """One piece of evidence about a root: ``supports`` it when it holds, or speaks
    ``against`` it when it holds."""

    kind: str
    args: Mapping[str, Any]
    supports: bool


@dataclass(frozen=True)
class RootSpec:
    id: str
    text: Text
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class ExperimentSpec:
    change: Text
    baseline: Text
    decide: Text
    setting: str | None = None
    skip_if: Check | None = None


@dataclass(frozen=True)
class ChainSpec:
    id: str
    title: Text
    story: Text
    members: tuple[str, ...]
    needs: tuple[tuple[str, ...], ...]
    min_members: int
    unless: tuple[str, ...]
    roots: tuple[RootSpec, ...]
    distinguish: Text
    experiments: tuple[ExperimentSpec, ...]


def _check(raw: Mapping[str, Any]) -> Check:
    (direction, body), *rest = raw.items()
    if rest or direction not in ("supports", "against") or not isinstance(body, dict):
        raise ValueError(f"{CHAINS_FILE}: a check is {{supports|against: {{...}}}}, not {raw!r}")
    kind = next((k for k in _CHECK_KINDS if k in body), None)
    if kind is None:
        raise ValueError(f"{CHAINS_FILE}: unknown check {body!r}")
    return Check(kind, body, direction == "supports")


def _setting_check(raw: Mapping[str, Any] | None) -> Check | None:
    return Check("setting", raw, True) if raw else None


@cache
def chain_specs() -> tuple[ChainSpec, ...]:
    """The built-in chains, in matching order."""
    raw = yaml.safe_load((rules_dir() / CHAINS_FILE).read_text(encoding="utf-8")) or []
    return tuple(
        ChainSpec(
            id=c["id"],
            title=c["title"],
            story=c["story"],
            members=tuple(c["members"]),
            needs=tuple(tuple(g) for g in c["needs"]),
            min_members=int(c.get("min_members", 2)),
            unless=tuple(c.get("unless") or ()),
            roots=tuple(
                RootSpec(r["id"], r["text"], tuple(_check(x) for x in r.get("checks") or ()))
                for r in c["roots"]
            ),
            distinguish=c["distinguish"],
            experiments=tuple(
                ExperimentSpec(
                    e["change"],
                    e["baseline"],
                    e["decide"],
                    e.get("setting"),
                    _setting_check(e.get("skip_if")),
                )
                for e in c.get("experiments") or ()
            ),
        )
        for c in raw
    )


#: A check's outcome on this run (``verdict``: for / against / unknown).
Evidence = Observation


@dataclass(frozen=True)
class RootView:
    spec: RootSpec
    evidence: tuple[Evidence, ...]

    @property
    def support(self) -> int:
        return sum(e.verdict == "for" for e in self.evidence)

    @property
    def unlikely(self) -> bool:
        """The run's evidence contradicts this root."""
        return any(e.verdict == "against" for e in self.evidence)


@dataclass(frozen=True)
class Experiment:
    change: Text
    baseline: Text
    decide: Text


@dataclass
class Diagnosis:
    """A matched chain: its findings in causal order and its roots ranked by evidence."""

    spec: ChainSpec
    run: Run
    members: list[Finding]  # the first finding of each member rule, in chain order
    roots: list[RootView]
    experiments: list[Experiment] = field(default_factory=list)

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.members}

    @property
    def root(self) -> RootView:
        return self.roots[0]

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The diagnosis for ``analyze --format json`` (texts in ``lang``)."""

        def tr(text: Text) -> str:
            return text.get(lang) or text.get("en") or ""

        return {
            "run": self.run.name,
            "chain": self.spec.id,
            "title": tr(self.spec.title),
            "members": [
                {"rule": f.rule, "metric": f.metric, "start_step": f.start_step}
                for f in self.members
            ],
            "roots": [
                {
                    "id": r.spec.id,
                    "text": tr(r.spec.text),
                    "unlikely": r.unlikely,
                    "evidence": [
                        {"verdict": e.verdict, "text": tr(e.text)}
                        for e in r.evidence
                        if e.verdict != "unknown"
                    ],
                }
                for r in self.roots
            ],
            "distinguish": tr(self.spec.distinguish),
            "experiments": [
                {"change": tr(e.change), "baseline": tr(e.baseline), "decide": tr(e.decide)}
                for e in self.experiments
            ],
        }


class _Context:
    """What the checks read: the run, its findings by rule, the rule titles, the chain's
    steps."""

    def __init__(
        self, run: Run, by_rule: Mapping[str, list[Finding]], titles: Callable[[str], Text]
    ) -> None:
        self.run = run
        self.by_rule = by_rule
        self.titles = titles
        self.window = (run.first_step or 0, run.last_step or 0)

    def onset(self, rules: Sequence[str]) -> tuple[str, int] | None:
        hits = [(f.start_step, r) for r in rules for f in self.by_rule.get(r, ())]
        if not hits:
            return None
        step, rule = min(hits)
        return rule, step

    def title(self, rule: str, lang: str) -> str:
        return self.titles(rule).get(lang) or rule

    def names(self, rules: Sequence[str], lang: str) -> str:
        sep = "、" if lang == "zh" else " / "
        return sep.join(self.title(r, lang) for r in rules)


def _first(ctx: _Context, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    rules = list(args["first"])
    hit = ctx.onset(rules)
    first = ctx.run.first_step or 0
    if hit is None:
        names = {lang: ctx.names(rules, lang) for lang in ("en", "zh")}
        return False, {"en": f"no {names['en']} finding", "zh": f"未发现{names['zh']}"}
    rule, step = hit
    interval = _interval(ctx.run)
    holds = step <= first + 2 * interval
    en_t, zh_t = ctx.title(rule, "en"), ctx.title(rule, "zh")
    if holds:
        return True, {
            "en": f"{en_t} from the first logged step ({step})",
            "zh": f"{zh_t}从第一个记录步（{step}）就出现",
        }
    return False, {
        "en": f"{en_t} starts at step {step}, after the first logged step ({first})",
        "zh": f"{zh_t}从第 {step} 步开始，晚于第一个记录步（{first}）",
    }


def _before(ctx: _Context, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    a, b = ctx.onset(list(args["before"])), ctx.onset(list(args["than"]))
    if a is None or b is None:
        return None, {"en": "", "zh": ""}
    (ra, sa), (rb, sb) = a, b
    if sa == sb:  # same logged step: the order cannot be told at this logging interval
        return None, {"en": "", "zh": ""}
    if sa < sb:
        return True, {
            "en": f"{ctx.title(ra, 'en')} (step {sa}) comes before {ctx.title(rb, 'en')} "
            f"(step {sb})",
            "zh": f"{ctx.title(ra, 'zh')}（第 {sa} 步）早于{ctx.title(rb, 'zh')}（第 {sb} 步）",
        }
    return False, {
        "en": f"{ctx.title(rb, 'en')} (step {sb}) comes before {ctx.title(ra, 'en')} (step {sa})",
        "zh": f"{ctx.title(rb, 'zh')}（第 {sb} 步）早于{ctx.title(ra, 'zh')}（第 {sa} 步）",
    }


def _present(ctx: _Context, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    rules = list(args["present"])
    hit = ctx.onset(rules)
    if hit is None:
        names = {lang: ctx.names(rules, lang) for lang in ("en", "zh")}
        return False, {"en": f"no {names['en']} finding", "zh": f"未发现{names['zh']}"}
    rule, step = hit
    return True, {
        "en": f"{ctx.title(rule, 'en')} at step {step}",
        "zh": f"第 {step} 步出现{ctx.title(rule, 'zh')}",
    }


def _setting(ctx: _Context, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    holds, text = setting_check(ctx.run.meta.settings, args)
    if holds is None:
        return None, {"en": f"{text} not in the config", "zh": f"配置中没有 {text}"}
    return holds, {"en": text, "zh": text}


def _metric(ctx: _Context, args: Mapping[str, Any]) -> tuple[bool | None, Text]:
    from trainlens.engine.evaluate import expand

    metric, stat, op, want = args["metric"], args.get("stat", "mean"), args["op"], args["value"]
    found = expand(ctx.run, metric)
    arrays = ctx.run.key_arrays(found[0][1]) if found else None
    if arrays is None:
        return None, {"en": f"{metric} not logged", "zh": f"未记录 {metric}"}
    steps, values = arrays
    lo, hi = ctx.window
    keep = (steps >= lo) & (steps <= hi) & np.isfinite(values)
    if not keep.any():
        return None, {"en": f"{metric} not logged there", "zh": f"该区间未记录 {metric}"}
    value = float(getattr(np, stat)(values[keep]))
    holds = bool(OPS[op](value, want))
    words = {"mean": ("mean", "均值"), "max": ("max", "最大值"), "min": ("min", "最小值")}[stat]
    return holds, {
        "en": f"{metric} {words[0]} {num(value)} over steps {lo}–{hi}",
        "zh": f"第 {lo}–{hi} 步 {metric} {words[1]} {num(value)}",
    }


_CHECKS: dict[str, Callable[[_Context, Mapping[str, Any]], tuple[bool | None, Text]]] = {
    "first": _first,
    "before": _before,
    "present": _present,
    "setting": _setting,
    "metric": _metric,
}


def _interval(run: Run) -> float:
    from trainlens.engine.evaluate import logging_interval

    return logging_interval(run)


def _evidence(ctx: _Context, check: Check) -> Evidence:
    holds, text = _CHECKS[check.kind](ctx, check.args)
    return Evidence(text, holds, check.supports)


def _experiments(spec: ChainSpec, ctx: _Context) -> list[Experiment]:
    settings = ctx.run.meta.settings
    out = []
    for e in spec.experiments:
        if e.skip_if is not None and _evidence(ctx, e.skip_if).holds:
            continue  # the run already does what the experiment would change
        fill: dict[str, dict[str, str]] = {}
        if e.setting is not None:
            if not settings.applies(e.setting):
                continue
            value = settings.get(e.setting)
            spelled = settings.spelling(e.setting) or e.setting
            for lang, unknown in _UNKNOWN.items():
                shown = num(value) if isinstance(value, (int, float)) else str(value or unknown)
                fill[lang] = {"setting": spelled, "value": shown}

        def filled(text: Text, fill: dict[str, dict[str, str]] = fill) -> Text:
            return {lang: s.format(**fill[lang]) if fill else s for lang, s in text.items()}

        out.append(Experiment(filled(e.change), filled(e.baseline), filled(e.decide)))
    return out


def diagnose(
    run: Run, findings: Sequence[Finding], titles: Callable[[str], Text]
) -> list[Diagnosis]:
    """The known chains ``findings`` of ``run`` match, each with its roots ranked by this run's
    evidence. ``titles(rule)`` gives a rule's title per language."""
    by_rule: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.start_step):
        if not f.members:  # episodes group findings already listed themselves
            by_rule.setdefault(f.rule, []).append(f)
    ctx = _Context(run, by_rule, titles)
    out: list[Diagnosis] = []
    used: set[str] = set()
    for spec in chain_specs():
        present = [r for r in spec.members if r in by_rule]
        if any(r in by_rule for r in spec.unless):
            continue
        if len(present) < spec.min_members or not all(
            any(r in by_rule for r in g) for g in spec.needs
        ):
            continue
        if set(present) <= used:
            continue
        members = [by_rule[r][0] for r in present]
        ctx.window = (
            min(f.start_step for f in members),
            max(f.end_step for f in members),
        )
        roots = [RootView(r, tuple(_evidence(ctx, c) for c in r.checks)) for r in spec.roots]
        order = {id(r): i for i, r in enumerate(roots)}
        roots.sort(key=lambda r: (r.unlikely, -r.support, order[id(r)]))
        out.append(Diagnosis(spec, run, members, roots, _experiments(spec, ctx)))
        used.update(present)
    return out


def chain_line(d: Diagnosis, lang: str, titles: Callable[[str], Text]) -> str:
    """The members in causal order with their onset steps: ``A (step 1) → B (step 5)``."""
    where = "{}（第 {} 步）" if lang == "zh" else "{} (step {})"
    return " → ".join(
        where.format(titles(f.rule).get(lang) or f.rule, f.start_step) for f in d.members
    )
