"""``trainlens audit completions FILE...``: what the model wrote (``kind: audit`` rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from trainlens.cli.analyze_cmd import LangOpt, RulesOpt
from trainlens.cli.audit_cmd import audit_app
from trainlens.cli.audit_log_cmd import AuditFormat
from trainlens.cli.common import (
    ConfigOpt,
    handle_errors,
    print_warnings,
    project_config,
    stderr_console,
    stdout_console,
)
from trainlens.errors import TrainlensError


@audit_app.command("completions")
def audit_completions_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="ms-swift completions.jsonl, inference results (JSONL) or JSON lists.",
        ),
    ],
    stop: Annotated[
        str | None,
        typer.Option(help="String that closes the answer (default: found, e.g. '</answer>')."),
    ] = None,
    require_tags: Annotated[
        str | None,
        typer.Option(metavar="TAG,...", help="Tags every response must open and close."),
    ] = None,
    gold_key: Annotated[
        str | None, typer.Option(help="Key of the gold answer (default: found).")
    ] = None,
    response_key: Annotated[
        str | None,
        typer.Option(help="Key of the response; dotted for nested (outputs.0.text)."),
    ] = None,
    answer_pattern: Annotated[
        str | None,
        typer.Option(metavar="REGEX", help="Regex whose group 'answer' (or 1) is the answer."),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Local tokenizer folder for token lengths."),
    ] = None,
    max_new_tokens: Annotated[
        int | None,
        typer.Option(help="Generation limit in tokens (default: args.json beside the file)."),
    ] = None,
    format: Annotated[AuditFormat, typer.Option("--format", "-f")] = AuditFormat.text,
    lang: LangOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Audit responses: unclosed / unparseable answers, strict vs diagnostic accuracy, empty,
    one-token and looping responses, tag compliance, lengths, and every rate per step."""
    with handle_errors():
        for f in files:
            if not f.is_file():
                raise TrainlensError(f"{f}: not a file")
        from trainlens.audit.api import run_completions_audit

        cfg = project_config(config)
        result = run_completions_audit(
            files,
            cfg,
            rules_dirs=rules or [],
            stop=stop,
            require_tags=tuple(t.strip() for t in (require_tags or "").split(",") if t.strip()),
            gold_key=gold_key,
            response_key=response_key,
            answer_pattern=answer_pattern,
            tokenizer=tokenizer,
            max_new_tokens=max_new_tokens,
        )
        language = lang.value if lang else (cfg.lang or "en")
        from rich.text import Text

        if format is AuditFormat.json:  # the text form shows them on stdout
            err = stderr_console()
            for info in result.audit.files:
                err.print(Text(f"{info.path}: {info.keys}; {info.format}", style="dim"))
        print_warnings(result.audit.warnings)
        analysis = result.analysis
        if format is AuditFormat.json:
            from trainlens.audit.document import audit_document

            doc = audit_document(
                result.audit,
                analysis.findings,
                lambda f: analysis.message(f, language),
                lambda f: analysis.title(f, language),
            )
            typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
            return
        from trainlens.render.audit_terminal import render_audit
        from trainlens.render.findings_terminal import render_finding

        console = stdout_console()
        render_audit(console, result.audit, language)
        if not analysis.findings:
            console.print(
                Text("no audit finding" if language == "en" else "未发现审计问题", style="green")
            )
        for finding in analysis.findings:
            render_finding(console, analysis, finding, language)
