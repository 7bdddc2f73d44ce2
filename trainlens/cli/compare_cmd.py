"""``trainlens compare RUN...``: several runs side by side, and the checkpoint to keep in each."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console

from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import (
    AliasesOpt,
    ConfigOpt,
    Lang,
    alias_table,
    handle_errors,
    load_with_progress,
    print_warnings,
    project_config,
    stderr_console,
    stdout_console,
    write_output,
)
from trainlens.compare import compare_runs, unique_names
from trainlens.config import ProjectConfig
from trainlens.errors import TrainlensError
from trainlens.metrics import AliasTable
from trainlens.render import compare as render
from trainlens.run import Run


class CompareFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


_SETTINGS: dict[str, type | tuple[type, ...]] = {
    "metric": str,
    "drop": (int, float),
    "window": int,
    "lang": str,
}


def _settings(cfg: ProjectConfig) -> dict[str, Any]:
    """``[compare]`` defaults from the project config, validated."""
    return cfg.checked_section("compare", _SETTINGS)


def load_all(paths: list[Path], aliases: AliasTable) -> list[Run]:
    """Read every PATH (run dir or logdir); names made unique, the same run read once."""
    runs: list[Run] = []
    items: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for path in paths:
        result = load_with_progress(path, aliases)
        print_warnings(result.warnings)
        label = path.resolve().name
        parent = path.resolve().parent.name
        for run in result.runs:
            where = Path(run.path).resolve()
            if where in seen:
                stderr_console().print(
                    f"note: {run.name} given twice; compared once", highlight=False
                )
                continue
            seen.add(where)
            name = run.name if run.name not in ("", ".") else label
            prefix = parent if name == label else label
            items.append((name, f"{prefix}/{name}" if prefix else name))
            runs.append(run)
    for run, name in zip(runs, unique_names(items)):
        run.name = name
    return runs


@app.command(epilog=EXIT_CODES_HELP)
def compare(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...",
            help="Run directories, or logdirs holding several runs (any mix).",
            show_default=False,
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            "-m",
            help="Score metric, canonical (eval_score, eval_loss, reward, loss...) or a raw "
            "key. Default: the first the runs share of: a validation score or reward "
            "(eval_score), eval_loss, an eval accuracy (eval_acc, eval_token_acc...), the "
            "training reward; else the one most runs log (no best run is named then). A "
            "training or policy loss is never the default. The other eval metrics a run logs "
            "are checked too (notes).",
        ),
    ] = None,
    drop: Annotated[
        float | None,
        typer.Option(
            "--drop",
            help="Worsening from the best that counts as degradation when two points in a "
            "row show it: a share of |best|, or of the series' range when it crosses or sits "
            "near zero [default: 0.2].",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Rolling-median window (points) applied to the score before finding the "
            "best and the onset; 0 = auto (none for eval series, ~5% of the points for dense "
            "training series) [default: 0].",
            show_default=False,
        ),
    ] = None,
    format: Annotated[CompareFormat, typer.Option("--format", "-f")] = CompareFormat.text,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang",
            help="Language of the report [default: en, or lang from the project config].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file (Markdown: with the chart in "
            "FILE_STEM_assets/score.png) instead of stdout.",
        ),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Compare runs on one score metric: best, degradation onset, final value, the checkpoint to
    keep, the trends that explain the difference and the config keys that differ.

    Dense training series are smoothed first (rolling median); the values reported are then
    those of the smoothed curve. A drop is a share of the best value, or of the series' range
    when it crosses zero or its best lies near zero ("of range")."""
    with handle_errors():
        cfg = project_config(config)
        settings = _settings(cfg)
        language = lang.value if lang else settings.get("lang") or cfg.lang or "en"
        runs = load_all(paths, alias_table(cfg, aliases))
        if not runs:
            raise TrainlensError("no runs found under " + ", ".join(str(p) for p in paths))
        cmp = compare_runs(
            runs,
            metric=metric or settings.get("metric"),
            drop=float(drop if drop is not None else settings.get("drop", 0.2)),
            window=window if window is not None else settings.get("window"),
        )
        if format is CompareFormat.json:
            _emit(render.render_json(cmp, language) + "\n", output)
        elif format is CompareFormat.markdown:
            chart, missing = None, "stdout"
            if output is not None:
                assets = output.parent / f"{output.stem}_assets"
                try:
                    drawn = render.render_chart(cmp, assets / "score.png")
                except OSError as exc:
                    raise TrainlensError(f"{assets}: cannot write the chart ({exc})") from exc
                if drawn:
                    chart = quote(f"{assets.name}/score.png")
                missing = "no_data"
            _emit(render.render_markdown(cmp, language, chart, chart_missing=missing), output)
        elif output is not None:
            buffer = _unwrapped(record=True, file=io.StringIO())
            render.render_terminal(cmp, buffer, language)
            _emit(_strip_line_ends(buffer.export_text()), output)
        else:
            console = stdout_console()
            if not console.is_terminal:  # piped: never wrap a table (a cell is never folded)
                buffer = _unwrapped(record=True, file=io.StringIO())
                render.render_terminal(cmp, buffer, language)
                _emit(_strip_line_ends(buffer.export_text()), None)
            else:
                render.render_terminal(cmp, console, language)
        if output is not None:
            stderr_console().print(f"wrote {output}", highlight=False)


#: Width of the console for piped and file output: wide enough that no table wraps.
_UNWRAPPED_WIDTH = 100_000


def _unwrapped(**kwargs: Any) -> Console:
    """A plain console (no colour, no highlighting) so wide that tables never wrap."""
    return Console(
        width=_UNWRAPPED_WIDTH, highlight=False, soft_wrap=False, color_system=None, **kwargs
    )


def _strip_line_ends(text: str) -> str:
    """Trailing blanks off every line (a table pads its last column)."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    write_output(output, text, what="the comparison")
