"""S2: values from data (run folder names, metric keys, args.json values, paths) are escaped
for their Markdown context in the report and the compare report: no raw HTML, no shifted or
injected table rows, no broken code spans."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import cli, spiky_run

from trainlens.render.md_escape import md_cell, md_code, md_format, md_link_text, md_text

HTML = "<img src=x onerror=alert(1)>"
HOSTILE_RUNS = (f"run{HTML}", "pipe|run", "tick`tick", "link](javascript:x)")
HOSTILE_ARGS = {
    "beta": 0.04,
    "model": "m\n| injected | row |\n# heading",
    "output_dir": f"out{HTML}|x",
    "note`s": "a `code` b",
}


@pytest.fixture(scope="module")
def hostile_logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "logs"
    for name in HOSTILE_RUNS:
        run = spiky_run(root / name, args=HOSTILE_ARGS)
        # a metric key nobody aliases, so it is shown as logged
        lines = (run / "logging.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        for row in rows:
            if "loss" in row and "global_step/max_steps" in row:
                row[f"custom/{HTML}|`k`"] = 1.0
        (run / "logging.jsonl").write_text(
            "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8"
        )
    return root


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def check_markdown(text: str) -> None:
    """No raw HTML from data, every table row as wide as its header, no injected row or
    heading."""
    prose = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "CODE", text)  # code spans are inert
    assert "<img" not in prose and "onerror=alert(1)>" not in prose
    assert "&lt;img src=x onerror=alert(1)&gt;" in prose
    assert not re.search(r"(?m)^\| injected", text)
    assert not re.search(r"(?m)^# heading", text)
    assert not re.search(r"(?<!\\)\]\(javascript", prose)
    table: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            widths = {_unescaped_pipes(row) for row in table}
            assert len(widths) == 1, table
        table = []


def test_s2_markdown_escaping_report(hostile_logs, tmp_path):
    out = tmp_path / "pm.md"
    result = cli("report", hostile_logs, "-o", out, "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    check_markdown(text)
    assert "``tick`tick``" in text  # a longer fence around a backtick
    assert "pipe\\|run" in text  # a cell of the comparison table
    for name in HOSTILE_RUNS:  # one run section each
        assert md_code(name) in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_s2_markdown_escaping_single_run_report(hostile_logs, lang):
    result = cli("report", hostile_logs / HOSTILE_RUNS[0], "--lang", lang)
    assert result.exit_code == 0, result.output
    check_markdown(result.stdout)
    assert "m | injected" not in result.stdout and "m \\| injected \\| row \\| # heading" in (
        result.stdout
    )


def test_s2_markdown_escaping_compare(hostile_logs, tmp_path):
    out = tmp_path / "cmp.md"
    result = cli("compare", hostile_logs, "-o", out, "--format", "markdown")
    assert result.exit_code in (0, 1), result.output
    check_markdown(out.read_text(encoding="utf-8"))


def test_s2_markdown_escaping_helpers():
    assert (
        md_text("qwen3_8b reward/* 5e-06 checkpoint-600")
        == "qwen3_8b reward/* 5e-06 checkpoint-600"
    )
    assert md_text(HTML) == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_text("a|b\nc\r\nd`e\\") == "a\\|b c d\\`e\\\\"
    assert md_text("[x](y)") == "[x\\](y)"
    assert md_link_text("a]b[c") == "a\\]b\\[c"
    assert md_code("kl") == "`kl`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"
    assert md_code("a|b", cell=True) == "`a\\|b`"
    assert md_cell("a | b \\| c") == "a \\| b \\| c"
    assert md_format("`{key}` is {v:.2f} for {run}", {"key": "a`b", "v": 1.0, "run": "<r>"}) == (
        "``a`b`` is 1.00 for &lt;r&gt;"
    )


def _unescaped(text: str, char: str) -> int:
    """How many ``char`` in ``text`` are preceded by an even number of backslashes."""
    count = 0
    for i, c in enumerate(text):
        if c == char:
            j = i
            while j > 0 and text[j - 1] == "\\":
                j -= 1
            count += (i - j) % 2 == 0
    return count


_ANY = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.text(
    alphabet="`|\\<>&[]()\n\r *_#!", max_size=30
)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_s2_markdown_escaping_text_property(value):
    out = md_text(value)
    assert "<" not in out and ">" not in out
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", out)
    assert _unescaped(out, "|") == 0 and _unescaped(out, "`") == 0
    assert not re.search(r"(?<!\\)(?:\\\\)*\]\(", out)
    link = md_link_text(value)
    assert _unescaped(link, "[") == 0 and _unescaped(link, "]") == 0


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_s2_markdown_escaping_code_property(value):
    out = md_code(value, cell=True)
    fence = re.match(r"`+", out)[0]
    inner = out[len(fence) : -len(fence)]
    assert out.endswith(fence) and len(out) >= 2 * len(fence) + 1
    assert len(fence) not in {len(run) for run in re.findall(r"`+", inner)}
    assert not inner.startswith("`") and not inner.endswith("`")
    assert "\n" not in out and _unescaped(inner, "|") == 0


@given(st.text(alphabet=st.characters(categories=("L", "N")) | st.sampled_from("-_./ @%:+=")))
def test_s2_markdown_escaping_benign_unchanged(value):
    assert md_text(value) == value
    if value.strip() and value == value.strip():
        assert md_code(value) == f"`{value}`"
