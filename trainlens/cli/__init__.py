"""The command-line interface: a thin typer layer over the library API."""

from trainlens.cli import commands  # noqa: F401  (registers the commands on app)
from trainlens.cli.app import app, main

__all__ = ["app", "main"]
