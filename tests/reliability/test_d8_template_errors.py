"""D8: a user template with a syntax error, a missing include or an undefined name is a usage
error (exit 2) naming the template and line, not an internal error."""

from __future__ import annotations

import pytest
from reliability_support import EXAMPLE, cli


@pytest.mark.parametrize(
    "text, message",
    [
        ("# title\n{% if report %}\nno end\n", "report.en.md.j2:3: template syntax error"),
        ("# title\n{{ report.runs | nosuchfilter }}\n", "report.en.md.j2:2: template syntax error"),
        (
            '# title\n\n{% include "partials/nope.md.j2" %}\n',
            "report.en.md.j2:3: template 'partials/nope.md.j2' not found",
        ),
        ("# {{ no_such_name }}\n", "report.en.md.j2:1: template error"),
    ],
)
def test_d8_template_errors_exit_2(tmp_path, text, message):
    (tmp_path / "report.en.md.j2").write_text(text, encoding="utf-8")
    result = cli("report", EXAMPLE, "--templates", tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert str(tmp_path) in result.stderr
    assert "internal error" not in result.stderr


def test_d8_template_errors_in_a_partial(tmp_path):
    """An error inside an included user partial names the partial, not the top template."""
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "sources.md.j2").write_text("ok\n{% for %}\n", encoding="utf-8")
    result = cli("report", EXAMPLE, "--templates", tmp_path)
    assert result.exit_code == 2, result.output
    assert "sources.md.j2:2" in result.stderr
