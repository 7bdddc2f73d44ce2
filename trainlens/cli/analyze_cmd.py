"""``trainlens analyze PATH``: run the rules, print findings with their evidence."""

from __future__ import annotations

import importlib
import io
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import (
    AliasesOpt,
    CacheDirOpt,
    ConfigOpt,
    JobsOpt,
    Lang,
    NoCacheOpt,
    PathArg,
    alias_table,
    cache_option,
    handle_errors,
    load_with_progress,
    print_warnings,
    project_config,
    stderr_console,
    stdout_console,
    write_output,
)
from trainlens.errors import TrainlensError

if TYPE_CHECKING:
    from trainlens.analysis import Analysis


class AnalyzeFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


LangOpt = Annotated[
    Lang | None,
    typer.Option(
        "--lang", help="Language of the messages (default: the project config's, else en)."
    ),
]
RulesOpt = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="Folder of extra rule files (<id>.yaml); repeatable."),
]


def parse_params(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``RULE.NAME=VALUE`` (VALUE read as YAML: 5, 0.2, true, up) → ``{rule: {name: value}}``."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        rule, dot, param = name.strip().partition(".")
        if not sep or not dot or not rule or not param:
            raise TrainlensError(
                f"--param {item!r}: expected RULE.NAME=VALUE, e.g. kl_spike.limit=5"
            )
        try:
            value = yaml.safe_load(raw)
        except (yaml.YAMLError, RecursionError):
            value = raw
        out.setdefault(rule, {})[param] = value
    return out


def split_ids(values: list[str] | None) -> list[str]:
    """Rule ids from repeated and/or comma-separated options."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _markdown(analysis: Analysis, lang: str) -> str:
    try:
        module = importlib.import_module("trainlens.render.markdown")
    except ModuleNotFoundError as exc:
        if exc.name != "trainlens.render.markdown":
            raise
        raise TrainlensError("--format markdown is not available in this version") from None
    return str(module.render_markdown(analysis, lang=lang, charts=False))


def emit(analysis: Analysis, fmt: AnalyzeFormat, lang: str, output: Path | None) -> None:
    """Write the report in ``fmt`` to ``output`` or stdout."""
    from rich.console import Console

    from trainlens.render.findings_json import render_json
    from trainlens.render.findings_terminal import render_terminal

    if fmt is AnalyzeFormat.text:
        if output is None:
            render_terminal(analysis, stdout_console(), lang)
            return
        buffer = io.StringIO()
        render_terminal(analysis, Console(file=buffer, width=120, highlight=False), lang)
        write_output(output, buffer.getvalue(), what="the analysis")
        return
    text = render_json(analysis, lang) if fmt is AnalyzeFormat.json else _markdown(analysis, lang)
    if output is None:
        typer.echo(text)
    else:
        write_output(output, text + "\n", what="the analysis")


@app.command(epilog=EXIT_CODES_HELP + " Findings alone never fail analyze (use trainlens gate).")
def analyze(
    path: PathArg,
    format: Annotated[AnalyzeFormat, typer.Option("--format", "-f")] = AnalyzeFormat.text,
    lang: LangOpt = None,
    rules: RulesOpt = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select", help="Only these rule ids (globs allowed; comma-separated or repeated)."
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore", help="Skip these rule ids (globs allowed; comma-separated or repeated)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Override a rule parameter: RULE.NAME=VALUE (repeatable), e.g. kl_spike.limit=5.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = None,
) -> None:
    """Diagnose every run under PATH: anomalies with the steps, numbers and advice."""
    with handle_errors():
        from trainlens.analysis import analyze_runs, merge_params, param_sources
        from trainlens.engine.spec import load_rules

        cfg = project_config(config)
        language = lang.value if lang else (cfg.lang or "en")
        overrides = parse_params(param)
        ruleset = load_rules(
            [*cfg.rules_dirs, *(rules or [])],
            merge_params(cfg.rule_params, overrides),
            sources=param_sources(cfg, overrides),
        )
        chosen = split_ids(select) or cfg.select
        dropped = [*cfg.ignore, *split_ids(ignore)]
        specs = ruleset.select(chosen, dropped)  # fail on unknown ids before reading any log
        from trainlens.audit.runs import SETTINGS as AUDIT_SETTINGS
        from trainlens.scan_ahead import ScanAhead

        with ScanAhead(specs) as ahead:
            result = load_with_progress(
                path,
                alias_table(cfg, aliases),
                ahead.start_discovered,
                cache=cache_option(cache_dir, no_cache),
                jobs=jobs,
            )
            print_warnings(result.warnings)
            analysis = analyze_runs(
                result.runs,
                rules=ruleset,
                select=chosen,
                ignore=dropped,
                warnings=result.warnings,
                audit=cfg.checked_section("audit", AUDIT_SETTINGS),
                scans=ahead,
            )
        print_warnings(analysis.warnings[len(result.warnings) :])
        emit(analysis, format, language, output)
        from trainlens.render.findings_terminal import summary_line

        stderr_console().print(summary_line(analysis, language), highlight=False)
