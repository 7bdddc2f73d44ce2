"""``trainlens gate PATH --fail-on EXPR``: pass/fail a CI step on policies over the run(s)."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated

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
from trainlens.findings import Severity

POLICY_HELP = (
    "Policies are fail conditions: METRIC OP NUMBER (kl>10: at any logged point), an aggregate "
    "(max(kl)>10, mean(reward)<0.5, last(eval_score)<1.8, count(kl>10)>3; also min, median, std, "
    "sum, first), then optionally 'for N' (N consecutive logged points), 'after STEP' / "
    "'before STEP' (only steps > / < STEP). METRIC is a canonical name (see `trainlens metrics`) "
    "or a raw key; quote keys with other characters: '\"memory(GiB)\">70'. `loss==nan` fails "
    "on a NaN loss."
)


class GateFormat(str, Enum):
    text = "text"
    json = "json"


@app.command(
    help="Fail a CI step when a policy over the run(s) under PATH fails.\n\n"
    + POLICY_HELP
    + "\n\nPolicies in [gate] of the project config (fail_on, "
    "fail_on_severity, fail_on_rule, strict) apply too; command-line ones add to them.\n\n"
    + EXIT_CODES_HELP
)
def gate(
    path: PathArg,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on", metavar="EXPR", help="Fail when EXPR holds, e.g. 'kl>10'; repeatable."
        ),
    ] = None,
    fail_on_severity: Annotated[
        Severity | None,
        typer.Option("--fail-on-severity", help="Fail on any finding at or above this severity."),
    ] = None,
    fail_on_rule: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on-rule", metavar="RULE", help="Fail on any finding of this rule; repeatable."
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="A metric (or rule) a policy names but a run lacks is an error (exit 2) "
            "instead of a warning.",
        ),
    ] = False,
    format: Annotated[GateFormat, typer.Option("--format", "-f")] = GateFormat.text,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            metavar="FILE",
            help="Also write JUnit XML (one testcase per policy per run).",
        ),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            metavar="FILE",
            help="Also write a Markdown summary (verdict, failed policies, top findings) for a "
            "CI job page, e.g. $GITHUB_STEP_SUMMARY; the rules run to list the top findings.",
        ),
    ] = None,
    github: Annotated[
        bool | None,
        typer.Option(
            "--github-annotations/--no-github-annotations",
            help="Print ::error annotations on stderr (default: when GITHUB_ACTIONS=true).",
        ),
    ] = None,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang",
            help="Language of the rule findings' messages that --fail-on-rule / "
            "--fail-on-severity quote. The gate's own lines (PASS / FAIL / SKIP, evidence, "
            "verdicts, the summary) are always in English, for CI logs and scripts.",
        ),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = None,
) -> None:
    with handle_errors():
        from rich.markup import escape

        from trainlens.gate import build_policies, evaluate, needs_analysis
        from trainlens.gate.settings import GATE_KEYS, section
        from trainlens.render import gate_output

        cfg = project_config(config)
        policies = build_policies(
            fail_on=fail_on or (),
            fail_on_rule=fail_on_rule or (),
            strict=strict,
            fail_on_severity=fail_on_severity.value if fail_on_severity else None,
            config=section(cfg, "gate", GATE_KEYS),
            where=f"{cfg.path}: gate",
        )
        if not policies.policies:
            raise TrainlensError(
                "no policies to check: give --fail-on EXPR, --fail-on-severity "
                "or --fail-on-rule, or set gate.fail_on in trainlens.toml"
            )
        result = load_with_progress(
            path, alias_table(cfg, aliases), cache=cache_option(cache_dir, no_cache), jobs=jobs
        )
        print_warnings(result.warnings)
        if not result.runs:
            raise TrainlensError(f"{path}: no run with readable metrics")
        analysis = None
        text: gate_output.FindingText = gate_output.default_finding_text
        if needs_analysis(policies.policies) or summary is not None:
            from trainlens.gate.rulebook import check_rules, finding_text, load_analyzer

            rules, analyze = load_analyzer(cfg)
            check_rules(policies.policies, rules)
            analysis = analyze(result.runs)
            print_warnings(analysis.warnings)  # rules that crashed
            text = finding_text(rules, (lang.value if lang else None) or cfg.lang or "en")
        report = evaluate(policies.policies, result.runs, analysis, result.warnings)
        is_strict = policies.strict

        err = stderr_console()
        level = "[bold red]error:[/]" if is_strict else "[yellow]warning:[/]"
        for line in gate_output.missing_warnings(report, strict=is_strict):
            err.print(f"{level} {escape(line)}", markup=True, highlight=False, soft_wrap=True)
        if format is GateFormat.json:
            typer.echo(gate_output.render_json(report, strict=is_strict, finding_text=text))
        else:
            gate_output.render_terminal(
                report, stdout_console(), finding_text=text, strict=is_strict
            )
        if junit is not None:
            from trainlens.render import junit as junit_render

            _write(junit, junit_render.render_junit(report, strict=is_strict, finding_text=text))
        if summary is not None:
            from trainlens.render.gate_summary import render_summary

            found = analysis.findings if analysis is not None else ()
            doc = render_summary(report, strict=is_strict, finding_text=text, findings=found)
            write_output(summary, doc, what="the summary")
        if github if github is not None else os.environ.get("GITHUB_ACTIONS") == "true":
            for line in gate_output.github_annotations(report, strict=is_strict, finding_text=text):
                typer.echo(line, err=True)
        code = report.exit_code(strict=is_strict)
        style = "bold red" if code else "green"
        err.print(
            f"[{style}]{gate_output.summary_line(report, strict=is_strict)}[/]",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code)


def _write(path: Path, text: str) -> None:
    write_output(path, text, what="the JUnit file")
