"""Bilingual report strings: ``templates/strings.yaml`` holds every label and every sentence the
report logic picks (recommendations, causes, targets) in both languages; Python only chooses a
key and its parameters, the catalog holds the wording."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from trainlens.errors import TrainlensError
from trainlens.resources import templates_dir

LANGS = ("en", "zh")


@dataclass(frozen=True)
class Text:
    """A catalog sentence by key with its (already formatted) parameters."""

    key: str
    params: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.params.items()))))


@cache
def _load(path: Path) -> dict[str, dict[str, str]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainlensError(f"{path}: cannot read report strings: {exc}") from exc
    flat: dict[str, dict[str, str]] = {}
    for section, entries in (doc or {}).items():
        for key, texts in (entries or {}).items():
            if not isinstance(texts, dict):
                raise TrainlensError(f"{path}: {section}.{key}: expected {{en: ..., zh: ...}}")
            flat[f"{section}.{key}"] = {str(k): str(v) for k, v in texts.items()}
    return flat


def catalog(path: Path | None = None) -> dict[str, dict[str, str]]:
    """``section.key`` → ``{lang: text}`` (the built-in ``templates/strings.yaml`` by default)."""
    return _load(path or templates_dir() / "strings.yaml")


def missing_translations(path: Path | None = None) -> list[str]:
    """``section.key (lang)`` for every entry lacking one of :data:`LANGS`."""
    return [
        f"{key} ({lang})"
        for key, texts in catalog(path).items()
        for lang in LANGS
        if not texts.get(lang, "").strip()
    ]


def _plain_format(template: str, params: Mapping[str, Any]) -> str:
    return template.format(**params)


class Translator:
    """Renders catalog entries in one language; a missing key is an internal error. ``format``
    fills a template with its parameters (the Markdown report passes one that escapes values
    from data: :func:`trainlens.render.md_escape.md_format`)."""

    def __init__(
        self,
        lang: str,
        path: Path | None = None,
        *,
        format: Callable[[str, Mapping[str, Any]], str] = _plain_format,
    ) -> None:
        if lang not in LANGS:
            raise TrainlensError(f"unknown language {lang!r} (choose from {', '.join(LANGS)})")
        self.lang = lang
        self._catalog = catalog(path)
        self._format = format

    def __call__(self, item: Text | str, **params: str) -> str:
        if isinstance(item, Text):
            key, params = item.key, {**item.params, **params}
        else:
            key = item
        try:
            template = self._catalog[key][self.lang]
        except KeyError:
            raise KeyError(
                f"report string {key!r} ({self.lang}) missing from strings.yaml"
            ) from None
        return self._format(template, params) if params else template
