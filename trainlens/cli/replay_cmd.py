"""``trainlens replay score|kl``: re-score a batch with the actual checkpoint (torch).

torch and transformers are imported inside the commands only, so ``trainlens --help`` and
``trainlens replay --help`` work without the ``replay`` extra."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from trainlens.cli.analyze_cmd import LangOpt, RulesOpt
from trainlens.cli.app import EXIT_CODES_HELP, app
from trainlens.cli.common import (
    ConfigOpt,
    handle_errors,
    print_warnings,
    project_config,
    stderr_console,
    stdout_console,
)
from trainlens.errors import TrainlensError

replay_app = typer.Typer(
    help="Re-score a batch with the actual checkpoint (needs the replay extra: "
    "pip install 'trainlens[replay]'): value/reward scores with and without EOS, KL "
    "estimators between policy and reference.",
    no_args_is_help=True,
)
app.add_typer(replay_app, name="replay")

_EPILOG = (
    EXIT_CODES_HELP + " Findings alone never fail a replay; exit 2 when nothing can be scored."
)


class ReplayFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class HeadChoice(str, Enum):
    value = "value"
    reward = "reward"


class AggregateChoice(str, Enum):
    mean = "mean"
    sum = "sum"
    last = "last"


class DeviceChoice(str, Enum):
    auto = "auto"
    cuda = "cuda"
    cpu = "cpu"


class DtypeChoice(str, Enum):
    auto = "auto"
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


BatchOpt = Annotated[
    Path,
    typer.Option(
        "--batch",
        metavar="FILE",
        help="JSONL: {id, prompt, response} or {id, prompt, teacher, student} (chosen/rejected), "
        "or *_ids token lists; or an ms-swift completions.jsonl (with --steps).",
    ),
]
StepsOpt = Annotated[
    str | None,
    typer.Option("--steps", metavar="A-B", help="Only the samples of steps A to B (inclusive)."),
]
EosOpt = Annotated[
    int | None,
    typer.Option("--eos-id", metavar="N", help="EOS token id (default: tokenizer, then config)."),
]
TokenizerOpt = Annotated[
    Path | None,
    typer.Option("--tokenizer", metavar="DIR", help="Tokenizer folder (default: the model's)."),
]
DeviceOpt = Annotated[DeviceChoice, typer.Option("--device", help="auto: CUDA when available.")]
DtypeOpt = Annotated[DtypeChoice, typer.Option("--dtype", help="auto: bf16 on GPU, fp32 on CPU.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per forward.")]
FormatOpt = Annotated[ReplayFormat, typer.Option("--format", "-f")]
RemoteOpt = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Run modelling code shipped with the checkpoint."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
]


@replay_app.command("score", epilog=_EPILOG)
def score(
    model: Annotated[Path, typer.Option("--model", metavar="DIR", help="Local HF model folder.")],
    batch: BatchOpt,
    head: Annotated[
        HeadChoice,
        typer.Option(
            "--head",
            help="value: per-token head (token classification, 1 label); reward: sequence "
            "classification (1 label), read at the last response token.",
        ),
    ] = HeadChoice.value,
    aggregate: Annotated[
        AggregateChoice,
        typer.Option("--aggregate", help="How a value head's per-token values become a score."),
    ] = AggregateChoice.mean,
    include_eos: Annotated[
        bool,
        typer.Option(
            "--include-eos/--exclude-eos",
            help="Whether `score` counts the trailing EOS token (both are always reported).",
        ),
    ] = True,
    eos_id: EosOpt = None,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = DeviceChoice.auto,
    dtype: DtypeOpt = DtypeChoice.auto,
    batch_size: BatchSizeOpt = 8,
    steps: StepsOpt = None,
    format: FormatOpt = ReplayFormat.text,
    lang: LangOpt = None,
    trust_remote_code: RemoteOpt = False,
    output: OutputOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Re-score a batch with a value or reward model: scores with and without EOS,
    discriminator accuracy, gaps, length correlation, identical-text gaps, padding check."""
    with handle_errors():
        language, ruleset, specs = _rules(config, rules, lang)
        from trainlens.replay.batch import parse_steps

        window = parse_steps(steps)
        with _needs_torch():
            from trainlens.replay.score import ScoreOptions, score_batch
            from trainlens.replay.scores import Aggregate

        options = ScoreOptions(
            head=head.value,
            aggregate=Aggregate(aggregate.value),
            include_eos=include_eos,
            eos_id=eos_id,
            tokenizer=tokenizer,
            device=device.value,
            dtype=dtype.value,
            batch_size=batch_size,
            steps=window,
            trust_remote_code=trust_remote_code,
        )
        with _progress() as progress:
            result = score_batch(model, batch, options, rules=specs, progress=progress)
        _emit(result, ruleset, format, language, output, "score")


@replay_app.command("kl", epilog=_EPILOG)
def kl(
    policy: Annotated[
        Path, typer.Option("--policy", metavar="DIR", help="Local HF causal-LM folder.")
    ],
    ref: Annotated[
        Path, typer.Option("--ref", metavar="DIR", help="The reference model's folder.")
    ],
    batch: BatchOpt,
    eos_id: EosOpt = None,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = DeviceChoice.auto,
    dtype: DtypeOpt = DtypeChoice.auto,
    batch_size: BatchSizeOpt = 8,
    steps: StepsOpt = None,
    format: FormatOpt = ReplayFormat.text,
    lang: LangOpt = None,
    trust_remote_code: RemoteOpt = False,
    output: OutputOpt = None,
    rules: RulesOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Per-token log-ratio Δ = log p_ref − log p_policy on the response tokens, the k1/k2/k3
    estimators side by side, and the training–inference mismatch when the batch carries
    sampler_logprobs."""
    with handle_errors():
        language, ruleset, specs = _rules(config, rules, lang)
        from trainlens.replay.batch import parse_steps

        window = parse_steps(steps)
        with _needs_torch():
            from trainlens.replay.kl import KLOptions, kl_batch

        options = KLOptions(
            eos_id=eos_id,
            tokenizer=tokenizer,
            device=device.value,
            dtype=dtype.value,
            batch_size=batch_size,
            steps=window,
            trust_remote_code=trust_remote_code,
        )
        with _progress() as progress:
            result = kl_batch(policy, ref, batch, options, rules=specs, progress=progress)
        _emit(result, ruleset, format, language, output, "kl")


def _rules(config: Path | None, rules: list[Path] | None, lang: Any) -> tuple[str, Any, list[Any]]:
    from trainlens.analysis import merge_params, param_sources
    from trainlens.engine.spec import load_rules

    cfg = project_config(config)
    ruleset = load_rules(
        [*cfg.rules_dirs, *(rules or [])],
        merge_params(cfg.rule_params),
        sources=param_sources(cfg, None),
    )
    language = lang.value if lang else (cfg.lang or "en")
    return language, ruleset, ruleset.select(cfg.select, cfg.ignore, kind="replay")


@contextmanager
def _needs_torch() -> Iterator[None]:
    try:
        yield
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in ("torch", "transformers", "tokenizers", "safetensors"):
            raise TrainlensError(
                f"replay needs {missing}: pip install 'trainlens[replay]'"
            ) from None
        raise


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long batches on a terminal, else nothing."""
    console = stderr_console()
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _emit(
    result: Any, ruleset: Any, fmt: ReplayFormat, lang: str, output: Path | None, kind: str
) -> None:
    from trainlens.analysis import Analysis
    from trainlens.cli.common import write_output
    from trainlens.diagnostics import condense
    from trainlens.render import replay as render

    analysis = Analysis(
        runs=[], findings=result.findings, skipped=[], warnings=result.warnings, rules=ruleset
    )
    print_warnings(condense(result.warnings))
    for note in result.notes:
        stderr_console().print(f"note: {note}", markup=False, highlight=False)
    if fmt is ReplayFormat.json:
        doc = render.score_document if kind == "score" else render.kl_document
        text = json.dumps(doc(result, analysis, lang), indent=2, ensure_ascii=False)
    elif fmt is ReplayFormat.markdown:
        text = render.render_markdown(result, analysis, lang, kind)
    else:
        if output is None:
            render.render_text(result, analysis, stdout_console(), lang, kind)
            return
        import io

        from rich.console import Console

        buffer = io.StringIO()
        render.render_text(result, analysis, Console(file=buffer, width=120), lang, kind)
        text = buffer.getvalue()
    if output is None:
        typer.echo(text)
    else:
        write_output(output, text if text.endswith("\n") else text + "\n", what="the replay")
