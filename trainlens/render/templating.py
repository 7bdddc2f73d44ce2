"""Jinja2 for every Markdown template, built-in or the user's: always the immutable sandbox, and
template faults (syntax, a missing include, an unsafe attribute, an undefined name) turned into
one :class:`TrainlensError` naming the template and line.

A template folder is code the user chose to run: the CLI takes one only from ``--templates`` or
from a config file named with ``--config``, never from a config found by walking up the folders
(``trainlens.cli.report_cmd``). The sandbox is the second wall: even a chosen template cannot
reach Python internals (``cycler.__init__.__globals__``) or mutate the report model."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from trainlens.errors import TrainlensError
from trainlens.render.md_escape import register_filters


def sandboxed_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """A fresh sandboxed environment with the Markdown settings every trainlens template uses
    (strict undefined names; no HTML autoescape, Markdown is not HTML: values from data go
    through the escaping filters of :mod:`trainlens.render.md_escape`)."""
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    register_filters(env.filters)
    return env


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost traceback frame that is template code (Jinja rewrites those frames to the
    template's file and line)."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2") or frame.f_globals.get("__jinja_template__") is not None:
            found = (filename, lineno)
    return found


def _where(name: str | None, filename: str | None, lineno: int | None) -> str:
    shown = filename or name or "template"
    return f"{shown}:{lineno}" if lineno else shown


def render_template(
    env: jinja2.Environment, name: str, context: Mapping[str, Any], *, user: bool
) -> str:
    """Render template ``name``. With ``user`` (template folders from the user are on the
    search path) every template fault is a :class:`TrainlensError` (exit 2) naming the template
    file and line; without, only a sandbox refusal is (a fault in a built-in template is a bug
    and propagates)."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        if not user:
            raise
        where = _where(exc.name, exc.filename, exc.lineno)
        raise TrainlensError(f"{where}: template syntax error: {exc.message}") from None
    except SecurityError as exc:
        frame = _template_frame(exc.__traceback__)
        where = _where(name, *(frame or (None, None)))
        raise TrainlensError(f"{where}: the template sandbox refused: {exc}") from None
    except (jinja2.TemplateNotFound, jinja2.UndefinedError, jinja2.TemplateError) as exc:
        if not user:
            raise
        frame = _template_frame(exc.__traceback__)
        where = _where(name, *(frame or (None, None)))
        if isinstance(exc, jinja2.TemplateNotFound):
            raise TrainlensError(f"{where}: template {exc.name!r} not found") from None
        raise TrainlensError(f"{where}: template error: {exc}") from None
