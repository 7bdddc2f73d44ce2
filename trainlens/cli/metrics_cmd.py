"""``trainlens metrics PATH``: what was found, under which canonical names."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from trainlens.cli.app import app
from trainlens.cli.common import (
    AliasesOpt,
    CacheDirOpt,
    ConfigOpt,
    JobsOpt,
    NoCacheOpt,
    PathArg,
    alias_table,
    cache_option,
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
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = None,
) -> None:
    """List every metric of every run found under PATH, with its canonical name."""
    with handle_errors():
        from trainlens.render import metrics as render

        cfg = project_config(config)
        result = load_with_progress(
            path, alias_table(cfg, aliases), cache=cache_option(cache_dir, no_cache), jobs=jobs
        )
        print_warnings(result.warnings)
        if format is MetricsFormat.json:
            typer.echo(render.render_json(result))
        else:
            render.render_terminal(result, stdout_console())
