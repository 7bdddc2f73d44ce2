"""What the evidence checks of causal chains (``chains``) and of rule causes
(``cause_evidence``) share: the comparison operators, the config-setting check and the outcome
of one check."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainlens.report.fmt import num
from trainlens.settings import RunSettings

Text = Mapping[str, str]  # {"en": ..., "zh": ...}
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Observation:
    """A check's outcome on a run: ``holds`` None when the run cannot say; ``text`` what was
    seen, per language; ``supports``: the check counts for its cause when it holds, against
    it otherwise."""

    text: Text
    holds: bool | None
    supports: bool

    @property
    def verdict(self) -> str:
        """``for`` / ``against`` the cause, or ``unknown``."""
        if not self.holds:  # a check that does not hold says nothing either way
            return "unknown"
        return "for" if self.supports else "against"


def setting_check(settings: RunSettings, args: Mapping[str, Any]) -> tuple[bool | None, str]:
    """``{setting: NAME, op, value}`` on the run's config (rules/settings.yaml names): whether
    it holds (None: the config does not set it) and what the config says (``key = value``)."""
    name, op, want = args["setting"], args.get("op", "=="), args.get("value")
    value: Any = settings.number(name) if isinstance(want, (int, float)) else settings.get(name)
    if value is None:
        return None, settings.spelling(name) or name
    if isinstance(want, str):
        value, want = str(value).lower(), want.lower()
    shown = num(value) if isinstance(value, float) else str(value)
    key = settings.key(name) or name
    return bool(OPS[op](value, want)), (f"{key} = {shown}" if ":" not in key else key)
