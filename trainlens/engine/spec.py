"""Rules as data: load ``rules/<id>.yaml``, validate them against the detectors, render messages."""

from __future__ import annotations

import fnmatch
import math
import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from trainlens.engine import compound as _compound  # noqa: F401  (registers the detectors)
from trainlens.engine import detectors as _detectors  # noqa: F401
from trainlens.engine import drops as _drops  # noqa: F401
from trainlens.engine import episodes as _episodes  # noqa: F401  (registers the episode pass)
from trainlens.engine import levels as _levels  # noqa: F401
from trainlens.engine import stalls as _stalls  # noqa: F401
from trainlens.engine import sudden as _sudden  # noqa: F401
from trainlens.engine.registry import (
    CONTEXT,
    DETECTORS,
    DetectorInfo,
    check_type,
    constraint,
    type_name,
)
from trainlens.errors import TrainlensError
from trainlens.findings import Finding, Severity
from trainlens.resources import rules_dir

LANGS = ("en", "zh")
#: Finding fields a message template may use besides the detector's numbers and the params.
FINDING_FIELDS = (
    "rule",
    "severity",
    "run",
    "metric",
    "key",
    "start_step",
    "end_step",
    "peak_step",
    "peak_value",
    "baseline",
    "best_step",
    "best_value",
    "recommended_checkpoint",
)
#: Computed for messages: ``span`` is "120" or "120–135" (the finding's step window).
#: ``single`` is true when the window is one logged point (for a ``message_when`` variant).
EXTRA_FIELDS = ("span", "steps", "single")
_TEXT_SECTIONS = ("title", "summary", "message", "why")
_LIST_SECTIONS = ("causes", "advice")
#: Rule kinds: ``series`` rules run a registered detector over metric series; the others are
#: produced by their own feature (``log_pattern``: regexes over a job's console output,
#: ``audit``: what the model wrote, ``replay``: re-scored batches) and only share the texts,
#: severities and renderers. Their ``outputs`` name the numbers a finding carries.
KINDS = ("series", "log_pattern", "audit", "replay")
_KNOWN = {
    "id",
    "kind",
    "outputs",
    "patterns",
    "severity",
    "family",
    "metrics",
    "detector",
    "params",
    "param_help",
    "episode",
    "message_when",
    "title_when",
    "escalate",
    *_TEXT_SECTIONS,
    *_LIST_SECTIONS,
}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_RULES = {"metrics.yaml", "settings.yaml", "chains.yaml", "cause_evidence.yaml"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there


@dataclass(frozen=True)
class RuleSpec:
    """One rule: what to look at (``metrics``), how (``detector`` + ``params``), how bad
    (``severity``) and what to tell the user, in every language."""

    id: str
    severity: Severity
    title: dict[str, str]
    message: dict[str, str]
    why: dict[str, str]
    causes: dict[str, list[str]]
    advice: dict[str, list[str]]
    metrics: tuple[str, ...]
    detector: str  # "" for rules that are not of kind ``series``
    params: dict[str, Any]
    family: str
    path: Path
    kind: str = "series"
    outputs: tuple[str, ...] = ()  # numbers a non-series finding carries (its placeholders)
    patterns: tuple[re.Pattern[str], ...] = ()  # ``log_pattern`` rules: what a line must match
    summary: dict[str, str] = field(default_factory=dict)  # what it does, in every language
    defaults: dict[str, Any] = field(default_factory=dict)  # params before user overrides
    param_help: dict[str, dict[str, str]] = field(default_factory=dict)
    episode: bool = False  # takes part in instability episodes
    #: Other messages, each used instead of ``message`` when its field (a detector number such
    #: as ``from_start`` or ``recovered``) is true; the first that applies wins.
    message_when: tuple[tuple[str, dict[str, str]], ...] = ()
    #: Other titles, like ``message_when``: used when its field is true for the finding.
    title_when: tuple[tuple[str, dict[str, str]], ...] = ()
    #: Severities a finding is raised to by its own evidence: (severity, alternatives), each
    #: alternative a set of numbers that must all be at least the given values.
    escalate: tuple[tuple[Severity, tuple[dict[str, float], ...]], ...] = ()

    @property
    def info(self) -> DetectorInfo:
        if self.kind != "series":
            raise TrainlensError(f"{self.path}: rule {self.id} ({self.kind}) has no detector")
        return DETECTORS[self.detector]

    def severity_for(self, numbers: Mapping[str, Any]) -> Severity:
        """The severity of a finding with these detector numbers: the highest ``escalate``
        level one of whose alternatives holds, else the rule's own."""
        for severity, alternatives in self.escalate:
            for alt in alternatives:
                if all(_at_least(numbers.get(name), limit) for name, limit in alt.items()):
                    return severity
        return self.severity

    def template(self, fields: Mapping[str, Any], lang: str) -> str:
        """The message template for a finding with these fields, in ``lang``."""
        for name, texts in self.message_when:
            if fields.get(name):
                return texts.get(lang, texts["en"])
        return str(self.text("message", lang))

    def title_for(self, fields: Mapping[str, Any], lang: str) -> str:
        """The title for a finding with these fields (its params), in ``lang``: the first
        ``title_when`` variant whose field is true, else the rule's title."""
        for name, texts in self.title_when:
            if fields.get(name):
                return texts.get(lang, texts["en"])
        return str(self.text("title", lang))

    def text(self, section: str, lang: str) -> Any:
        """A bilingual section in ``lang`` (English when missing)."""
        value: dict[str, Any] = getattr(self, section)
        return value.get(lang, value.get("en"))


class RuleSet:
    """Rules by id, in load order (built-in first, then user rule dirs)."""

    def __init__(self, specs: Sequence[RuleSpec] = ()) -> None:
        self._specs: dict[str, RuleSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: RuleSpec) -> None:
        if spec.id in self._specs:
            raise TrainlensError(
                f"{spec.path}: duplicate rule id {spec.id!r} "
                f"(already defined in {self._specs[spec.id].path})"
            )
        self._specs[spec.id] = spec

    def get(self, rule_id: str) -> RuleSpec:
        try:
            return self._specs[rule_id]
        except KeyError:
            raise TrainlensError(f"unknown rule {rule_id!r} (see `trainlens rules`)") from None

    def __iter__(self) -> Iterator[RuleSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._specs

    @property
    def ids(self) -> list[str]:
        return list(self._specs)

    def of_kind(self, kind: str) -> list[RuleSpec]:
        """The rules of one kind (``series``, ``log_pattern``, ``audit``, ``replay``)."""
        return [s for s in self if s.kind == kind]

    def select(
        self, select: Sequence[str] = (), ignore: Sequence[str] = (), kind: str | None = None
    ) -> list[RuleSpec]:
        """Rules whose id matches a ``select`` pattern (all when empty) and no ``ignore`` one,
        of ``kind`` when given. A pattern without wildcards must name a known rule; a glob must
        match at least one."""
        for pattern in (*select, *ignore):
            if not any(c in pattern for c in "*?["):
                if pattern not in self._specs:
                    raise TrainlensError(
                        f"unknown rule {pattern!r} in select/ignore (see `trainlens rules`)"
                    )
            elif not any(fnmatch.fnmatchcase(rid, pattern) for rid in self._specs):
                raise TrainlensError(
                    f"no rule matches {pattern!r} in select/ignore (see `trainlens rules`)"
                )
        chosen = [
            s for s in self if not select or any(fnmatch.fnmatchcase(s.id, p) for p in select)
        ]
        chosen = [s for s in chosen if not any(fnmatch.fnmatchcase(s.id, p) for p in ignore)]
        return [s for s in chosen if kind is None or s.kind == kind]


def _rule_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise TrainlensError(f"{folder}: rules directory not found")
    return sorted(
        p
        for p in (*folder.glob("*.yaml"), *folder.glob("*.yml"))
        if p.name not in _NOT_RULES and not p.name.startswith(("_", "."))
    )


def load_rules(
    extra_dirs: Sequence[Path] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    sources: Mapping[str, Mapping[str, str]] | None = None,
) -> RuleSet:
    """The built-in rules, then every ``*.yaml`` in ``extra_dirs``; ``overrides`` maps a rule id
    to parameter values that replace the rule's own (type- and range-checked like the rule
    files' own). ``sources`` says where each override came from (rule id → parameter → e.g.
    ``"trainlens.toml: [rules.kl_spike] window"`` or ``"--param kl_spike.window"``) for the
    error messages. Any invalid rule raises TrainlensError naming its file."""
    rules = RuleSet()
    for folder in (rules_dir(), *map(Path, extra_dirs)):
        for path in _rule_files(folder):
            rules.add(parse_rule(path))
    if overrides:
        for rule_id in overrides:
            if rule_id not in rules:
                raise TrainlensError(
                    f"parameter override for unknown rule {rule_id!r} "
                    f"(known: {', '.join(rules.ids)})"
                )
        rules = RuleSet(
            [
                _override(s, overrides[s.id], (sources or {}).get(s.id, {}))
                if s.id in overrides
                else s
                for s in rules
            ]
        )
    return rules


def _override(spec: RuleSpec, values: Mapping[str, Any], sources: Mapping[str, str]) -> RuleSpec:
    if not isinstance(values, Mapping):
        raise TrainlensError(f"parameters of {spec.id}: expected a table of name = value")
    params = dict(spec.params)
    for name, value in values.items():
        where = sources.get(str(name)) or f"parameter {spec.id}.{name}"
        if spec.kind == "series":
            _check_param(spec.info, str(name), value, where, spec.id)
        else:
            _check_plain_param(spec.defaults, str(name), value, where)
        params[str(name)] = value
    return replace(spec, params=params)


def _check_param(info: DetectorInfo, name: str, value: Any, where: str, rule: str) -> None:
    """A rule parameter's name, type and declared range (``where`` starts the message)."""
    if name not in info.defaults:
        known = ", ".join(sorted(info.defaults)) or "none"
        raise TrainlensError(f"{where}: unknown parameter of detector {info.name} (known: {known})")
    if not check_type(value, info.types[name]):
        raise TrainlensError(
            f"{where}: expected {type_name(info.types[name])}, got {type(value).__name__} {value!r}"
        )
    allowed = constraint(info.types[name])
    if value is not None and allowed is not None and value not in allowed:
        raise TrainlensError(
            f"{where}: {value!r} is out of range for rule {rule} parameter {name} "
            f"(allowed: {allowed})"
        )


def _check_plain_param(defaults: Mapping[str, Any], name: str, value: Any, where: str) -> None:
    """A parameter of a non-series rule: known name, same type as its default, finite."""
    if name not in defaults:
        known = ", ".join(sorted(defaults)) or "none"
        raise TrainlensError(f"{where}: unknown parameter (known: {known})")
    default = defaults[name]
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and math.isfinite(float(value))
        ok = ok and (isinstance(default, float) or isinstance(value, int))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise TrainlensError(
            f"{where}: expected {type(default).__name__}, got {type(value).__name__} {value!r}"
        )


def parse_rule(path: Path) -> RuleSpec:
    """Read and validate one rule file."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # a safe loader
    except OSError as exc:
        raise TrainlensError(f"{path}: cannot read rule ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise TrainlensError(f"{path}: rule file is not UTF-8 text (byte {exc.start})") from exc
    except RecursionError:
        raise TrainlensError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise TrainlensError(f"{path}: invalid YAML: {exc}") from exc
    return validate_rule(doc, path)


def validate_rule(doc: Any, path: Path) -> RuleSpec:
    """Check a parsed rule document and build its RuleSpec (errors name ``path``)."""

    def fail(msg: str) -> TrainlensError:
        return TrainlensError(f"{path}: {msg}")

    if not isinstance(doc, dict):
        raise fail("a rule file must be a mapping")
    unknown = set(doc) - _KNOWN
    if unknown:
        raise fail(f"unknown field(s) {', '.join(sorted(unknown))}")
    kind = doc.get("kind", "series")
    if kind not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind != "series":
        return _validate_other_kind(doc, path, kind, fail)
    for field_name in ("outputs", "patterns"):
        if field_name in doc:
            raise fail(f"{field_name}: only for rules that are not of kind series")
    for req in ("id", "severity", "detector", *_TEXT_SECTIONS, *_LIST_SECTIONS):
        if req not in doc:
            raise fail(f"missing field {req!r}")
    rid = doc["id"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise fail(f"id must be lower_snake_case, got {rid!r}")
    if path.stem != rid:
        raise fail(f"file name must be the rule id ({rid}.yaml)")
    try:
        severity = Severity(doc["severity"])
    except ValueError:
        raise fail(f"severity must be info, warning or error, got {doc['severity']!r}") from None
    det = doc["detector"]
    if det not in DETECTORS:
        raise fail(f"unknown detector {det!r} (known: {', '.join(sorted(DETECTORS))})")
    info = DETECTORS[det]
    metrics = doc.get("metrics", [])
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not all(isinstance(m, str) and m for m in metrics):
        raise fail("metrics must be a list of metric names or key patterns")
    _check_metrics(info, metrics, fail)
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise fail("params must be a mapping")
    for name, value in params.items():
        _check_param(info, str(name), value, f"{path}: params.{name}", rid)
    texts = {s: _bilingual(doc[s], s, fail) for s in _TEXT_SECTIONS}
    lists = {s: _bilingual_list(doc[s], s, fail) for s in _LIST_SECTIONS}
    help_doc = doc.get("param_help") or {}
    if not isinstance(help_doc, dict):
        raise fail("param_help must map parameter names to {en, zh} texts")
    param_help = {}
    for name, value in help_doc.items():
        if name not in info.defaults:
            raise fail(f"param_help.{name}: not a parameter of detector {det}")
        param_help[str(name)] = _bilingual(value, f"param_help.{name}", fail)
    allowed = {*FINDING_FIELDS, *EXTRA_FIELDS, *info.outputs, *info.defaults}
    _check_template(texts["message"], "message", allowed, fail)
    message_when = _message_when(doc.get("message_when") or {}, allowed, fail)
    title_when = _message_when(doc.get("title_when") or {}, allowed, fail, "title_when")
    escalate = _escalate(doc.get("escalate") or {}, severity, info, fail)
    episode = doc.get("episode", False)
    if not isinstance(episode, bool):
        raise fail("episode must be true or false")
    family = doc.get("family", "other")
    if not isinstance(family, str):
        raise fail("family must be a string")
    effective = {k: v for k, v in info.defaults.items() if k not in CONTEXT}
    effective.update(params)
    return RuleSpec(
        id=rid,
        severity=severity,
        title=texts["title"],
        message=texts["message"],
        summary=texts["summary"],
        why=texts["why"],
        causes=lists["causes"],
        advice=lists["advice"],
        metrics=tuple(metrics),
        detector=det,
        params=effective,
        family=family,
        path=path,
        defaults=dict(effective),
        param_help=param_help,
        episode=episode,
        message_when=message_when,
        title_when=title_when,
        escalate=escalate,
    )


def _validate_other_kind(doc: dict[str, Any], path: Path, kind: str, fail: Any) -> RuleSpec:
    """A ``log_pattern``, ``audit`` or ``replay`` rule: texts, severity, ``outputs`` (the numbers
    its findings carry), plain ``params`` and, for ``log_pattern``, the ``patterns``."""
    for name in ("detector", "metrics", "escalate", "episode"):
        if name in doc:
            raise fail(f"{name}: not used by rules of kind {kind}")
    for req in ("id", "severity", "outputs", *_TEXT_SECTIONS, *_LIST_SECTIONS):
        if req not in doc:
            raise fail(f"missing field {req!r}")
    rid = doc["id"]
    if not isinstance(rid, str) or not _ID.match(rid):
        raise fail(f"id must be lower_snake_case, got {rid!r}")
    if path.stem != rid:
        raise fail(f"file name must be the rule id ({rid}.yaml)")
    try:
        severity = Severity(doc["severity"])
    except ValueError:
        raise fail(f"severity must be info, warning or error, got {doc['severity']!r}") from None
    outputs = doc["outputs"]
    if not isinstance(outputs, list) or not all(
        isinstance(o, str) and o.isidentifier() for o in outputs
    ):
        raise fail("outputs must be a list of names (the numbers and texts a finding carries)")
    patterns: list[re.Pattern[str]] = []
    if kind == "log_pattern":
        raw = doc.get("patterns")
        if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
            raise fail("patterns: a log_pattern rule needs a non-empty list of regexes")
        for i, pattern in enumerate(raw):
            try:
                patterns.append(re.compile(pattern))
            except re.error as exc:
                raise fail(f"patterns[{i}]: invalid regex: {exc}") from None
    elif "patterns" in doc:
        raise fail(f"patterns: only for rules of kind log_pattern, not {kind}")
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise fail("params must be a mapping")
    for name, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(f"params.{name}: must be finite")
        if not isinstance(value, (int, float, str, bool)):
            raise fail(f"params.{name}: expected a number, a string or true/false")
    texts = {s: _bilingual(doc[s], s, fail) for s in _TEXT_SECTIONS}
    lists = {s: _bilingual_list(doc[s], s, fail) for s in _LIST_SECTIONS}
    help_doc = doc.get("param_help") or {}
    if not isinstance(help_doc, dict):
        raise fail("param_help must map parameter names to {en, zh} texts")
    param_help = {}
    for name, value in help_doc.items():
        if name not in params:
            raise fail(f"param_help.{name}: not a parameter of this rule")
        param_help[str(name)] = _bilingual(value, f"param_help.{name}", fail)
    groups = {g for p in patterns for g in p.groupindex}
    allowed = {*FINDING_FIELDS, *EXTRA_FIELDS, *outputs, *params, *groups}
    _check_template(texts["message"], "message", allowed, fail)
    message_when = _message_when(doc.get("message_when") or {}, allowed, fail)
    title_when = _message_when(doc.get("title_when") or {}, allowed, fail, "title_when")
    family = doc.get("family", "other")
    if not isinstance(family, str):
        raise fail("family must be a string")
    return RuleSpec(
        id=rid,
        severity=severity,
        title=texts["title"],
        message=texts["message"],
        summary=texts["summary"],
        why=texts["why"],
        causes=lists["causes"],
        advice=lists["advice"],
        metrics=(),
        detector="",
        params=dict(params),
        family=family,
        path=path,
        kind=kind,
        outputs=tuple(outputs),
        patterns=tuple(patterns),
        defaults=dict(params),
        param_help=param_help,
        message_when=message_when,
        title_when=title_when,
    )


def _check_template(texts: Mapping[str, str], section: str, allowed: set[str], fail: Any) -> None:
    for lang, template in texts.items():
        for name in _placeholders(template, fail):
            if name not in allowed:
                raise fail(
                    f"{section}.{lang}: unknown placeholder {{{name}}} (available: "
                    f"{', '.join(sorted(allowed))})"
                )


def _message_when(
    doc: Any, allowed: set[str], fail: Any, section: str = "message_when"
) -> tuple[tuple[str, dict[str, str]], ...]:
    """``message_when: {field: {en, zh}}`` (or ``title_when``): texts for findings whose
    ``field`` is true."""
    if not isinstance(doc, dict):
        raise fail(f"{section} must map a field name to {{en, zh}} texts")
    out = []
    for name, value in doc.items():
        if name not in allowed:
            raise fail(
                f"{section}.{name}: not a field of this rule's findings "
                f"(available: {', '.join(sorted(allowed))})"
            )
        texts = _bilingual(value, f"{section}.{name}", fail)
        _check_template(texts, f"{section}.{name}", allowed, fail)
        out.append((str(name), texts))
    return tuple(out)


def _escalate(
    doc: Any, base: Severity, info: DetectorInfo, fail: Any
) -> tuple[tuple[Severity, tuple[dict[str, float], ...]], ...]:
    """``escalate: {error: [{share: 0.5}, {level: 0.9, n_points: 5}]}``: a finding takes the
    severity when all the numbers of one alternative are at least the given values."""
    if not isinstance(doc, dict):
        raise fail("escalate must map a severity to conditions on the detector's numbers")
    numbers = {*info.outputs, "peak_value"}
    out = []
    for key, alternatives in doc.items():
        try:
            severity = Severity(key)
        except ValueError:
            raise fail(f"escalate.{key}: not a severity (info, warning, error)") from None
        if severity.rank <= base.rank:
            raise fail(f"escalate.{key}: must be above the rule's severity {base.value}")
        alts = alternatives if isinstance(alternatives, list) else [alternatives]
        checked = []
        for alt in alts:
            if not isinstance(alt, dict) or not alt:
                raise fail(f"escalate.{key}: each condition must map numbers to minimum values")
            for name, limit in alt.items():
                if name not in numbers:
                    raise fail(
                        f"escalate.{key}.{name}: not a number of detector {info.name} "
                        f"(available: {', '.join(sorted(numbers))})"
                    )
                if not check_type(limit, float):
                    raise fail(f"escalate.{key}.{name}: expected a number, got {limit!r}")
            checked.append({str(k): v for k, v in alt.items()})
        out.append((severity, tuple(checked)))
    out.sort(key=lambda item: -item[0].rank)
    return tuple(out)


def _at_least(value: Any, limit: float) -> bool:
    if isinstance(value, bool):
        value = float(value)
    return isinstance(value, (int, float)) and float(value) >= limit


def _check_metrics(info: DetectorInfo, metrics: list[str], fail: Any) -> None:
    if info.post or info.arity == 0:
        if metrics:
            raise fail(f"detector {info.name} reads no metric series; remove metrics")
        return
    if not metrics:
        raise fail("metrics: at least one metric is needed")
    if info.arity > 1 and len(metrics) != info.arity:
        raise fail(
            f"metrics: detector {info.name} takes {info.arity} series "
            f"({', '.join(info.inputs)}), one entry each (alternatives with |)"
        )


def _bilingual(value: Any, section: str, fail: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise fail(f"{section} must be a mapping of language to text ({'/'.join(LANGS)})")
    for lang in LANGS:
        if not isinstance(value.get(lang), str) or not value[lang].strip():
            raise fail(f"{section}.{lang} is missing (every text needs {' and '.join(LANGS)})")
    return {str(k): str(v).strip() for k, v in value.items()}


def _bilingual_list(value: Any, section: str, fail: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise fail(f"{section} must be a mapping of language to a list of texts")
    out = {}
    for lang in LANGS:
        items = value.get(lang)
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise fail(f"{section}.{lang} must be a non-empty list of texts")
    for lang, items in value.items():
        out[str(lang)] = [str(i).strip() for i in items]
    return out


def _placeholders(template: str, fail: Any) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise fail(f"message: bad template: {exc}") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise fail(f"message: placeholder {{{name}}}: only plain names are allowed")
        if spec and "{" in spec:
            raise fail(f"message: placeholder {{{name}}}: nested fields are not allowed")
        if conversion:
            raise fail(f"message: placeholder {{{name}}}: conversions (!r, !s) are not allowed")
        names.append(name)
    return names


class _SafeFormatter(string.Formatter):
    """Formats None / missing numbers as ``—`` instead of raising. Only plain names are looked
    up: ``{x.attr}`` or ``{x[0]}`` (attribute traversal from a rule file) render as text."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if not field_name.isidentifier():
            return "{" + field_name + "}", field_name
        return kwargs.get(field_name), field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return value  # no !r / !s / !a: a template formats numbers, nothing else

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "—"
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


#: Rule families as a message names them (``families`` of an instability episode).
FAMILY_NAMES: dict[str, dict[str, str]] = {
    "kl": {"en": "KL", "zh": "KL"},
    "gradient": {"en": "gradients", "zh": "梯度"},
    "loss": {"en": "loss", "zh": "损失"},
    "clipping": {"en": "ratio clipping", "zh": "PPO 裁剪"},
    "length": {"en": "response length", "zh": "回复长度"},
    "entropy": {"en": "entropy", "zh": "熵"},
    "reward": {"en": "reward", "zh": "奖励"},
    "numeric": {"en": "numerics", "zh": "数值"},
    "critic": {"en": "critic", "zh": "判别器"},
    "eval": {"en": "evaluation", "zh": "评估"},
    "throughput": {"en": "throughput", "zh": "吞吐"},
}


def _join(items: Sequence[Any], lang: str) -> str:
    names = [FAMILY_NAMES.get(str(i), {}).get(lang, str(i)) for i in items]
    return "、".join(names) if lang == "zh" else ", ".join(names)


def message_fields(finding: Finding, lang: str = "en") -> dict[str, Any]:
    """Everything a message template may refer to for ``finding``: its fields, its params,
    ``span`` (``2800`` or ``2855–2870``) and ``steps`` (``step 2800`` / ``第 2800 步``)."""
    out: dict[str, Any] = {name: getattr(finding, name) for name in FINDING_FIELDS}
    out["severity"] = finding.severity.value
    out["span"] = (
        str(finding.start_step)
        if finding.start_step == finding.end_step
        else f"{finding.start_step}–{finding.end_step}"
    )
    out["single"] = finding.start_step == finding.end_step and (
        finding.params.get("n_points", 1) == 1
    )
    if lang == "zh":
        out["steps"] = f"第 {out['span']} 步"
    else:
        single = finding.start_step == finding.end_step
        out["steps"] = f"step {out['span']}" if single else f"steps {out['span']}"
    out.update(finding.params)
    for name, value in finding.params.items():
        if isinstance(value, (list, tuple)):
            out[name] = _join(value, lang)
    return out


def render_message(
    finding: Finding, spec: RuleSpec, lang: str, *, escape: Callable[[str], str] | None = None
) -> str:
    """The finding's message in ``lang`` (falls back to English); a ``message_when`` variant
    when its field is true for this finding. ``escape`` is applied to every text field (a
    metric key, a log excerpt) before it is spliced in: the Markdown report escapes them."""
    fields = message_fields(finding, lang)
    template = spec.template(fields, lang)
    if escape is not None:
        fields = {k: escape(v) if isinstance(v, str) else v for k, v in fields.items()}
    return _SafeFormatter().format(template, **fields)
