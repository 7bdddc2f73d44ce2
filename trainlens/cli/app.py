"""The typer application; command modules register themselves on :data:`app`."""

from __future__ import annotations

from typing import Annotated

import typer

from trainlens._version import __version__

EXIT_CODES_HELP = (
    "Exit codes: 0 ran clean, 1 gate or policy failed, 2 usage / config / input error, "
    "3 internal error."
)

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Read LLM training logs (SFT, reward/critic warm-up, PPO, GRPO, DPO) and explain what "
    "went wrong, where, and what to do about it.\n\n" + EXIT_CODES_HELP,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trainlens {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Root options."""


def register(argv: list[str]) -> None:
    """Import the command modules, each of which registers itself on :data:`app`. A call
    ``trainlens NAME ...`` imports only NAME's (``NAME_cmd``, ``NAME_*_cmd``): the command
    starts without building every other one (``trainlens gate`` in CI); anything else (no
    command, an option first, an unknown name) imports them all."""
    import importlib
    import pkgutil

    import trainlens.cli

    name = argv[0] if argv else ""
    found = [m.name for m in pkgutil.iter_modules(trainlens.cli.__path__)]
    mine = [
        m
        for m in found
        if name.isidentifier()
        and (m == f"{name}_cmd" or (m.startswith(f"{name}_") and m.endswith("_cmd")))
    ]
    for module in mine if f"{name}_cmd" in mine else ["commands"]:
        importlib.import_module(f"trainlens.cli.{module}")


def main() -> None:
    """Console-script entry point."""
    import signal
    import sys

    register(sys.argv[1:])
    if hasattr(signal, "SIGPIPE"):  # `trainlens analyze runs/ | head`: end quietly, as cat does
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    app()
