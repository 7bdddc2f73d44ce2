"""A run's config settings under one name whatever framework spelled them.

The spellings live in one data table, ``rules/settings.yaml``; :class:`RunSettings` resolves a
run's config against it once (``Run.settings``), and the rules, the report's advice and
``compare`` all ask it: which value a setting has, which key the config used, and which key to
name in advice for the run's framework (None when that framework has no such setting).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import yaml

from trainlens.resources import rules_dir

TABLE_FILE = "settings.yaml"


@dataclass(frozen=True)
class Spelling:
    """One config key of a setting; with ``when``, it counts only when that switch is true."""

    key: str
    when: str | None = None


@dataclass(frozen=True)
class SettingSpec:
    """A row of the table: a setting, its spellings, and how frameworks name it."""

    name: str
    keys: tuple[Spelling, ...]
    off: tuple[str, ...] = ()
    spell: Mapping[str, str | None] | None = None
    compare: str | None = None
    words: tuple[str, ...] = ()

    def spelled_for(self, framework: str | None) -> str | None:
        """The key advice names in ``framework`` (None: that framework has no such setting)."""
        spell = self.spell or {}
        if framework is not None and framework in spell:
            return spell[framework]
        return self.keys[0].key

    @property
    def all_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.key for s in self.keys))

    @property
    def prose_names(self) -> tuple[str, ...]:
        """What names the setting in advice prose: keys that look like keys, and ``words``."""
        keyish = (k for k in self.all_keys if "_" in k or "." in k)
        return tuple(dict.fromkeys((*keyish, *self.words)))


def _spelling(item: Any) -> Spelling:
    if isinstance(item, str):
        return Spelling(item)
    if isinstance(item, dict) and isinstance(item.get("key"), str):
        when = item.get("when")
        return Spelling(item["key"], when if isinstance(when, str) else None)
    raise ValueError(f"{TABLE_FILE}: a spelling must be a key or {{key, when}}, not {item!r}")


@cache
def setting_specs() -> dict[str, SettingSpec]:
    """The built-in table, by setting name."""
    raw = yaml.safe_load((rules_dir() / TABLE_FILE).read_text(encoding="utf-8")) or {}
    specs: dict[str, SettingSpec] = {}
    for name, row in raw.items():
        specs[name] = SettingSpec(
            name=name,
            keys=tuple(_spelling(k) for k in row["keys"]),
            off=tuple(row.get("off_when") or ()),
            spell=dict(row.get("spell") or {}),
            compare=row.get("compare"),
            words=tuple(row.get("words") or ()),
        )
    return specs


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts (verl's Hydra config) → dotted keys; other values kept as they are. A flat
    key that already holds a dot stays as it is."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


def _usable(value: Any) -> bool:
    """Not null and not an unresolved OmegaConf interpolation (``${oc.select:...}``)."""
    if value is None:
        return False
    return not (isinstance(value, str) and value.lstrip().startswith("${"))


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass(frozen=True)
class Resolved:
    """A setting's value and the config key(s) it was read from."""

    value: Any
    key: str


class RunSettings:
    """A run's config resolved against the settings table (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any] | None, framework: str | None = None) -> None:
        self.config = dict(config or {})
        self.framework = framework
        self._resolved: dict[str, Resolved | None] = {}

    @cached_property
    def flat(self) -> dict[str, Any]:
        return flatten_config(self.config)

    @property
    def known(self) -> bool:
        return bool(self.config)

    def resolve(self, name: str) -> Resolved | None:
        """The value of setting ``name`` (any name outside the table is read as a plain key)."""
        if name not in self._resolved:
            self._resolved[name] = self._resolve(name)
        return self._resolved[name]

    def _resolve(self, name: str) -> Resolved | None:
        spec = setting_specs().get(name)
        if spec is None:
            value = self.flat.get(name)
            return Resolved(value, name) if _usable(value) else None
        for sp in spec.keys:
            value = self.flat.get(sp.key)
            if not _usable(value):
                continue
            if sp.when is not None and _truth(self.flat.get(sp.when)) is not True:
                continue
            return Resolved(value, sp.key)
        switches = [k for k in spec.off if k in self.flat]
        if switches and all(_truth(self.flat[k]) is False for k in switches):
            return Resolved(0.0, ", ".join(f"{k}: false" for k in switches))
        return None

    def key(self, name: str) -> str | None:
        """The key the run's config set ``name`` with (None: the config does not set it)."""
        found = self.resolve(name)
        return found.key if found is not None else None

    def has(self, name: str) -> bool:
        return self.resolve(name) is not None

    def get(self, name: str) -> Any:
        found = self.resolve(name)
        return found.value if found is not None else None

    def number(self, name: str) -> float | None:
        value = self.get(name)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) else None

    def spelling(self, name: str) -> str | None:
        """The key to name in advice about ``name``: the one the config used, else the run's
        framework spelling; None when the framework has no such setting."""
        found = self.key(name)
        if found is not None and "," not in found:
            return found
        spec = setting_specs().get(name)
        return spec.spelled_for(self.framework) if spec is not None else name

    def applies(self, name: str) -> bool:
        """Whether the run's framework has setting ``name`` at all."""
        spec = setting_specs().get(name)
        return spec is None or self.has(name) or spec.spelled_for(self.framework) is not None

    @property
    def kl_coef(self) -> float | None:
        """The KL penalty coefficient (0 when the config turns every KL term off), or None."""
        return self.number("beta")

    @property
    def is_rl(self) -> bool:
        algorithm = str(self.get("algorithm") or "").lower()
        if algorithm in ("sft", "pt", "rm"):
            return False
        return bool(algorithm) or self.has("beta") or self.has("num_generations")

    def items(self) -> Iterator[tuple[str, Resolved]]:
        """Every setting of the table the config sets, in table order."""
        for name in setting_specs():
            found = self.resolve(name)
            if found is not None:
                yield name, found

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: {"value": r.value, "key": r.key} for name, r in self.items()}
