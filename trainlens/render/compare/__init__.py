"""Output of ``trainlens compare``: terminal tables, the JSON document, Markdown (en / zh) and the
score chart. Every sentence is phrased from the library's :class:`~trainlens.compare.Note`s with
the strings of ``templates/compare_strings.yaml``.

Modules: ``messages`` (the strings and the sentence for each note), ``formatting`` (numbers),
``cells`` (cells shared by terminal and Markdown), ``terminal``, ``json_doc``, ``markdown`` and
``chart``.
"""

from __future__ import annotations

from trainlens.render.compare.cells import MAX_CONFIG_ROWS, shared_key
from trainlens.render.compare.chart import render_chart
from trainlens.render.compare.formatting import change, num, pct
from trainlens.render.compare.json_doc import (
    SCHEMA_VERSION,
    comparison_document,
    render_json,
    run_dict,
)
from trainlens.render.compare.markdown import markdown_context, render_markdown
from trainlens.render.compare.messages import labels, message, strings_path
from trainlens.render.compare.terminal import render_terminal
from trainlens.report.text import LANGS

__all__ = [
    "LANGS",
    "MAX_CONFIG_ROWS",
    "SCHEMA_VERSION",
    "change",
    "comparison_document",
    "labels",
    "markdown_context",
    "message",
    "num",
    "pct",
    "render_chart",
    "render_json",
    "render_markdown",
    "render_terminal",
    "run_dict",
    "shared_key",
    "strings_path",
]
