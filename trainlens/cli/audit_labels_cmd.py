"""``trainlens audit labels FILE``: which tokens a fine-tuning batch supervises."""

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
    stdout_console,
)
from trainlens.errors import TrainlensError


@audit_app.command("labels")
def audit_labels_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="JSONL with input_ids and labels, or a torch .pt batch."
        ),
    ],
    tokenizer: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Local tokenizer folder (needed by --answer-only)."),
    ] = None,
    answer_only: Annotated[
        bool,
        typer.Option(help="Expect only the <answer>…</answer> span to be supervised."),
    ] = False,
    format: Annotated[AuditFormat, typer.Option("--format", "-f")] = AuditFormat.text,
    lang: LangOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Supervised-token share per sample and overall (labels ≠ -100), samples with no
    supervised token, supervised prompts, labels that are not the tokens, and with
    --answer-only and --tokenizer, supervision outside the answer."""
    with handle_errors():
        if not file.is_file():
            raise TrainlensError(f"{file}: not a file")
        if answer_only and tokenizer is None:
            raise TrainlensError("--answer-only needs --tokenizer DIR to find the answer tags")
        from trainlens.analysis import Analysis
        from trainlens.audit.api import project_rules
        from trainlens.audit.labels import audit_labels, label_findings
        from trainlens.findings import SCHEMA_VERSION, json_safe

        cfg = project_config(config)
        ruleset = project_rules(cfg, rules or [])
        specs = ruleset.select(cfg.select, cfg.ignore, kind="audit")
        decoder = None
        if tokenizer is not None:
            from trainlens.audit.tokens import load_tokenizer

            decoder = load_tokenizer(tokenizer)
        audit = audit_labels(file, tokenizer=decoder, answer_only=answer_only)
        findings = label_findings(audit, specs, file.name)
        analysis = Analysis(
            runs=[], findings=findings, skipped=[], warnings=audit.warnings, rules=ruleset
        )
        print_warnings(audit.warnings)
        language = lang.value if lang else (cfg.lang or "en")
        if format is AuditFormat.json:
            doc = {
                "schema_version": SCHEMA_VERSION,
                "summary": audit.summary(),
                "examples": {k: [e.to_dict() for e in v] for k, v in audit.examples.items()},
                "findings": [
                    {
                        **f.to_dict(analysis.message(f, language)),
                        "title": analysis.title(f, language),
                        "params": dict(f.params),
                    }
                    for f in findings
                ],
            }
            typer.echo(json.dumps(json_safe(doc), indent=2, ensure_ascii=False))
            return
        from rich.table import Table
        from rich.text import Text

        from trainlens.render.findings_terminal import render_finding

        console = stdout_console()
        console.print(Text(str(file), style="bold"))
        table = Table(show_header=False, box=None, pad_edge=False)
        for name, value in audit.summary().items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            table.add_row(name, "—" if value is None else str(value))
        console.print(table)
        if not findings:
            console.print(
                Text("label masks look fine" if language == "en" else "标签掩码正常", style="green")
            )
        for finding in findings:
            render_finding(console, analysis, finding, language)
