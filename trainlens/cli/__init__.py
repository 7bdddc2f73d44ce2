"""The command-line interface: a thin typer layer over the library API.

Importing this package is cheap: ``trainlens --version`` answers before typer, pandas or any
command module is imported; the typer application (with every command registered) is built on
first use of :data:`app` or :func:`main`.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        from trainlens._version import __version__

        print(f"trainlens {__version__}")
        return
    from trainlens.cli.app import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":
        from trainlens.cli import commands  # noqa: F401  (registers the commands on app)
        from trainlens.cli.app import app

        globals()["app"] = app  # shadows the submodule of the same name, as an import would
        return app
    raise AttributeError(f"module 'trainlens.cli' has no attribute {name!r}")
