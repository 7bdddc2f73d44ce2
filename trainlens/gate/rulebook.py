"""The gate's view of the rule engine: which rule ids exist, and finding messages in a language.

Kept apart so that metric-only gates never import the engine.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from trainlens.config import ProjectConfig
from trainlens.errors import TrainlensError
from trainlens.findings import Finding
from trainlens.gate.expressions import Policy, RulePolicy
from trainlens.run import Run


def _specs(rules: Any) -> dict[str, Any]:
    """id → spec for a loaded rule set (a mapping, or an iterable of specs with ``.id``)."""
    if rules is None:
        return {}
    inner = rules if isinstance(rules, dict) else getattr(rules, "rules", rules)
    if isinstance(inner, dict):
        return dict(inner)
    return {str(r.id): r for r in inner}


def rule_ids(rules: Any) -> set[str]:
    return set(_specs(rules))


def check_rules(policies: Iterable[Policy], rules: Any) -> None:
    """A ``--fail-on-rule`` id that names no loaded rule is a usage error (exit 2)."""
    known = sorted(rule_ids(rules))
    for p in policies:
        if isinstance(p, RulePolicy) and p.rule not in known:
            close = difflib.get_close_matches(p.rule, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise TrainlensError(f"unknown rule {p.rule!r} in fail-on-rule{hint}")


def finding_text(rules: Any, lang: str) -> Callable[[Finding], str]:
    """A function rendering a finding's message in ``lang`` from its rule's template (falls back
    to a neutral one-liner when the rule or its template is unavailable)."""
    from trainlens.render.gate_output import default_finding_text

    specs = _specs(rules)
    try:
        from trainlens.engine.spec import render_message
    except ImportError:
        return default_finding_text

    def text(f: Finding) -> str:
        spec = specs.get(f.rule)
        if spec is None:
            return default_finding_text(f)
        try:
            return f"{f.rule}: {render_message(f, spec, lang)}"
        except Exception:  # noqa: BLE001 - a broken template must not hide the finding
            return default_finding_text(f)

    return text


def load_analyzer(cfg: ProjectConfig) -> tuple[Any, Callable[[list[Run]], Any]]:
    """``(rules, analyze)``: the rule set of the project config, loaded once, and a function
    running the engine on runs with the config's select/ignore. ``analyze(runs).warnings`` holds
    only what the rules said (rules that crashed), not the input warnings."""
    from trainlens.analysis import analyze_runs, param_sources
    from trainlens.engine.spec import load_rules

    rules = load_rules(
        extra_dirs=tuple(cfg.rules_dirs),
        overrides=cfg.rule_params or None,
        sources=param_sources(cfg, None),
    )
    rules.select(cfg.select, cfg.ignore)  # unknown ids in select/ignore: an error now, not later

    from trainlens.audit.runs import SETTINGS, AuditCache

    audit = cfg.checked_section("audit", SETTINGS)
    cache = AuditCache()  # a live run's unchanged completions are not audited again

    def analyze(runs: list[Run]) -> Any:
        return analyze_runs(
            runs,
            rules=rules,
            select=tuple(cfg.select),
            ignore=tuple(cfg.ignore),
            audit=audit,
            audit_cache=cache,
        )

    return rules, analyze
