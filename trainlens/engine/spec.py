"""Rules as data: load ``rules/<id>.yaml``, validate them against the detectors, render messages."""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from trainlens.engine import compound as _compound  # noqa: F401  (registers the detectors)
from trainlens.engine import detectors as _detectors  # noqa: F401
from trainlens.engine import episodes as _episodes  # noqa: F401  (registers the episode pass)
from trainlens.engine.registry import CONTEXT, DETECTORS, DetectorInfo, check_type, type_name
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
EXTRA_FIELDS = ("span", "steps")
_TEXT_SECTIONS = ("title", "summary", "message", "why")
_LIST_SECTIONS = ("causes", "advice")
_KNOWN = {
    "id",
    "severity",
    "family",
    "metrics",
    "detector",
    "params",
    "param_help",
    "episode",
    *_TEXT_SECTIONS,
    *_LIST_SECTIONS,
}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NOT_RULES = {"metrics.yaml"}
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
    detector: str
    params: dict[str, Any]
    family: str
    path: Path
    summary: dict[str, str] = field(default_factory=dict)  # what it does, in every language
    defaults: dict[str, Any] = field(default_factory=dict)  # params before user overrides
    param_help: dict[str, dict[str, str]] = field(default_factory=dict)
    episode: bool = False  # takes part in instability episodes

    @property
    def info(self) -> DetectorInfo:
        return DETECTORS[self.detector]

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

    def select(self, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> list[RuleSpec]:
        """Rules whose id matches a ``select`` pattern (all when empty) and no ``ignore`` one.
        A pattern without wildcards must name a known rule."""
        for pattern in (*select, *ignore):
            if not any(c in pattern for c in "*?[") and pattern not in self._specs:
                raise TrainlensError(
                    f"unknown rule {pattern!r} in select/ignore (see `trainlens rules`)"
                )
        chosen = [
            s for s in self if not select or any(fnmatch.fnmatchcase(s.id, p) for p in select)
        ]
        return [s for s in chosen if not any(fnmatch.fnmatchcase(s.id, p) for p in ignore)]


def _rule_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise TrainlensError(f"{folder}: rules directory not found")
    return sorted(
        p
        for p in (*folder.glob("*.yaml"), *folder.glob("*.yml"))
        if p.name not in _NOT_RULES and not p.name.startswith(("_", "."))
    )


def load_rules(
    extra_dirs: Sequence[Path] = (), overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> RuleSet:
    """The built-in rules, then every ``*.yaml`` in ``extra_dirs``; ``overrides`` maps a rule id
    to parameter values that replace the rule's own. Any invalid rule raises TrainlensError
    naming its file."""
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
        rules = RuleSet([_override(s, overrides[s.id]) if s.id in overrides else s for s in rules])
    return rules


def _override(spec: RuleSpec, values: Mapping[str, Any]) -> RuleSpec:
    if not isinstance(values, Mapping):
        raise TrainlensError(f"parameters of {spec.id}: expected a table of name = value")
    params = dict(spec.params)
    for name, value in values.items():
        _check_param(spec.info, str(name), value, f"parameter {spec.id}.{name}")
        params[str(name)] = value
    return replace(spec, params=params)


def _check_param(info: DetectorInfo, name: str, value: Any, where: str) -> None:
    if name not in info.defaults:
        known = ", ".join(sorted(info.defaults)) or "none"
        raise TrainlensError(f"{where}: unknown parameter of detector {info.name} (known: {known})")
    if not check_type(value, info.types[name]):
        raise TrainlensError(
            f"{where}: expected {type_name(info.types[name])}, got {type(value).__name__} {value!r}"
        )


def parse_rule(path: Path) -> RuleSpec:
    """Read and validate one rule file."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # a safe loader
    except OSError as exc:
        raise TrainlensError(f"{path}: cannot read rule ({exc.strerror})") from exc
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
        _check_param(info, str(name), value, f"{path}: params.{name}")
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
    for lang, template in texts["message"].items():
        for name in _placeholders(template, fail):
            if name not in allowed:
                raise fail(
                    f"message.{lang}: unknown placeholder {{{name}}} (available: "
                    f"{', '.join(sorted(allowed))})"
                )
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
    )


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
    return [re.split(r"[.\[]", name, maxsplit=1)[0] for _, name, _, _ in parsed if name]


class _SafeFormatter(string.Formatter):
    """Formats None / missing numbers as ``—`` instead of raising."""

    def get_value(self, key: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(key) if isinstance(key, str) else super().get_value(key, args, kwargs)

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


def render_message(finding: Finding, spec: RuleSpec, lang: str) -> str:
    """The finding's message in ``lang`` (falls back to English)."""
    template = spec.text("message", lang)
    return _SafeFormatter().format(template, **message_fields(finding, lang))
