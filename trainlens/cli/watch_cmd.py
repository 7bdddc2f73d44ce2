"""``trainlens watch PATH``: follow a job that is still writing; alert on each new finding."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import (
    AliasesOpt,
    ConfigOpt,
    Lang,
    PathArg,
    alias_table,
    handle_errors,
    project_config,
    stderr_console,
    stdout_console,
)
from trainlens.cli.gate_cmd import POLICY_HELP
from trainlens.errors import TrainlensError
from trainlens.findings import Finding, Severity
from trainlens.watch_defaults import FULL_EVERY, INCREMENTAL_ABOVE

if TYPE_CHECKING:
    from rich.console import Console

    from trainlens.render.gate_output import FindingText
    from trainlens.watch import WatchEvent


class WatchFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


@app.command(
    help="Follow the run(s) under PATH while the job writes them: read only what is "
    "new, re-run the rules, print each new finding once. With --exit-on, exit 1 as "
    "soon as a policy fails (so a job wrapper can stop a run that is blowing up); "
    "Ctrl-C exits 0. A PATH that does not exist yet is waited for (a wrapper may start watch "
    "before the job creates its output).\n\n"
    + POLICY_HELP
    + "\n\nSettings in [watch] of the project "
    "config: interval, exit_on, fail_on_severity, fail_on_rule, lang.\n\n" + EXIT_CODES_HELP
)
def watch(
    path: PathArg,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval", metavar="SECONDS", min=0.05, help="Seconds between polls (default 5)."
        ),
    ] = None,
    exit_on: Annotated[
        list[str] | None,
        typer.Option(
            "--exit-on",
            metavar="EXPR",
            help="Exit 1 as soon as EXPR holds, e.g. 'kl>10 for 3'; repeatable.",
        ),
    ] = None,
    fail_on_severity: Annotated[
        Severity | None,
        typer.Option("--fail-on-severity", help="Exit 1 on a finding at or above this severity."),
    ] = None,
    fail_on_rule: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on-rule", metavar="RULE", help="Exit 1 on a finding of this rule; repeatable."
        ),
    ] = None,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang",
            help="Language of the findings' messages. Watch's own lines (found run, POLICY "
            "FAILED and its evidence, waiting, stopped) are always in English.",
        ),
    ] = None,
    rules: Annotated[
        bool,
        typer.Option(
            "--rules/--no-rules", help="Run the rules (--no-rules: only check --exit-on)."
        ),
    ] = True,
    format: Annotated[
        WatchFormat,
        typer.Option("--format", "-f", help="text, or jsonl: one JSON object per event on stdout."),
    ] = WatchFormat.text,
    full_every: Annotated[
        int,
        typer.Option(
            "--full-every",
            min=1,
            metavar="N",
            help=f"On a run big enough that re-checking it whole takes over "
            f"{INCREMENTAL_ABOVE:g} s: every rule over the whole run at least every N polls "
            "that changed it, and once it stops changing; in between the spike, NaN and "
            "instability-episode rules judge only the new points, and --fail-on-rule / "
            "--fail-on-severity see what they find.",
        ),
    ] = FULL_EVERY,
    max_polls: Annotated[
        int | None,
        typer.Option(
            "--max-polls", min=1, help="Stop after N polls (exit 0 unless a policy failed)."
        ),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
) -> None:
    with handle_errors():
        from rich.markup import escape

        from trainlens.gate import build_policies, needs_analysis
        from trainlens.gate.settings import WATCH_KEYS, section
        from trainlens.render import gate_output
        from trainlens.watch import tail_analyzer
        from trainlens.watch import watch as follow

        cfg = project_config(config)
        settings = section(cfg, "watch", WATCH_KEYS)
        where = f"{cfg.path}: watch"
        policies = build_policies(
            fail_on=exit_on or (),
            fail_on_rule=fail_on_rule or (),
            fail_on_severity=fail_on_severity.value if fail_on_severity else None,
            config=settings,
            where=where,
            expr_key="exit_on",
        ).policies
        seconds = interval if interval is not None else _interval(settings, where)
        language = (lang.value if lang else None) or settings.get("lang") or cfg.lang or "en"
        if language not in ("en", "zh"):
            raise TrainlensError(f"{where}.lang must be 'en' or 'zh'")
        analyze = analyze_tail = None
        text: gate_output.FindingText = gate_output.default_finding_text
        if rules:
            from trainlens.gate.rulebook import check_rules, finding_text, load_analyzer

            rule_set, analyze = load_analyzer(cfg)
            analyze_tail = tail_analyzer(rule_set, cfg.select, cfg.ignore)
            check_rules(policies, rule_set)
            text = finding_text(rule_set, language)
        elif needs_analysis(policies):
            raise TrainlensError(
                "--fail-on-severity / --fail-on-rule need the rules; drop --no-rules"
            )
        events = follow(
            path,
            policies=policies,
            analyze=analyze,
            analyze_tail=analyze_tail,
            aliases=alias_table(cfg, aliases),
            interval=seconds,
            max_polls=max_polls,
            full_every=full_every,
        )
        printer = _Printer(format, text)
        err = stderr_console()
        err.print(
            f"watching {escape(str(path))} every {seconds:g}s"
            + (f"; exit 1 when {', '.join(p.text for p in policies)}" if policies else "")
            + " (Ctrl-C to stop)",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        previous = _stop_on_sigterm()
        try:
            for event in events:
                printer.show(event)
        except KeyboardInterrupt:
            err.print(f"stopped after {printer.findings} new finding(s)", highlight=False)
            raise typer.Exit(0) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if printer.failed:
            err.print("[bold red]watch: policy failed[/]", markup=True, highlight=False)
            raise typer.Exit(1)
        never = f"; {path} never appeared" if printer.waiting and not printer.runs else ""
        err.print(
            f"watch: stopped after {printer.polls} poll(s), {printer.findings} new finding(s)"
            + never,
            highlight=False,
            soft_wrap=True,
        )


def _stop_on_sigterm() -> Any:
    """A job wrapper's SIGTERM stops the watch like Ctrl-C (exit 0); returns the old handler."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        return None


def _interval(settings: dict[str, Any], where: str) -> float:
    value = settings.get("interval", 5.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0.05:
        raise TrainlensError(f"{where}.interval must be a number of seconds >= 0.05")
    return float(value)


class _Printer:
    """Findings and failed policies on stdout; everything else on stderr."""

    def __init__(self, format: WatchFormat, finding_text: FindingText) -> None:
        self.jsonl = format is WatchFormat.jsonl
        self.text = finding_text
        self.out: Console = stdout_console()
        self.err: Console = stderr_console()
        self.failed = False
        self.findings = 0
        self.polls = 0
        self.runs = 0
        self.waiting = False

    def _json(self, kind: str, data: dict[str, Any]) -> None:
        typer.echo(json.dumps({"event": kind, "time": time.time(), **data}, ensure_ascii=False))

    def show(self, event: WatchEvent) -> None:
        from rich.markup import escape

        from trainlens.render import gate_output
        from trainlens.watch import (
            NewFinding,
            PathWaiting,
            PolicyFailed,
            PolicyWaiting,
            Polled,
            ReadIssue,
            RunFound,
        )

        if isinstance(event, Polled):
            self.polls = event.poll
        elif isinstance(event, NewFinding):
            self.findings += 1
            self._finding(event.finding)
        elif isinstance(event, PolicyFailed):
            self.failed = True
            r = event.result
            if self.jsonl:
                self._json("policy_failed", {"run": r.run, **gate_output.result_dict(r, self.text)})
            else:
                self.out.print(
                    f"{_now()}  [bold red]POLICY FAILED[/]  {escape(r.run)}  "
                    f"{escape(r.policy.text)}: "
                    f"{escape(gate_output.evidence(r, self.text))}",
                    soft_wrap=True,
                )
        elif isinstance(event, PathWaiting):
            self.waiting = True
            if self.jsonl:
                self._json("waiting", {"path": str(event.path)})
            self.err.print(
                f"waiting for {escape(str(event.path))} to appear (Ctrl-C to stop)",
                highlight=False,
                soft_wrap=True,
            )
        elif isinstance(event, RunFound):
            self.runs += 1
            if self.jsonl:
                self._json(
                    "run_found", {"run": event.run, "path": str(event.root), "format": event.format}
                )
            self.err.print(
                f"found run {escape(event.run)} ({event.format}) at {escape(str(event.root))}",
                highlight=False,
                soft_wrap=True,
            )
        elif isinstance(event, PolicyWaiting):
            self.err.print(
                f"[dim]note: run {escape(event.run)}: policy "
                f"{escape(event.policy.text)}: {escape(event.note)} (waiting for it)"
                "[/]",
                highlight=False,
                soft_wrap=True,
            )
        elif isinstance(event, ReadIssue):
            self.err.print(
                f"[yellow]warning:[/] {escape(str(event.warning))}", highlight=False, soft_wrap=True
            )

    def _finding(self, f: Finding) -> None:
        from rich.markup import escape

        message = self.text(f)
        if self.jsonl:
            self._json("finding", f.to_dict(message))
            return
        style = _SEVERITY_STYLE.get(f.severity, "bold")
        steps = (
            f"step {f.start_step}"
            if f.start_step == f.end_step
            else f"steps {f.start_step}–{f.end_step}"
        )
        self.out.print(
            f"{_now()}  [{style}]{f.severity.value.upper():7}[/] {escape(f.run)}  "
            f"{escape(f.metric)}  {steps}  {escape(message)}",
            soft_wrap=True,
        )


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")
