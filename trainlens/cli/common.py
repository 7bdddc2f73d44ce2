"""Helpers every command shares: error handling, consoles, options, loading with progress.

Nothing heavy is imported at module level (rich, pandas, the readers, the rule engine): the
commands import what they use when they run, so building the app, ``--help`` and shell
completion stay light (``tests/test_import_isolation.py``)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from trainlens.errors import TrainlensError

if TYPE_CHECKING:  # imported where used: building the CLI and --help stay light
    from rich.console import Console

    from trainlens.cache import CacheOption
    from trainlens.config import ProjectConfig
    from trainlens.diagnostics import ReadWarning
    from trainlens.discover import Discovery
    from trainlens.load import LoadResult
    from trainlens.metrics import AliasTable

T = TypeVar("T")


class Lang(str, Enum):
    """Languages of messages and reports."""

    en = "en"
    zh = "zh"


PathArg = Annotated[
    Path,
    typer.Argument(
        metavar="PATH", help="A log file, a run directory or a logdir holding many runs."
    ),
]
AliasesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--aliases",
        metavar="FILE",
        help="YAML file of extra metric aliases (canonical: [keys]); repeatable.",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Project config (trainlens.toml or a pyproject.toml with [tool.trainlens]); "
        "default: the nearest one above the working directory.",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Where parsed logs are cached between runs (default: $TRAINLENS_CACHE_DIR, else "
        "$XDG_CACHE_HOME/trainlens or ~/.cache/trainlens).",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Read every log again; neither use nor fill the cache (also: TRAINLENS_NO_CACHE=1).",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        min=1,
        metavar="N",
        help="Processes reading runs in parallel (default: one per CPU; 1: serial). Small "
        "inputs are read serially anyway.",
    ),
]


def cache_option(cache_dir: Path | None, no_cache: bool) -> CacheOption:
    """What ``--cache-dir`` / ``--no-cache`` ask of the loader."""
    return False if no_cache else cache_dir


def stderr_console() -> Console:
    """Summaries, warnings and progress go to stderr so stdout stays machine-readable."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    """The report console: rich on a terminal; wide plain text (nothing cut) when piped."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, width=400, no_color=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; return the Exit to raise."""
    from rich.markup import escape

    stderr_console().print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn a TrainlensError into ``error: ...`` + exit 2, anything unexpected into exit 3."""
    try:
        yield
    except typer.Exit:
        raise
    except TrainlensError as exc:
        raise fail(exc.message, exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into exit 3
        if os.environ.get("TRAINLENS_DEBUG"):
            traceback.print_exc()
        raise fail(
            f"internal error: {type(exc).__name__}: {exc} (set TRAINLENS_DEBUG=1 for a traceback)",
            3,
        ) from None


def run_safely(fn: Callable[[], T]) -> T:
    """Call ``fn`` inside :func:`handle_errors`."""
    with handle_errors():
        return fn()


def project_config(config: Path | None) -> ProjectConfig:
    """The config named with ``--config``, else the nearest one; its warnings (a broken
    ``pyproject.toml`` passed by, a setting ignored) go to stderr."""
    from trainlens.config import load_config

    if config is not None and not config.is_file():
        raise TrainlensError(f"{config}: config file not found")
    cfg = load_config(config)
    print_warnings(cfg.warnings)
    return cfg


def alias_table(cfg: ProjectConfig, extra: list[Path] | None) -> AliasTable:
    from trainlens.metrics import AliasTable

    return AliasTable.load([*cfg.alias_files, *(extra or [])], inline=cfg.aliases or None)


def write_output(path: Path, text: str, *, what: str = "output") -> None:
    """Write ``text`` to ``path`` (missing parent folders are created); any OS error becomes a
    one-line :class:`TrainlensError` (exit 2) naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TrainlensError(f"{path}: cannot write {what} ({exc.strerror or exc})") from exc


def print_warnings(warnings: list[ReadWarning]) -> None:
    from rich.markup import escape

    console = stderr_console()
    for w in warnings:
        console.print(
            f"[yellow]warning:[/] {escape(w.source)}: {escape(w.message)}",
            markup=True,
            highlight=False,
        )


def load_with_progress(
    path: Path,
    aliases: AliasTable,
    on_discovered: Callable[[Discovery], None] | None = None,
    *,
    cache: CacheOption = None,
    jobs: int | None = None,
) -> LoadResult:
    """``load_runs`` with a progress bar over the runs (the files of a single run) on stderr
    when it is a terminal; nothing is drawn when it is piped."""
    from trainlens.load import load_runs

    console = stderr_console()
    if not console.is_terminal:
        return load_runs(path, aliases=aliases, on_discovered=on_discovered, cache=cache, jobs=jobs)
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("reading logs", total=None)

        def update(done: int, total: int, current: str) -> None:
            progress.update(
                task, completed=done, total=total, description=f"reading {Path(current).name}"
            )

        return load_runs(
            path,
            aliases=aliases,
            progress=update,
            on_discovered=on_discovered,
            cache=cache,
            jobs=jobs,
        )


def is_piped() -> bool:
    return not sys.stdout.isatty()
