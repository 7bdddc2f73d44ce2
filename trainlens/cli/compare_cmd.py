"""``trainlens compare RUN...``: several runs side by side, and the checkpoint to keep in each."""

from __future__ import annotations

import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from trainlens.cache import CacheOption
from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import (
    AliasesOpt,
    CacheDirOpt,
    ConfigOpt,
    JobsOpt,
    Lang,
    NoCacheOpt,
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
    from rich.console import Console

    from trainlens.config import ProjectConfig
    from trainlens.metrics import AliasTable
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


def load_all(
    paths: list[Path],
    aliases: AliasTable,
    by_path: dict[Path, list[Run]] | None = None,
    *,
    cache: CacheOption = None,
    jobs: int | None = None,
) -> list[Run]:
    """Read every PATH (run dir or logdir); names made unique, the same run read once.
    ``by_path`` (when given) receives the runs each PATH held."""
    from trainlens.compare import unique_names

    runs: list[Run] = []
    items: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for path in paths:
        result = load_with_progress(path, aliases, cache=cache, jobs=jobs)
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
            if by_path is not None:
                by_path.setdefault(path, []).append(run)
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
        list[Path] | None,
        typer.Argument(
            metavar="PATH...",
            help="Run directories, or logdirs holding several runs (any mix); may be left "
            "out when --predictions names every run.",
            show_default=False,
        ),
    ] = None,
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
    predictions: Annotated[
        list[str] | None,
        typer.Option(
            "--predictions",
            metavar="RUN=FILE",
            help="A run's evaluation predictions (JSONL), audited and compared by output; "
            "default: prediction files found by name in each run directory. Repeatable.",
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="RUN=N",
            help="A run's training-set size, when its config does not say. Repeatable.",
        ),
    ] = None,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    jobs: JobsOpt = None,
) -> None:
    """Compare runs on one score metric: best, degradation onset, final value, the checkpoint to
    keep, the trends that explain the difference and the config keys that differ.

    Dense training series are smoothed first (rolling median); the values reported are then
    those of the smoothed curve. A drop is a share of the best value, or of the series' range
    when it crosses zero or its best lies near zero ("of range")."""
    with handle_errors():
        from trainlens.compare import compare_runs
        from trainlens.render import compare as render

        cfg = project_config(config)
        settings = _settings(cfg)
        language = lang.value if lang else settings.get("lang") or cfg.lang or "en"
        paths = paths or []
        if not paths and not predictions:
            raise TrainlensError("give at least one PATH (or --predictions RUN=FILE)")
        by_path: dict[Path, list[Run]] = {}
        runs = load_all(
            paths,
            alias_table(cfg, aliases),
            by_path,
            cache=cache_option(cache_dir, no_cache),
            jobs=jobs,
        )
        sets = _prediction_sets(paths, by_path, _pairs(predictions, "--predictions"), label)
        if not runs and not sets:
            raise TrainlensError("no runs found under " + ", ".join(str(p) for p in paths))
        outputs = _outputs(cfg, sets, language) if sets else None
        if not runs and outputs is not None:
            _emit_outputs_only(outputs, format, output)
            return
        cmp = compare_runs(
            runs,
            metric=metric or settings.get("metric"),
            drop=float(drop if drop is not None else settings.get("drop", 0.2)),
            window=window if window is not None else settings.get("window"),
        )
        if format is CompareFormat.json:
            doc = render.comparison_document(cmp, language)
            if outputs is not None:
                doc["outputs"] = outputs.json()
            _emit(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", output)
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
            text = render.render_markdown(cmp, language, chart, chart_missing=missing)
            if outputs is not None:
                text = text.rstrip("\n") + "\n\n" + outputs.markdown()
            _emit(text, output)
        elif output is not None:
            buffer = _unwrapped(record=True, file=io.StringIO())
            render.render_terminal(cmp, buffer, language)
            if outputs is not None:
                outputs.terminal(buffer)
            _emit(_strip_line_ends(buffer.export_text()), output)
        else:
            console = stdout_console()
            if not console.is_terminal:  # piped: never wrap a table (a cell is never folded)
                buffer = _unwrapped(record=True, file=io.StringIO())
                render.render_terminal(cmp, buffer, language)
                if outputs is not None:
                    outputs.terminal(buffer)
                _emit(_strip_line_ends(buffer.export_text()), None)
            else:
                render.render_terminal(cmp, console, language)
                if outputs is not None:
                    outputs.terminal(console)
        if output is not None:
            stderr_console().print(f"wrote {output}", highlight=False)


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise TrainlensError(f"{option} {item!r}: expected RUN=VALUE")
        out[name] = value
    return out


def _prediction_sets(
    paths: list[Path],
    by_path: dict[Path, list[Run]],
    given: dict[str, str],
    labels: list[str] | None,
) -> list[Any]:
    """Each run's predictions: ``--predictions`` first (RUN is a run's name or a PATH as
    given), else a prediction file found by name in a run directory."""
    from trainlens.audit.scale import PredictionSet, find_predictions

    sizes = {}
    for name, value in _pairs(labels, "--label").items():
        try:
            sizes[name] = int(value.replace(",", "").replace("_", ""))
        except ValueError:
            raise TrainlensError(f"--label {name}={value}: expected a whole number") from None
    sets: dict[str, PredictionSet] = {}
    for path in paths:
        held = by_path.get(path, [])
        run = held[0] if len(held) == 1 else None
        name = run.name if run is not None else path.name
        config = run.meta.config if run is not None else _args_json(path)
        file = find_predictions(path)
        if file is not None:
            sets[name] = PredictionSet(name, file, config)
        for alias in (str(path), path.name, name):
            if alias in given:
                sets[name] = PredictionSet(name, Path(given.pop(alias)), config)
    for name, text in given.items():  # predictions of runs that logged nothing here
        sets[name] = PredictionSet(name, Path(text), {})
    for item in sets.values():
        if not item.file.is_file():
            raise TrainlensError(f"--predictions {item.run}={item.file}: not a file")
    out = []
    for name, item in sets.items():
        size = next((v for k, v in sizes.items() if k in {name, Path(name).name}), None)
        out.append(PredictionSet(item.run, item.file, item.config, size))
    unknown = set(sizes) - {s.run for s in out} - {Path(s.run).name for s in out}
    if unknown:
        raise TrainlensError(f"--label: no run with predictions named {', '.join(sorted(unknown))}")
    return out


def _args_json(folder: Path) -> dict[str, Any]:
    """The ``args.json`` of a directory that holds predictions but no training log."""
    from trainlens.load import read_config

    args = folder / "args.json"
    return read_config(args, []) if args.is_file() else {}


class _Outputs:
    """The outputs section, rendered in any of the three forms."""

    def __init__(self, rows: list[Any], findings: list[Any], rules: Any, lang: str) -> None:
        self.rows, self.findings, self.rules, self.lang = rows, findings, rules, lang

    def _message(self, f: Any) -> str:
        from trainlens.engine.spec import render_message

        return render_message(f, self.rules.get(f.rule), self.lang)

    def _title(self, f: Any) -> str:
        return str(self.rules.get(f.rule).title_for(f.params, self.lang))

    def _advice(self, f: Any) -> list[str]:
        return list(self.rules.get(f.rule).text("advice", self.lang))

    def json(self) -> dict[str, Any]:
        from trainlens.render.compare_outputs import outputs_json

        return outputs_json(self.rows, self.findings, self._message)

    def terminal(self, console: Console) -> None:
        from trainlens.render.compare_outputs import outputs_terminal

        outputs_terminal(
            console, self.rows, self.findings, self.lang, self._message, self._title, self._advice
        )

    def markdown(self) -> str:
        from trainlens.render.compare_outputs import outputs_markdown

        return outputs_markdown(
            self.rows, self.findings, self.lang, self._message, self._title, self._advice
        )


def _outputs(cfg: ProjectConfig, sets: list[Any], lang: str) -> _Outputs:
    from trainlens.audit.api import project_rules
    from trainlens.audit.runs import SETTINGS, options
    from trainlens.audit.scale import output_rows, scale_findings

    rules = project_rules(cfg)
    rows = output_rows(sets, options(cfg.checked_section("audit", SETTINGS)))
    spec = rules.get("scale_regression") if "scale_regression" in rules else None
    if spec is not None and spec.id not in {s.id for s in rules.select(cfg.select, cfg.ignore)}:
        spec = None
    return _Outputs(rows, scale_findings(rows, spec), rules, lang)


def _emit_outputs_only(outputs: _Outputs, format: CompareFormat, output: Path | None) -> None:
    if format is CompareFormat.json:
        doc = {"schema_version": 1, "runs": [], "outputs": outputs.json()}
        _emit(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", output)
    elif format is CompareFormat.markdown:
        _emit(outputs.markdown(), output)
    else:
        buffer = _unwrapped(record=True, file=io.StringIO())
        outputs.terminal(buffer)
        _emit(_strip_line_ends(buffer.export_text()), output)


#: Width of the console for piped and file output: wide enough that no table wraps.
_UNWRAPPED_WIDTH = 100_000


def _unwrapped(**kwargs: Any) -> Console:
    """A plain console (no colour, no highlighting) so wide that tables never wrap."""
    from rich.console import Console

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
