"""The bilingual catalog and the two language templates stay complete and in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainlens.report.text import LANGS, Text, Translator, catalog, missing_translations
from trainlens.resources import templates_dir

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "trainlens" / "report").glob("*.py")),
    ROOT / "trainlens" / "render" / "markdown.py",
]
TEMPLATES = sorted(templates_dir().rglob("*.md.j2"))


def test_every_entry_has_both_languages():
    assert missing_translations() == []


def test_placeholders_match_between_languages():
    for key, texts in catalog().items():
        names = {lang: set(re.findall(r"{(\w+)}", texts[lang])) for lang in LANGS}
        assert names["en"] == names["zh"], key


def test_every_key_used_in_code_and_templates_exists():
    sections = "|".join(sorted({k.split(".")[0] for k in catalog()}))
    literal = re.compile(rf'"((?:{sections})\.[a-z_]*[a-z])"')
    used: set[str] = set()
    for path in [*SOURCES, *TEMPLATES]:
        used |= set(literal.findall(path.read_text("utf-8")))
    assert len(used) > 40, "too few catalog keys found: the scan is broken"
    assert sorted(used - set(catalog())) == []


def test_keys_built_at_run_time_exist():
    from trainlens.findings import Severity
    from trainlens.report.figures import LABELS
    from trainlens.report.model import EPISODE
    from trainlens.report.overview import FAMILY_ORDER

    keys = set(catalog())
    assert {f"family.{f}" for f in (EPISODE, *FAMILY_ORDER)} <= keys
    assert {f"severity.{s.value}" for s in Severity} | {"severity.healthy"} <= keys
    assert {f"chart.{name}" for name in LABELS} <= keys
    assert {
        "role.history",
        "role.metadata",
        "mark.peak",
        "mark.low",
        "mark.best",
        "mark.start",
    } <= keys
    from trainlens.report.overview import COMPARE_COLUMNS

    assert {f"label.column_{stat}" for _, stat in COMPARE_COLUMNS} <= keys


def test_language_templates_fill_the_same_blocks():
    blocks = {
        lang: set(
            re.findall(
                r"{%-?\s*block (\w+)", (templates_dir() / f"report.{lang}.md.j2").read_text("utf-8")
            )
        )
        for lang in LANGS
    }
    layout = set(
        re.findall(
            r"{%-?\s*block (\w+)",
            (templates_dir() / "partials" / "layout.md.j2").read_text("utf-8"),
        )
    )
    assert blocks["en"] == blocks["zh"] == layout


def test_chinese_entries_are_not_copies_of_english():
    same = [
        k
        for k, t in catalog().items()
        if t["en"] == t["zh"] and re.search(r"[A-Za-z]{4,} [A-Za-z]{4,}", t["en"])
    ]
    assert same == []


def test_translator_formats_and_rejects_unknown():
    t = Translator("zh")
    assert t(Text("advice.beta_raise", {"beta": "0.04"})).startswith("`beta` 为 0.04")
    with pytest.raises(KeyError):
        t("label.no_such_label")
