"""Canonical metric names: framework keys resolved through ``rules/metrics.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainlens.errors import TrainlensError
from trainlens.resources import rules_dir

_EXACT, _PATTERN, _SUFFIX = 0, 1, 2


@dataclass(frozen=True)
class MetricInfo:
    """What the alias table says about one canonical metric."""

    name: str
    family: str = "other"
    direction: str | None = None  # "up": higher is better, "down": lower is better
    description: str = ""


@dataclass(frozen=True)
class Resolution:
    """A raw key's canonical name; ``rank`` orders several keys of one run mapping to one name."""

    canonical: str
    rank: tuple[int, int, int]


#: What tensorboardX (and torch's writer before 1.5, PyTorch PR 33133) does to a tag: every
#: character outside ``[-/\w.]`` becomes ``_`` and leading slashes go (TensorFlow's old
#: ``clean_tag``). verl's ``val-core/<data>/reward/mean@1`` arrives as ``.../mean_1``.
_WRITER_INVALID = re.compile(r"[^-/\w.]")
_REGEX_SPECIAL = set(".^$*+?{}[]|()\\")
_CLASS_ESCAPES = set("dDwWsSbBAZ0123456789")


def writer_spelling(key: str) -> str:
    """``key`` as a TensorBoard writer that cleans tags stores it (``mean@1`` → ``mean_1``)."""
    return _WRITER_INVALID.sub("_", key).lstrip("/")


def writer_tolerant(pattern: str) -> str:
    """``pattern`` that also matches the writer spelling of what it matches: each literal
    character a writer replaces (``@``, ``(``, ``%``, a space ...) also matches ``_``.
    Character classes, escapes such as ``\\d`` and group syntax are left as they are."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            literal = e not in _CLASS_ESCAPES and not e.isalpha()
            out.append(
                _either(pattern[i : i + 2])
                if literal and _WRITER_INVALID.match(e)
                else pattern[i : i + 2]
            )
            i += 2
        elif c == "[":  # a character class runs to its unescaped closing bracket
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
        elif c == "(" and pattern.startswith("?", i + 1):  # group head: (?:  (?P<n>  (?!  (?<=
            j = i + 2
            if pattern.startswith("P<", j) or (
                pattern.startswith("<", j) and pattern[j + 1 : j + 2] not in "=!"
            ):
                j = pattern.index(">", j) + 1
            elif pattern.startswith("P=", j):
                j = pattern.index(")", j)
            else:
                j += 1 if pattern[j : j + 1] in ":=!" else 2
            out.append(pattern[i:j])
            i = j
        elif c == "{":  # a quantifier {m,n}: its comma is syntax
            j = pattern.find("}", i)
            if j > 0 and re.fullmatch(r"\d*,?\d*", pattern[i + 1 : j]):
                out.append(pattern[i : j + 1])
                i = j + 1
            else:
                out.append(_either(re.escape(c)))
                i += 1
        else:
            out.append(
                _either(re.escape(c)) if c not in _REGEX_SPECIAL and _WRITER_INVALID.match(c) else c
            )
            i += 1
    return "".join(out)


def _either(literal: str) -> str:
    return f"(?:{literal}|_)"


def normalise_key(key: str) -> str:
    """Undo the HF TensorBoard callback's renaming: ``train/x`` → ``x``, ``eval/x`` → ``eval_x``."""
    if key.startswith("train/"):
        return key[len("train/") :]
    if key.startswith("eval/"):
        return "eval_" + key[len("eval/") :]
    return key


@dataclass
class AliasTable:
    """Maps raw metric keys (any framework) to canonical names. A key also matches as a
    TensorBoard writer stores it (:func:`writer_spelling`), and so does a pattern."""

    infos: dict[str, MetricInfo] = field(default_factory=dict)
    _exact: dict[str, tuple[str, int, int]] = field(
        default_factory=dict
    )  # key -> (canon, layer, i)
    _suffix: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    _spellings: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # writer_spelling
    _patterns: list[tuple[re.Pattern[str], str, int, int]] = field(default_factory=list)
    _cache: dict[str, Resolution | None] = field(default_factory=dict)

    @classmethod
    def load(
        cls, extra: list[Path] | None = None, inline: dict[str, Any] | None = None
    ) -> AliasTable:
        """The built-in table, then each user file in ``extra``, then ``inline`` config aliases.
        Later layers take priority over earlier ones for the same key."""
        table = cls()
        table.add(
            _read_yaml(rules_dir() / "metrics.yaml", fast=True),
            layer=0,
            origin="built-in metrics.yaml",
        )
        for i, path in enumerate(extra or [], start=1):
            table.add(_read_yaml(path), layer=-i, origin=str(path))
        if inline:
            table.add(inline, layer=-(len(extra or []) + 1), origin="project config [aliases]")
        return table

    def add(self, doc: Any, *, layer: int, origin: str) -> None:
        """Add one layer of aliases (lower ``layer`` = higher priority)."""
        metrics = doc.get("metrics", doc) if isinstance(doc, dict) else None
        if not isinstance(metrics, dict):
            raise TrainlensError(f"{origin}: expected a mapping of canonical names to keys")
        for name, spec in metrics.items():
            if isinstance(spec, list):
                spec = {"keys": spec}
            if not isinstance(spec, dict):
                raise TrainlensError(f"{origin}: metric {name!r}: expected keys: [...] or a list")
            unknown = set(spec) - {
                "keys",
                "patterns",
                "any_prefix",
                "family",
                "direction",
                "description",
            }
            if unknown:
                raise TrainlensError(
                    f"{origin}: metric {name!r}: unknown field(s) {', '.join(sorted(unknown))}"
                )
            _check_alias_fields(name, spec, origin)
            old = self.infos.get(name)
            self.infos[name] = MetricInfo(
                name=name,
                family=spec.get("family", old.family if old else "other"),
                direction=spec.get("direction", old.direction if old else None),
                description=spec.get("description", old.description if old else ""),
            )
            for i, key in enumerate(spec.get("keys", []) or []):
                entry = (name, layer, i)
                norm = normalise_key(str(key))
                if norm not in self._exact or self._exact[norm][1] >= layer:
                    self._exact[norm] = entry
                if spec.get("any_prefix"):
                    self._suffix.setdefault(norm, entry)
                    if self._suffix[norm][1] > layer:
                        self._suffix[norm] = entry
                written = writer_spelling(norm)  # a key itself always wins over a spelling
                if written != norm and self._spellings.get(written, (0, 1))[1] >= layer:
                    self._spellings[written] = entry
            for i, pattern in enumerate(spec.get("patterns", []) or []):
                try:
                    compiled = re.compile(writer_tolerant(pattern))
                except re.error as exc:
                    raise TrainlensError(
                        f"{origin}: metric {name!r}: bad pattern {pattern!r}: {exc}"
                    ) from exc
                self._patterns.append((compiled, name, layer, i))
        self._patterns.sort(key=lambda p: p[2])
        self._cache.clear()

    def resolve(self, key: str) -> Resolution | None:
        """The canonical name of a raw key, or None when no alias matches."""
        if key in self._cache:
            return self._cache[key]
        norm = normalise_key(key)
        result: Resolution | None = None
        if norm in self._exact or norm in self._spellings:
            name, layer, i = self._exact.get(norm) or self._spellings[norm]
            result = Resolution(name, (layer, _EXACT, i))
        else:
            for pattern, name, layer, i in self._patterns:
                m = pattern.fullmatch(norm)
                if m:
                    canonical = name.format(**{k: v.lower() for k, v in m.groupdict().items()})
                    result = Resolution(canonical, (layer, _PATTERN, i))
                    break
            if result is None and "/" in norm:
                last = norm.rsplit("/", 1)[1]
                if last in self._suffix:
                    name, layer, i = self._suffix[last]
                    result = Resolution(name, (layer, _SUFFIX, i))
        self._cache[key] = result
        return result

    def info(self, canonical: str) -> MetricInfo:
        """Family / direction of a canonical name (``reward/format`` → ``reward/{name}``)."""
        if canonical in self.infos:
            return self.infos[canonical]
        if "/" in canonical:
            head = canonical.split("/", 1)[0] + "/{name}"
            if head in self.infos:
                base = self.infos[head]
                return MetricInfo(canonical, base.family, base.direction, base.description)
        return MetricInfo(canonical)


def _check_alias_fields(name: Any, spec: dict[str, Any], origin: str) -> None:
    """Each field of one alias entry has its type, else a :class:`TrainlensError` naming the
    file (``keys: 5`` in a user's file is a usage error, not a crash)."""
    where = f"{origin}: metric {name!r}"
    if not isinstance(name, str) or not name:
        raise TrainlensError(f"{where}: a canonical name must be a non-empty string")
    for listed, kinds in (("keys", (str, int, float)), ("patterns", (str,))):
        value = spec.get(listed)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, kinds) for v in value)
        ):
            raise TrainlensError(f"{where}: {listed} must be a list of strings")
    for text in ("family", "description"):
        if spec.get(text) is not None and not isinstance(spec[text], str):
            raise TrainlensError(f"{where}: {text} must be a string")
    if spec.get("direction") not in (None, "up", "down"):
        raise TrainlensError(f"{where}: direction must be up or down")
    if not isinstance(spec.get("any_prefix", False), bool):
        raise TrainlensError(f"{where}: any_prefix must be true or false")


#: libyaml's safe loader when PyYAML has it (the alias table is read by every command).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path, *, fast: bool = False) -> Any:
    """A YAML file with a safe loader: libyaml's for the built-in table (``fast``), the pure
    Python one for a user's file (its depth errors name the file the same way everywhere)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_LOADER if fast else yaml.SafeLoader)
    except OSError as exc:
        raise TrainlensError(f"{path}: cannot read alias file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise TrainlensError(f"{path}: alias file is not UTF-8 text (byte {exc.start})") from exc
    except RecursionError:
        raise TrainlensError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        raise TrainlensError(f"{path}: invalid YAML: {exc}") from exc
