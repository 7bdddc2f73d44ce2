"""Escaping values from data (run names, metric keys, config values, paths, log excerpts) for the
Markdown context they land in. One place, used by the report and compare templates (as the
filters ``text``, ``link_text``, ``code``, ``code_cell``, ``cell`` and ``md``) and by the
helpers that phrase sentences with data in them (:func:`md_format`).

- text (a paragraph, a list item, a heading, a table cell): ``&``, ``<``, ``>`` become HTML
  entities (no raw HTML such as ``<img onerror=...>`` ever reaches the page), ``\\``, `````,
  ``|`` and a ``](`` that would start a link are backslash-escaped, and every line break or
  control character collapses to one space (a newline in an ``args.json`` value cannot start a
  table row or a heading). Emphasis characters (``*``, ``_``) are left alone: at worst they
  italicise, and ``reward/*`` or ``qwen3_8b`` stay readable in the source;
- link text (``![alt](...)``): text, with every bracket escaped;
- text a model or a job wrote (``md``): every Markdown character escaped, nothing left to act;
- a code span: the value verbatim on one line, fenced by more backticks than it contains; in a
  table cell its ``|`` is escaped as well (GitHub splits cells on ``|`` even inside code).

Benign values (``qwen3_8b``, ``reward/format``, ``checkpoint-600``, ``5e-06``) come out unchanged,
so reports of ordinary runs stay byte for byte the same."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_TEXT = re.compile(r"[&<>\\`|]|\](?=[(\[:])")
_LINK_TEXT = re.compile(r"[&<>\\`|\[\]]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKTICKS = re.compile(r"`+")
_CODE_PLACEHOLDER = re.compile(r"`\{(\w+)\}`")


def one_line(value: object) -> str:
    """``value`` as text on one line: line breaks and control characters become one space."""
    return _BREAKS.sub(" ", str(value))


def md_text(value: object) -> str:
    """``value`` escaped for Markdown text: a paragraph, list item, heading or table cell."""
    return _TEXT.sub(lambda m: _ENTITIES.get(m[0]) or "\\" + m[0], one_line(value))


#: Every character Markdown or HTML may act on anywhere in a line.
_INERT = re.compile(r"[\\`*_\[\]<>#|~&]")


def md_inert(value: object) -> str:
    """Text a model or a job wrote (completions, log excerpts) as inert Markdown on one line:
    every character Markdown or HTML could act on is escaped (``&``, ``<``, ``>`` as entities),
    so no emphasis, heading, link, table cell or tag can come out of it."""
    return _INERT.sub(lambda m: _ENTITIES.get(m[0]) or "\\" + m[0], one_line(value))


def md_link_text(value: object) -> str:
    """``value`` escaped for the text of a link or the alt text of an image."""
    return _LINK_TEXT.sub(lambda m: _ENTITIES.get(m[0]) or "\\" + m[0], one_line(value))


def md_code(value: object, *, cell: bool = False) -> str:
    """``value`` as a complete inline code span (fences included), fenced by one backtick more
    than its longest run of backticks; ``cell``: inside a table cell (``|`` escaped)."""
    text = one_line(value)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or not text.strip():
        text = f" {text} "
    if cell:  # GitHub splits a row at a | after an even number of backslashes, code or not
        text = re.sub(r"(\\*)\|", lambda m: m[1] * 2 + "\\|", text)
    return f"{fence}{text}{fence}"


def md_fenced(text: str, info: str = "") -> str:
    """``text`` as a fenced code block whose fence is longer than any backtick run inside it
    (so data cannot close the block)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def md_cell(markdown: str) -> str:
    """Already rendered Markdown (escaped values inside) made safe for one table cell: on one
    line, every ``|`` that is not already escaped escaped."""
    return re.sub(r"(?<!\\)((?:\\\\)*)\|", r"\1\\|", one_line(markdown))


def md_format(template: str, params: Mapping[str, Any]) -> str:
    """``template.format(**params)`` with every string parameter escaped for where it lands: a
    placeholder written as a code span (``"`{key}`"``) becomes a code span of the value, any
    other placeholder escaped text. Numbers keep their format specs."""
    codes = set(_CODE_PLACEHOLDER.findall(template))
    if codes:
        template = _CODE_PLACEHOLDER.sub(lambda m: "{" + m[1] + "}", template)
    escaped = {
        k: md_code(v) if k in codes else md_text(v) if isinstance(v, str) else v
        for k, v in params.items()
    }
    return template.format(**escaped)


def md_escape_value(value: Any) -> Any:
    """Every string inside ``value`` (lists, tuples and dict values included) escaped as
    Markdown text; numbers, booleans and None unchanged."""
    if isinstance(value, str):
        return md_text(value)
    if isinstance(value, list):
        return [md_escape_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(md_escape_value(v) for v in value)
    if isinstance(value, dict):
        return {k: md_escape_value(v) for k, v in value.items()}
    return value


def register_filters(filters: dict[str, Any]) -> None:
    """Add the escaping filters to a Jinja environment's ``filters``."""
    filters.update(
        text=md_text,
        link_text=md_link_text,
        code=md_code,
        code_cell=lambda value: md_code(value, cell=True),
        cell=md_cell,
        md=md_inert,
    )
