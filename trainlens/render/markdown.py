"""The Markdown postmortem (``trainlens report``, ``trainlens analyze --format markdown``).

``render_markdown(analysis, lang=..., charts=...)`` builds the language-neutral report model
(:mod:`trainlens.report.model`), draws its charts when asked, and renders ``report.<lang>.md.j2``
from ``templates/`` (user template folders first, so a user can override any block). One Jinja
environment per call: no module-level mutable state."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from trainlens.findings import Finding, Severity
from trainlens.render.md_escape import md_code, md_fenced, md_format, md_text
from trainlens.render.templating import render_template, sandboxed_environment
from trainlens.report.cause_evidence import fitting_advice, ranked_causes
from trainlens.report.chains import Diagnosis, chain_line
from trainlens.report.evidence import member_metrics
from trainlens.report.fmt import DASH, display_path, num, relative, signed
from trainlens.report.model import (
    FindingView,
    Report,
    RunReport,
    build_report,
    rule_spec,
    rule_titles,
)
from trainlens.report.overview import column_value, metric_stats
from trainlens.report.policies import gate_block, gate_command
from trainlens.report.recommendations import generic_advice, generic_causes
from trainlens.report.text import Translator
from trainlens.resources import templates_dir
from trainlens.settings import RunSettings

_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]) +(?=[\u4e00-\u9fff])")


def _join_cjk(text: str) -> str:
    """Drop the spaces YAML line folding leaves between Chinese sentences (``。 这说明``)."""
    return _CJK_GAP.sub("", text)


@dataclass(frozen=True)
class SkipGroup:
    """A rule that did not run, for one reason, on ``runs``."""

    rule: str
    title: str | None
    reason: str
    runs: tuple[str, ...]


#: Sentences of a rule's "why" text that fit only some metrics: (words that mark the sentence,
#: substrings of the finding's key or metric that the sentence fits).
_METRIC_SENTENCES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "reward_collapse": ((("format reward", "格式奖励"), ("format",)),),
}

ICONS = {"error": "🚨", "warning": "⚠️", "info": "ℹ️", "healthy": "✅"}
_END = {"en": ".!?", "zh": "。！？.!?"}
_LIST_SEP = {"en": ", ", "zh": "、"}


def _shown_path(rr: RunReport) -> str:
    """The run's path for a command line in the report: relative to the working folder when
    below it, else its name (never absolute: reports are shared); ``RUN_DIR`` when it holds
    characters a shell line or a Markdown reader could take for something else."""
    shown = display_path(rr.run.path)
    return shown if re.fullmatch(r"[\w./@+=,:-]+", shown) else "RUN_DIR"


class _Helpers:
    """The functions templates call: phrasing a finding from its rule, cells, links."""

    def __init__(self, report: Report, rules: Any, t: Translator, assets_href: str) -> None:
        self.report, self.rules, self.t, self.lang = report, rules, t, t.lang
        self.assets_href = assets_href
        self._runs: dict[str, RunReport] = {}
        for rr in report.runs:
            self._runs.setdefault(rr.name, rr)  # the first run of a name, as before

    # --- rule texts -------------------------------------------------------------------------
    def _spec(self, rule: str) -> Any:
        return rule_spec(self.rules, rule)

    def _text(self, spec: Any, field: str) -> Any:
        texts = getattr(spec, field, None) or {}
        value = texts.get(self.lang) if isinstance(texts, dict) else None
        if self.lang != "zh" or value is None:
            return value
        return [_join_cjk(v) for v in value] if isinstance(value, list) else _join_cjk(value)

    def title_of(self, f: Finding) -> str:
        return self._text(self._spec(f.rule), "title") or f.rule

    def section_of(self, f: Finding) -> int | None:
        """The number of the report section that states ``f`` (a related finding is then
        referred to, not said again)."""
        rr = self._runs.get(f.run)
        if rr is None:
            return None
        return next((v.number for v in rr.ranked if f in v.occurrences), None)

    def title_of_rule(self, rule: str) -> str:
        return self._text(self._spec(rule), "title") or rule

    def message_of(self, f: Finding) -> str:
        spec = self._spec(f.rule)
        if spec is None:
            return f.rule
        from trainlens.engine.spec import render_message

        return self.sentence(render_message(f, spec, self.lang, escape=md_text))

    def rule_title(self, v: FindingView) -> str:
        return self.title_of(v.finding)

    def message(self, v: FindingView) -> str:
        return self.message_of(v.finding)

    def rule_text(self, v: FindingView, field: str) -> str | None:
        text = self._text(v.spec, field)
        if field == "why" and isinstance(text, str):
            return self._fit(v.finding, text)
        return text

    def _fit(self, f: Finding, text: str) -> str:
        """Leave out the sentences of a rule's explanation about a kind of metric this finding is
        not on ("A format reward crashing…" on critic/score/mean)."""
        name = f"{f.key} {f.metric}".lower()
        drop = [
            words
            for words, applies in _METRIC_SENTENCES.get(f.rule, ())
            if not any(a in name for a in applies)
        ]
        if not drop:
            return text
        parts = re.split(r"(?<=[.。])\s*", text)
        kept = [p for p in parts if p and not any(w in p for ws in drop for w in ws)]
        return (" " if self.lang == "en" else "").join(kept) or text

    def skip_counts(self, rr: RunReport) -> tuple[int, int]:
        """(rules skipped because their metrics are not logged, rules skipped for another
        reason)."""
        missing = sum(1 for s in rr.skipped if self._missing_metrics(s))
        return missing, len(rr.skipped) - missing

    def cause_list(self, v: FindingView) -> list[str]:
        """Causes read from the run first, then the rule's own minus those they settle."""
        texts = self._texts(v.spec, "causes")
        generic = generic_causes(texts, self.lang, v.extra)
        english = generic_causes(texts, "en", v.extra)
        rr = self._runs.get(v.finding.run)
        if rr is not None:
            others = [o.finding for o in rr.ranked]
            generic = ranked_causes(
                rr.run, v.finding.rule, v.occurrences, generic, english, self.lang, others
            )
        return [self.t(c.text) for c in v.extra.causes] + generic

    def _own_advice(self, v: FindingView) -> list[str]:
        return [self.t(a.text) for a in v.extra.advice] + self._generic_advice(v)

    def advice_list(self, v: FindingView) -> list[str]:
        """Config-aware recommendations first, then the rule's own minus those the run's
        config settles (covered above, or a setting the run already has). A recommendation an
        earlier section of the run already made is not repeated: the list refers to it."""
        rr = self._runs.get(v.finding.run)
        earlier: dict[str, int] = {}
        for other in rr.ranked if rr is not None else ():
            if other.number < v.number:
                for text in self._own_advice(other):
                    earlier.setdefault(text, other.number)
        items, said = [], set()
        for text in self._own_advice(v):
            if text in earlier:
                said.add(earlier[text])
            else:
                items.append(text)
        if said:
            numbers = _LIST_SEP[self.lang].join(str(n) for n in sorted(said))
            items.append(self.t("label.advice_above", n=numbers))
        return items

    def _generic_advice(self, v: FindingView) -> list[str]:
        """The rule's own advice the run's config does not settle and its evidence does not
        speak against, in the report's language."""
        texts = self._texts(v.spec, "advice")
        settings = self._settings(v.finding.run)
        items = generic_advice(texts, self.lang, v.extra, settings)
        rr = self._runs.get(v.finding.run)
        if rr is None:
            return items
        english = generic_advice(texts, "en", v.extra, settings)
        others = [o.finding for o in rr.ranked]
        return fitting_advice(rr.run, v.finding.rule, v.occurrences, others, items, english)

    def actions(self, rr: RunReport, limit: int = 5) -> list[str]:
        """Immediate actions: led by the most severe findings' own advice (the checkpoint to
        keep, then the first check each of them names), then the config-aware changes across
        all findings (one per setting), at most ``limit``."""
        views = list(rr.ranked)
        if not views:
            return []
        worst = views[0].finding.severity
        top = [v for v in views if v.finding.severity is worst][:4]
        out: list[str] = []
        settings: set[str] = set()

        def add(text: str, setting: str = "") -> None:
            if text in out or (setting and setting in settings):
                return
            if setting:
                settings.add(setting)
            out.append(text)

        for v in top:
            for a in v.extra.advice:
                if a.priority < 10:
                    add(self.t(a.text), a.setting)
        for i, v in enumerate(top):
            if v.finding.rule == "instability_episode":
                continue  # its own advice is "follow the members' advice"
            generic = self._generic_advice(v)
            for text in generic[: 2 if i == 0 else 1]:
                add(text)
        for a in sorted(rr.actions, key=lambda a: a.priority):
            add(self.t(a.text), a.setting)
        return out[:limit]

    def _texts(self, spec: Any, field: str) -> dict[str, list[str]]:
        """A rule's list field in every language (Chinese with YAML folding gaps closed)."""
        texts = getattr(spec, field, None) or {}
        if not isinstance(texts, dict):
            return {}
        out = {lang: list(items or []) for lang, items in texts.items()}
        if "zh" in out:
            out["zh"] = [_join_cjk(item) for item in out["zh"]]
        return out

    def _settings(self, run_name: str) -> RunSettings:
        rr = self._runs.get(run_name)
        return rr.run.meta.settings if rr is not None else RunSettings({})

    def skipped_title(self, s: Any) -> str | None:
        return self._text(self._spec(s.rule), "title")

    def skipped_reason(self, s: Any) -> str:
        """The engine's own reason, in the report's language (one text for terminal, JSON and
        Markdown)."""
        from trainlens.engine.messages import skip_text

        return skip_text(s, self.lang)

    def skipped_groups(self) -> list[SkipGroup]:
        """Every run's skipped rules as one list (several runs): one entry per rule and reason,
        with the runs it applies to, so a rule no run could check is listed once."""
        groups: dict[tuple[str, str], list[str]] = {}
        for rr in self.report.runs:
            for s in rr.skipped:
                groups.setdefault((s.rule, self.skipped_reason(s)), []).append(rr.name)
        return [
            SkipGroup(rule, self._text(self._spec(rule), "title"), reason, tuple(runs))
            for (rule, reason), runs in sorted(groups.items())
        ]

    def _missing_metrics(self, s: Any) -> list[str]:
        spec = self._spec(s.rule)
        rr = self._runs.get(s.run)
        run = rr.run if rr is not None else None
        if spec is None or run is None:
            return []
        from trainlens.engine.evaluate import expand

        inputs = getattr(spec.info, "inputs", ()) or ("",) * len(spec.metrics)
        optional: frozenset[str] = getattr(spec.info, "optional", frozenset())
        absent = [
            (name, sel)
            for name, sel in zip(inputs, spec.metrics)
            if not any(expand(run, alt.strip()) for alt in sel.split("|"))
        ]
        required = [sel for name, sel in absent if name not in optional]
        if required or len(absent) < len(spec.metrics):
            return required
        return [sel for _, sel in absent]  # every input optional and none logged

    # --- small phrases ----------------------------------------------------------------------
    def sentence(self, text: str) -> str:
        text = text.strip()
        if not text or text[-1] in _END[self.lang]:
            return text
        return text + ("。" if self.lang == "zh" else ".")

    def icon(self, what: Severity | str) -> str:
        return ICONS[what.value if isinstance(what, Severity) else what]

    def code_list(self, items: Sequence[str], cell: bool = False) -> str:
        """``items`` as code spans (escaped for a table cell with ``cell``)."""
        return _LIST_SEP[self.lang].join(md_code(i, cell=cell) for i in items)

    @staticmethod
    def steps(f: Finding) -> str:
        return str(f.start_step) if f.start_step == f.end_step else f"{f.start_step}–{f.end_step}"

    @staticmethod
    def span(v: FindingView) -> str:
        first, last = v.occurrences[0].start_step, max(o.end_step for o in v.occurrences)
        return str(first) if first == last else f"{first}–{last}"

    def where(self, v: FindingView) -> str:
        """Where a finding is: ``step 120`` / ``第 120 步``, or ``output.log:31`` for what a log
        printed."""
        line = v.finding.source_line
        if line is not None:
            return md_code(line)
        span = self.span(v)
        return self.t("label.steps_span" if "–" in span else "label.step_span", span=span)

    def run_steps(self, run: Any) -> str:
        """``steps 1–238`` / ``第 1–238 步``, or that the run logged no metric."""
        if run.first_step is None:
            return self.t("label.no_metrics")
        return self.t("label.steps_span", span=f"{run.first_step}–{run.last_step}")

    def occurrence_value(self, f: Finding) -> str:
        if f.peak_value is not None:
            return (
                self.at_step(f.peak_value, f.peak_step)
                if f.peak_step is not None
                else num(f.peak_value)
            )
        return self.at_step(f.best_value, f.best_step)

    def at_step(self, value: float | None, step: int | None) -> str:
        if value is None or step is None:
            return DASH
        return self.t("label.at_step", value=num(value), step=str(step))

    @staticmethod
    def change(cell: Any) -> str:
        if cell.change is None:
            return DASH
        if cell.change == 0:
            return "0"
        before = cell.value - cell.change if cell.value is not None else None
        rel = relative(cell.change, before)
        return f"{signed(cell.change)} ({rel})" if rel else signed(cell.change)

    def marks(self, marks: Sequence[str], way: str = "up") -> str:
        return " ".join(
            self.t(f"mark.{'low' if m == 'peak' and way == 'down' else m}") for m in marks
        )

    def asset(self, name: str) -> str:
        return f"{self.assets_href}/{name}"

    @staticmethod
    def earliest(rr: RunReport) -> FindingView | None:
        """The finding that starts first, when it starts strictly before the most severe one
        (a tie on the start step is no "earlier sign")."""
        serious = [v for v in rr.ranked if v.finding.severity is not Severity.INFO]
        first = min(serious, key=lambda v: (v.occurrences[0].start_step, v.number), default=None)
        if first is None or not rr.ranked:
            return first
        if first.occurrences[0].start_step >= rr.ranked[0].occurrences[0].start_step:
            return None
        return first

    @staticmethod
    def timeline(rr: RunReport) -> list[FindingView]:
        return sorted(rr.ranked, key=lambda v: (v.occurrences[0].start_step, v.number))

    # --- comparison cells -------------------------------------------------------------------
    def verdict_cell(self, rr: RunReport) -> str:
        parts = [f"{ICONS[s]} {rr.counts[s]}" for s in ("error", "warning") if rr.counts.get(s)]
        return " ".join(parts) if parts else f"{ICONS['healthy']} {self.t('severity.healthy')}"

    def checkpoint_cell(self, row: Any) -> str:
        rec = getattr(row, "recommended", None)
        if rec is None:
            return DASH
        return (
            md_code(rec.path, cell=True)
            if rec.path
            else self.t("label.at_step", value=self.t("label.best"), step=str(rec.step))
        )

    def column_cell(self, run: Any, metric: str, stat: str) -> str:
        cell = column_value(metric_stats(run, metric), stat)
        return self.at_step(*cell) if cell else DASH

    # --- causal chains ------------------------------------------------------------------------
    def tr(self, text: Any) -> str:
        """A ``{en, zh}`` mapping from a data table in the report's language."""
        if not isinstance(text, dict):
            return str(text or "")
        return str(text.get(self.lang) or text.get("en") or "")

    def chain_story(self, d: Diagnosis) -> str:
        """The chain's story with its members and their onset steps filled in."""
        titles = rule_titles(self.rules)
        return self.tr(d.spec.story).replace("{chain}", chain_line(d, self.lang, titles))

    def policy_lines(self, rr: RunReport) -> str:
        """The gate and watch command lines and the ``[gate]`` block, as fenced code."""
        path = _shown_path(rr)
        lines = gate_command(path, rr.policies) + "\n" + gate_command(path, rr.policies, True)
        return md_fenced(lines, "bash") + "\n\n" + md_fenced(gate_block(rr.policies), "toml")

    def as_globals(self) -> dict[str, Any]:
        names = (
            "tr",
            "policy_lines",
            "title_of_rule",
            "section_of",
            "chain_story",
            "title_of",
            "message_of",
            "rule_title",
            "message",
            "rule_text",
            "cause_list",
            "advice_list",
            "skipped_title",
            "actions",
            "skip_counts",
            "skipped_reason",
            "skipped_groups",
            "sentence",
            "icon",
            "code_list",
            "steps",
            "at_step",
            "change",
            "marks",
            "span",
            "where",
            "run_steps",
            "occurrence_value",
            "asset",
            "earliest",
            "timeline",
            "verdict_cell",
            "checkpoint_cell",
            "column_cell",
        )
        return {n: getattr(self, n) for n in names} | {
            "num": num,
            "signed": signed,
            "member_metrics": member_metrics,
        }


def environment(template_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """A fresh sandboxed Jinja environment over the user's template folders, then the built-in
    ones; the built-in ones also answer as ``builtin/<name>``, so a user's ``report.en.md.j2`` can
    ``{% extends "builtin/report.en.md.j2" %}`` and override a single block."""
    builtin = jinja2.FileSystemLoader(str(templates_dir()))
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([str(d) for d in template_dirs]),
            builtin,
            jinja2.PrefixLoader({"builtin": builtin}),
        ]
    )
    return sandboxed_environment(loader)


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"(?m)^(#{1,6} .*)\n(?=\S)", "\\1\n\n", text)  # blank line after headings
    text = re.sub(r"(?m)(?<=\S)\n(#{1,6} )", "\n\n\\1", text)  # ... and before them
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def render_model(
    report: Report,
    rules: Any,
    *,
    lang: str,
    assets_href: str = "",
    template_dirs: Sequence[Path] = (),
) -> str:
    """Render an already built report model."""
    t = Translator(lang, format=md_format)
    env = environment(template_dirs)
    env.globals.update(_Helpers(report, rules, t, assets_href).as_globals())
    context = {"report": report, "lang": lang, "t": t}
    text = render_template(env, f"report.{lang}.md.j2", context, user=bool(template_dirs))
    return _tidy(text)


def render_markdown(
    analysis: Any,
    *,
    lang: str,
    charts: bool,
    assets_dir: Path | None = None,
    date: str | dt.date | None = None,
    analysed_paths: Sequence[str | Path] = (),
    template_dirs: Sequence[Path] = (),
) -> str:
    """The postmortem of ``analysis`` (a :class:`trainlens.analysis.Analysis`) in ``lang``.

    With ``charts`` and an ``assets_dir``, PNG charts are written into ``assets_dir`` and linked
    as ``<assets_dir name>/<chart>.png`` (the folder is meant to sit next to the Markdown file).
    ``date`` (default: today) and ``analysed_paths`` (default: derived from the runs' sources)
    fill the header; paths are shown relative, never absolute."""
    draw = charts and assets_dir is not None
    report = build_report(analysis, charts=draw, date=date, analysed_paths=analysed_paths)
    if draw:
        from trainlens.report.figures import draw_charts

        assert assets_dir is not None
        draw_charts(report, Path(assets_dir), lang=lang)
    href = Path(assets_dir).name if draw and assets_dir is not None else ""
    return render_model(
        report, analysis.rules, lang=lang, assets_href=href, template_dirs=template_dirs
    )
