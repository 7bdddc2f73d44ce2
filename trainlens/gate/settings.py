"""Policies from the command line and the project config (``[gate]`` / ``[watch]`` tables)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trainlens.config import ProjectConfig
from trainlens.errors import TrainlensError
from trainlens.gate.expressions import (
    Policy,
    RulePolicy,
    SeverityPolicy,
    parse_policy,
    parse_severity,
)

#: Keys of the ``[gate]`` table; ``[watch]`` also takes ``exit_on``, ``interval`` and ``lang``.
GATE_KEYS = {"fail_on", "fail_on_severity", "fail_on_rule", "strict"}
WATCH_KEYS = {"exit_on", "fail_on_severity", "fail_on_rule", "interval", "lang"}


@dataclass
class PolicySet:
    """Parsed policies in the order given (config first, then command line), deduplicated."""

    policies: list[Policy] = field(default_factory=list)
    strict: bool = False

    def add(self, policy: Policy) -> None:
        if not any(_same(policy, p) for p in self.policies):
            self.policies.append(policy)


def _same(a: Policy, b: Policy) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (RulePolicy, SeverityPolicy)):
        return a == b
    return a.canonical_text() == b.canonical_text()  # type: ignore[union-attr]


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TrainlensError(f"{where}: expected a string or a list of strings")


def section(cfg: ProjectConfig, name: str, known: set[str]) -> dict[str, Any]:
    """The ``[name]`` table of the config, with its keys validated."""
    return cfg.checked_section(name, dict.fromkeys(known, object))


def build_policies(
    *,
    fail_on: Sequence[str] = (),
    fail_on_severity: str | None = None,
    fail_on_rule: Sequence[str] = (),
    strict: bool = False,
    config: dict[str, Any] | None = None,
    where: str = "gate",
    expr_key: str = "fail_on",
) -> PolicySet:
    """Config policies (``config``: a validated ``[gate]`` / ``[watch]`` table, named ``where`` in
    messages, e.g. ``trainlens.toml: gate``) plus command-line ones, which add to them rather
    than replace them. Raises :class:`~trainlens.errors.TrainlensError` (exit 2) for a bad
    expression or value."""
    config = config or {}
    out = PolicySet(strict=strict)
    if "strict" in config:
        if not isinstance(config["strict"], bool):
            raise TrainlensError(f"{where}.strict must be true or false")
        out.strict = strict or config["strict"]
    exprs = [*_strings(config.get(expr_key, []), f"{where}.{expr_key}"), *fail_on]
    severities = [
        *_strings(config.get("fail_on_severity", []), f"{where}.fail_on_severity"),
        *([fail_on_severity] if fail_on_severity else []),
    ]
    rules = [*_strings(config.get("fail_on_rule", []), f"{where}.fail_on_rule"), *fail_on_rule]
    for text in exprs:
        out.add(parse_policy(text))
    for text in severities:
        out.add(parse_severity(text))
    for rule in rules:
        if not rule.strip():
            raise TrainlensError(f"{where}.fail_on_rule: empty rule id")
        out.add(RulePolicy(rule.strip()))
    return out
