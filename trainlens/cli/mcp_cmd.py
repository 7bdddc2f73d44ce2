"""``trainlens mcp``: serve the library's tools to coding agents over MCP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import Lang, handle_errors


@app.command(
    help="Serve trainlens to coding agents over the Model Context Protocol (stdio, or "
    "streamable HTTP with --http PORT): tools list_runs, metrics, series, analyze, finding, "
    "compare, gate, report. Paths are confined to the --root folders. Needs the mcp extra "
    "(pip install 'trainlens[mcp]').\n\n" + EXIT_CODES_HELP
)
def mcp(
    root: Annotated[
        list[Path] | None,
        typer.Option(
            "--root",
            metavar="DIR",
            help="A folder the tools may read (repeatable) [default: the working directory].",
        ),
    ] = None,
    http: Annotated[
        int | None,
        typer.Option("--http", metavar="PORT", help="Serve streamable HTTP on this port."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind with --http.")] = "127.0.0.1",
    budget: Annotated[
        int,
        typer.Option("--budget", metavar="CHARS", min=500, help="Characters per tool answer."),
    ] = 12_000,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of messages.")] = Lang.en,
) -> None:
    with handle_errors():
        from trainlens.mcp.roots import Roots
        from trainlens.mcp.server import _sdk, serve
        from trainlens.mcp.tools import Workspace

        _sdk()  # a missing SDK is a usage error before anything starts
        ws = Workspace(Roots(root or [Path.cwd()]), budget=budget, lang=lang.value)
        serve(ws, http=http, host=host)
