"""``trainlens rules``: list the rules; ``trainlens rules show ID``: one rule's documentation."""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from trainlens.cli.analyze_cmd import LangOpt, RulesOpt
from trainlens.cli.app import app
from trainlens.cli.common import ConfigOpt, handle_errors, project_config, stdout_console

if TYPE_CHECKING:
    from trainlens.engine.spec import RuleSet

rules_app = typer.Typer(
    help="List the rules, or show one rule's documentation.", no_args_is_help=False
)
app.add_typer(rules_app, name="rules")


class RulesFormat(str, Enum):
    text = "text"
    json = "json"


def _ruleset(rules_dirs: list | None, config: object) -> tuple[RuleSet, str | None]:
    from trainlens.analysis import merge_params, param_sources
    from trainlens.engine.spec import load_rules

    cfg = project_config(config)  # type: ignore[arg-type]
    rules = load_rules(
        [*cfg.rules_dirs, *(rules_dirs or [])],
        merge_params(cfg.rule_params),
        sources=param_sources(cfg, None),
    )
    return rules, cfg.lang


@rules_app.callback(invoke_without_command=True)
def rules_list(
    ctx: typer.Context,
    lang: LangOpt = None,
    rules: RulesOpt = None,
    format: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.text,
    config: ConfigOpt = None,
) -> None:
    """List every rule: id, severity, metrics and title."""
    if ctx.invoked_subcommand is not None:
        return
    with handle_errors():
        ruleset, cfg_lang = _ruleset(rules, config)
        language = lang.value if lang else (cfg_lang or "en")
        if format is RulesFormat.json:
            typer.echo(
                json.dumps(
                    [
                        {
                            "id": s.id,
                            "severity": s.severity.value,
                            "family": s.family,
                            "kind": s.kind,
                            "detector": s.detector or None,
                            "metrics": list(s.metrics),
                            "title": s.text("title", language),
                            "params": s.params,
                            "escalate": {
                                sev.value: [dict(alt) for alt in alts] for sev, alts in s.escalate
                            },
                            "path": str(s.path),
                        }
                        for s in ruleset
                    ],
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return
        from rich.table import Table

        table = Table(box=None, show_edge=False, pad_edge=False)
        for col in ("id", "severity", "metrics", "title"):
            table.add_column(col)
        for s in ruleset:
            table.add_row(
                s.id, s.severity.value, ", ".join(s.metrics) or "-", s.text("title", language)
            )
        stdout_console().print(table)


@rules_app.command("show")
def rules_show(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="The rule id, e.g. kl_spike.")],
    lang: LangOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print one rule's documentation: what it does, why it matters, causes, advice and its
    parameters with their defaults."""
    with handle_errors():
        ruleset, cfg_lang = _ruleset(rules, config)
        language = lang.value if lang else (cfg_lang or "en")
        from trainlens.engine.docs import rule_doc

        typer.echo(rule_doc(ruleset.get(rule_id), language))
