"""``trainlens report PATH``: the Markdown postmortem (Chinese or English) with its charts."""

from __future__ import annotations

import datetime as dt
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
    print_warnings,
    project_config,
    stderr_console,
    write_output,
)
from trainlens.errors import TrainlensError

if TYPE_CHECKING:
    from trainlens.config import ProjectConfig

_SETTINGS: dict[str, type | tuple[type, ...]] = {"lang": str, "charts": bool, "templates": str}


def _settings(cfg: ProjectConfig) -> dict[str, Any]:
    """``[report]`` defaults from the project config, validated."""
    section = cfg.checked_section("report", _SETTINGS)
    if "templates" in section and cfg.path is not None:
        section["templates"] = str(cfg.path.parent / section["templates"])
    return section


def parse_date(text: str | None) -> dt.date | None:
    """``--date YYYY-MM-DD`` (None: today)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise TrainlensError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def assets_dir_for(output: Path) -> Path:
    """Charts of ``postmortem.md`` go to ``postmortem_assets/`` beside it."""
    return output.with_name(f"{output.stem}_assets")


def check_output(output: Path, assets: Path | None) -> None:
    """Refuse, before any work, an ``--output`` that cannot be a file: an existing folder, or a
    path below a regular file. Missing parent folders are fine (they are created)."""
    if output.is_dir():
        raise TrainlensError(
            f"{output}: is a folder; give a file name, e.g. -o {output / 'postmortem.md'}"
        )
    for parent in output.parents:
        if parent.exists():
            if not parent.is_dir():
                raise TrainlensError(f"{output}: {parent} is a file, not a folder")
            break
    if assets is not None and assets.exists() and not assets.is_dir():
        raise TrainlensError(f"{assets}: charts go to this folder, but it is a file")


def _prepare(output: Path, assets: Path | None) -> bool:
    """Create the folder of ``output`` and of its charts when missing; True when the charts
    folder is new (so that it can be removed again if no chart is drawn)."""
    new = assets is not None and not assets.exists()
    for folder in (output.parent, assets):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainlensError(f"{folder}: cannot create the folder ({exc.strerror})") from exc
    return new


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@app.command(epilog=EXIT_CODES_HELP)
def report(
    path: PathArg,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang",
            "-l",
            help="Language of the report [default: en, or lang from the project config].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file (missing parent folders are created); charts "
            "go to FILE_STEM_assets/ beside it. Without it the report (no charts) goes to "
            "stdout.",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Analysis date shown in the header, YYYY-MM-DD (for reproducible "
            "output) [default: today].",
            show_default=False,
        ),
    ] = None,
    charts: Annotated[
        bool | None,
        typer.Option(
            "--charts/--no-charts",
            help="Draw PNG charts (needs --output) [default: on].",
            show_default=False,
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Run only these rules (ids or glob patterns); repeatable."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Skip these rules (ids or glob patterns); repeatable."),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Extra folder of rule YAML files; repeatable."),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            help="Folder of templates overriding the built-in ones (e.g. a "
            "report.en.md.j2 that changes some blocks); rendered in Jinja2's sandbox. Also "
            "[report] templates of a config named with --config, never of one found by "
            "walking up the folders.",
        ),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = None,
) -> None:
    """Write the postmortem of the run(s) under PATH: verdict, overview, one section per finding
    with its key-data table, chart, causes and config-aware recommendations, and a summary with
    monitoring targets for the next run."""
    with handle_errors():
        from trainlens.analysis import analyze
        from trainlens.render.markdown import render_markdown
        from trainlens.report.figures import own_charts

        cfg = project_config(config)
        settings = _settings(cfg)
        language = lang.value if lang else settings.get("lang") or cfg.lang or "en"
        when = parse_date(date)
        template_dir = templates or (
            Path(settings["templates"]) if "templates" in settings else None
        )
        if template_dir is not None and not template_dir.is_dir():
            raise TrainlensError(f"{template_dir}: templates folder not found")
        draw = charts if charts is not None else settings.get("charts", True)
        assets = assets_dir_for(output) if output is not None and draw else None
        if output is not None:
            check_output(output, assets)
        result = analyze(
            path,
            config=cfg,
            aliases=alias_table(cfg, aliases),
            rules_dirs=rules or (),
            select=select or (),
            ignore=ignore or (),
            cache=cache_option(cache_dir, no_cache),
            jobs=jobs,
        )
        print_warnings(result.warnings)
        new_assets = _prepare(output, assets) if output is not None else False
        text = render_markdown(
            result,
            lang=language,
            charts=assets is not None,
            assets_dir=assets,
            date=when,
            analysed_paths=[path],
            template_dirs=[template_dir] if template_dir else (),
        )
        if output is None:
            typer.echo(text, nl=False)
            return
        write_output(output, text, what="the report")
        drawn = len(own_charts(assets)) if assets is not None else 0
        if assets is not None and new_assets and not any(assets.iterdir()):
            assets.rmdir()  # nothing to draw: leave no empty folder behind
        note = f" ({_plural(drawn, 'chart')} in {assets})" if drawn else ""
        stderr_console().print(f"wrote {output}{note}", highlight=False)
