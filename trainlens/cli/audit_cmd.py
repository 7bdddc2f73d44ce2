"""``trainlens audit``: the group of audits of what a job printed and what the model wrote.
Each audit registers its subcommand on :data:`audit_app` from its own module."""

from __future__ import annotations

import typer

from trainlens.cli.app import app

audit_app = typer.Typer(
    help="Audit what a job printed (console logs) and what the model wrote (completions, "
    "predictions, label masks).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
