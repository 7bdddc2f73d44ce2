"""``trainlens audit log FILE...``: the failures a job printed (``log_pattern`` rules)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trainlens.cli.analyze_cmd import LangOpt, RulesOpt
from trainlens.cli.audit_cmd import audit_app
from trainlens.cli.common import (
    ConfigOpt,
    handle_errors,
    print_warnings,
    project_config,
    stdout_console,
)
from trainlens.errors import TrainlensError


class AuditFormat(str, Enum):
    text = "text"
    json = "json"


@audit_app.command("log")
def audit_log(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Console logs (nohup.out, output.log).")
    ],
    format: Annotated[AuditFormat, typer.Option("--format", "-f")] = AuditFormat.text,
    lang: LangOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Find the failures a job printed: out-of-memory errors, tracebacks, NCCL timeouts, NaN
    losses, killed processes, ignored generation flags, over-long sequences."""
    with handle_errors():
        cfg = project_config(config)
        for f in files:
            if not f.is_file():
                raise TrainlensError(f"{f}: not a file")
        from trainlens.analysis import Analysis, merge_params, param_sources
        from trainlens.discover import has_metric_lines
        from trainlens.engine.spec import load_rules
        from trainlens.findings import SCHEMA_VERSION, json_safe
        from trainlens.logscan import log_findings, scan_logs

        ruleset = load_rules(
            [*cfg.rules_dirs, *(rules or [])],
            merge_params(cfg.rule_params),
            sources=param_sources(cfg, None),
        )
        specs = ruleset.select(cfg.select, cfg.ignore, kind="log_pattern")
        language = lang.value if lang else (cfg.lang or "en")
        findings = []
        warnings = []
        for path in files:
            scans, scan_warnings = scan_logs([path], specs)
            warnings.extend(scan_warnings)
            has_metrics = has_metric_lines(path)
            findings += log_findings(scans, specs, path.name, step=0, has_metrics=has_metrics)
        analysis = Analysis(
            runs=[], findings=findings, skipped=[], warnings=warnings, rules=ruleset
        )
        print_warnings(warnings)
        if format is AuditFormat.json:
            doc = {
                "schema_version": SCHEMA_VERSION,
                "findings": [
                    {
                        **f.to_dict(analysis.message(f, language)),
                        "title": analysis.title(f, language),
                        "params": json_safe(dict(f.params)),
                    }
                    for f in findings
                ],
            }
            typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
            return
        from rich.text import Text

        from trainlens.render.findings_terminal import render_finding

        console = stdout_console()
        for file in files:
            mine = [f for f in findings if f.params.get("file") == str(file)]
            console.print(Text(str(file), style="bold"))
            if not mine:
                console.print(
                    Text(
                        "  no failure messages found" if language == "en" else "  未发现错误消息",
                        style="green",
                    )
                )
            for finding in sorted(
                mine, key=lambda f: (-f.severity.rank, f.params.get("first_line") or 0)
            ):
                render_finding(console, analysis, finding, language)
