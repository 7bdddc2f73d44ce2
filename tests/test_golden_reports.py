"""Golden postmortems: every example in both languages, byte for byte.

Regenerate after an intended change with ``make golden`` (or
``TRAINLENS_REGEN_GOLDEN=1 pytest tests/test_golden_reports.py``) and review the diff. The golden
files are what ``trainlens report examples/<name> --lang <lang> --date 2026-01-01 -o
postmortem.md`` writes (charts linked from ``postmortem_assets/``)."""

from __future__ import annotations

import os
import re
import struct
from functools import cache
from pathlib import Path

import pytest

from trainlens.analysis import Analysis, analyze
from trainlens.render.markdown import render_markdown, render_model
from trainlens.report.figures import MANIFEST, own_charts
from trainlens.report.model import build_report

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = (
    "critic_warmup",
    "degrading_runs",
    "grpo_kl_episodes",
    "grpo_kl_stuck",
    "healthy_grpo",
    "sft_overfit",
)
LANGS = ("en", "zh")
DATE = "2026-01-01"
ASSETS = "postmortem_assets"
REGEN = bool(os.environ.get("TRAINLENS_REGEN_GOLDEN"))


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in the reports are relative to the working directory


@cache
def analysis(example: str) -> Analysis:
    return analyze(ROOT / "examples" / example)


def golden_markdown(example: str, lang: str) -> str:
    """The report with its chart links, without drawing the charts (the image test draws)."""
    result = analysis(example)
    report = build_report(
        result, charts=True, date=DATE, analysed_paths=[Path("examples") / example]
    )
    return render_model(report, result.rules, lang=lang, assets_href=ASSETS)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_report(example, lang):
    text = golden_markdown(example, lang)
    path = GOLDEN / f"{example}.{lang}.md"
    if REGEN:
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} missing: run `make golden`"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{path.name} differs: review, then `make golden`"


@pytest.mark.parametrize("example", EXAMPLES)
def test_report_is_portable(example):
    text = golden_markdown(example, "zh")
    assert str(ROOT) not in text and "/tmp/" not in text
    assert not re.search(r"(?m)(^|[\s(`])/(home|root|mnt|Users|openbayes|tmp|work)/", text)
    assert text == golden_markdown(example, "zh")  # same input, same bytes


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_tables_are_well_formed(example, lang):
    """Every Markdown table has a delimiter row and the same number of cells in each row, so
    it renders on GitHub and wikis; no table runs to thousands of rows."""
    blocks: list[list[str]] = [[]]
    for line in golden_markdown(example, lang).splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    tables = [b for b in blocks if b]
    assert tables
    for table in tables:
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table[0]
        assert re.fullmatch(r"\|(-{3}:?\|)+", table[1].replace(":-", "-").replace("---:", "---"))
        assert len(table) < 80


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_linked_chart_exists_and_is_a_png(example, tmp_path):
    out = tmp_path / "postmortem.md"
    text = render_markdown(
        analysis(example),
        lang="en",
        charts=True,
        assets_dir=tmp_path / ASSETS,
        date=DATE,
        analysed_paths=[Path("examples") / example],
    )
    out.write_text(text, encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links, "a report without charts"
    for link in links:
        assert not link.startswith(("/", "http")), link
        width, height = _png_size(out.parent / link)
        assert 300 <= width <= 1200 and 200 <= height <= 1200
    drawn = {p.name for p in (tmp_path / ASSETS).iterdir() if p.name != MANIFEST}
    assert drawn == {Path(link).name for link in links}  # nothing unlinked left behind
    assert set(own_charts(tmp_path / ASSETS)) == drawn  # the manifest lists exactly those
    if not REGEN:  # the same Markdown as the golden file: drawing changes no byte of it
        assert text == (GOLDEN / f"{example}.en.md").read_text(encoding="utf-8")


def _english_rule_texts(result: Analysis) -> set[str]:
    texts: set[str] = set()
    for spec in result.rules:
        for section in ("title", "why"):
            texts.add(getattr(spec, section)["en"])
        for section in ("causes", "advice"):
            texts.update(getattr(spec, section)["en"])
    from trainlens.engine.spec import render_message

    texts.update(render_message(f, result.rules.get(f.rule), "en") for f in result.findings)
    return {t for t in texts if len(t) > 12}  # short ones ("KL spike") may be shared terms


def _english_prose(text: str) -> list[str]:
    """Runs of six or more English words outside code spans and quoted engine/reader text."""
    prose = re.sub(r"`[^`]*`", "", text)  # code: metric names, settings
    prose = re.sub(r"(?s)<details>.*?</details>", "", prose)
    prose = re.sub(r"(?s)## 读取日志时的警告（原文）.*", "", prose)  # reader messages, quoted
    return re.findall(r"(?:[A-Za-z][A-Za-z'-]+[ ,]+){5,}[A-Za-z]+", prose)


@pytest.mark.parametrize("example", EXAMPLES)
def test_chinese_report_has_no_untranslated_text(example):
    result = analysis(example)
    text = golden_markdown(example, "zh")
    english_texts = _english_rule_texts(result)
    assert sorted(t for t in english_texts if t in text) == []
    assert _english_prose(text) == []
    english = golden_markdown(example, "en")  # the checks do see English when it is there
    assert _english_prose(english)
    assert not result.findings or any(t in english for t in english_texts)


def test_every_rule_has_both_languages():
    result = analysis(EXAMPLES[0])
    for spec in result.rules:
        for section in ("title", "message", "why"):
            texts = getattr(spec, section)
            assert texts.get("en", "").strip() and texts.get("zh", "").strip(), (
                f"{spec.id}.{section}"
            )
        for section in ("causes", "advice"):
            texts = getattr(spec, section)
            assert texts.get("en") and texts.get("zh"), f"{spec.id}.{section}"


@pytest.mark.parametrize(
    "name", ["critic_warmup", "grpo_kl_episodes", "grpo_kl_stuck", "sft_overfit"]
)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_recommendation_is_made_once(name: str, lang: str) -> None:
    """A single-run report says each recommendation in one finding section; the others refer
    to it (the critic's "lower the learning rate" used to appear in five sections)."""
    text = (GOLDEN / f"{name}.{lang}.md").read_text(encoding="utf-8")
    heading = "**Recommendations:**" if lang == "en" else "**建议：**"
    seen: list[str] = []
    for block in text.split(heading)[1:]:
        body = block.split("\n\n", 2)[1] if block.startswith("\n\n") else block
        items = [
            re.sub(r"^\d+\. ", "", line) for line in body.splitlines() if re.match(r"\d+\. ", line)
        ]
        seen.extend(i for i in items if "finding" not in i and "项发现" not in i)
    assert len(seen) == len(set(seen)), [s for s in seen if seen.count(s) > 1]
