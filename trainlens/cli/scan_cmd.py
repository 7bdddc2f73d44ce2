"""``trainlens scan LOGDIR``: every run of a logdir analysed into Parquet / DuckDB tables,
locally or on a Dask cluster. Heavy modules are imported inside the command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainlens.cli.app import EXIT_CODES_HELP, app

if TYPE_CHECKING:
    from rich.console import Console

    from trainlens.fleet.executors import ScanProgress
    from trainlens.fleet.scan import ScanResult


class ScanFormat(str, Enum):
    table = "table"
    json = "json"


@app.command(
    epilog=EXIT_CODES_HELP + " A run that cannot be read is a row with its error, not a failure."
)
def scan(
    logdir: Annotated[
        Path, typer.Argument(metavar="LOGDIR", help="A folder holding many runs (any depth).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the tables: X.parquet (findings there, runs in the same name with "
            "'findings' replaced by 'runs', else X_runs.parquet) or X.duckdb (tables runs and "
            "findings). Needs trainlens[fleet].",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only runs whose newest file changed since DATE: 2026-12-01, "
            "2026-12-01T08:30 (local time unless +HH:MM or Z) or an age: 90m, 12h, 2d, 1w.",
        ),
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            help="local (a process pool) or dask://HOST:PORT (an existing Dask scheduler whose "
            "workers see the same paths and run the same trainlens).",
        ),
    ] = "local",
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="Processes of the local executor (default: the cores)."),
    ] = None,
    format: Annotated[
        ScanFormat,
        typer.Option("--format", "-f", help="table: runs that need a look; json: a summary."),
    ] = ScanFormat.table,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Only these rule ids (globs; comma-separated or repeated)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Skip these rule ids (globs; comma-separated or repeated)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Override a rule parameter: RULE.NAME=VALUE (repeatable)."),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Folder of extra rule files (<id>.yaml); repeatable."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="FILE", help="Project config (default: the nearest one above)."
        ),
    ] = None,
) -> None:
    """Scan every run under LOGDIR into a runs table and a findings table (DuckDB-queryable)."""
    import json

    from trainlens.cli.analyze_cmd import parse_params, split_ids
    from trainlens.cli.common import (
        handle_errors,
        print_warnings,
        project_config,
        stderr_console,
        stdout_console,
    )
    from trainlens.fleet.scan import scan as run_scan
    from trainlens.fleet.scan import settings_from

    with handle_errors():
        cfg = project_config(config)
        settings = settings_from(
            cfg,
            rules_dirs=rules or [],
            params=parse_params(param),
            select=split_ids(select),
            ignore=split_ids(ignore),
        )
        with _progress(stderr_console()) as progress:
            result = run_scan(
                logdir,
                out=out,
                since=since,
                executor=executor,
                jobs=jobs,
                settings=settings,
                progress=progress,
            )
        print_warnings(result.warnings)
        if format is ScanFormat.json:
            typer.echo(json.dumps(result.summary(), indent=2, ensure_ascii=False))
        else:
            _print_table(result, stdout_console())
        from trainlens.render.scan_terminal import summary_line

        stderr_console().print(summary_line(result), highlight=False)


def _print_table(result: ScanResult, console: Console) -> None:
    from trainlens.render.scan_terminal import runs_table

    console.print(runs_table(result))
    for path in result.outputs:
        console.print(f"wrote {path}", highlight=False)


@contextmanager
def _progress(console: Console) -> Iterator[ScanProgress]:
    """A rich bar over runs on a terminal, started at the first finished run (after the local
    pool has forked its workers, so they inherit no thread of it); a plain line per tenth of
    the runs when stderr is not a terminal."""
    if not console.is_terminal:
        shown = 0

        def plain(done: int, total: int, name: str) -> None:
            nonlocal shown
            if done == total or done - shown >= max(1, total // 10):
                shown = done
                stamp = f"{datetime.now():%H:%M:%S}"
                console.print(f"{stamp} scanned {done}/{total} runs", highlight=False)

        yield plain
        return
    from rich.progress import Progress, TaskID

    bar = Progress(console=console, transient=True)
    task: TaskID | None = None

    def update(done: int, total: int, name: str) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("scanning runs", total=total)
        bar.update(task, completed=done, total=total, description=f"scanned {name}")

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
