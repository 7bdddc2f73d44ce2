"""``trainlens metrics PATH``: what was found, under which canonical names."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from trainlens.cli.app import app
from trainlens.cli.common import (
    AliasesOpt,
    ConfigOpt,
    PathArg,
    alias_table,
    handle_errors,
    load_with_progress,
    print_warnings,
    project_config,
    stdout_console,
)


class MetricsFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def metrics(
    path: PathArg,
    format: Annotated[MetricsFormat, typer.Option("--format", "-f")] = MetricsFormat.text,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List every metric of every run found under PATH, with its canonical name."""
    with handle_errors():
        from trainlens.render import metrics as render

        cfg = project_config(config)
        result = load_with_progress(path, alias_table(cfg, aliases))
        print_warnings(result.warnings)
        if format is MetricsFormat.json:
            typer.echo(render.render_json(result))
        else:
            render.render_terminal(result, stdout_console())
