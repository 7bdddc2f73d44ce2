"""The library entry point for reading: ``load_runs(path)`` → runs with canonical metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlens.cache import CacheOption, ResultCache, resolve_cache
from trainlens.diagnostics import ReadWarning, condense
from trainlens.discover import Discovery, RunSources, SourceFormat, discover_all
from trainlens.errors import TrainlensError
from trainlens.framework import guess_framework
from trainlens.merge import merge_tables
from trainlens.metrics import AliasTable, normalise_key
from trainlens.parallel import file_size, map_in_pool, worth_a_pool
from trainlens.readers._frame import ReadResult, Table, as_table
from trainlens.readers.registry import read_source_file
from trainlens.run import Run, RunMeta, SourceInfo
from trainlens.run_config import (
    RunConfig,
    llamafactory_config,
    load_json_config,
    load_yaml_config,
    unwrap_wandb,
)

if TYPE_CHECKING:
    import pandas as pd

#: Called with (files done, files total, current file) while reading.
ProgressFn = Callable[[int, int, str], None]


@dataclass
class LoadResult:
    """Runs found under a path, plus every warning about the input."""

    runs: list[Run] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)


def read_config(
    path: Path | None, warnings: list[ReadWarning], kind: str | None = None
) -> dict[str, Any]:
    """A run config file by kind: ``args_json`` (default), ``wandb`` (value-wrapped YAML),
    ``hydra`` or another YAML."""
    if path is None:
        return {}
    if kind in (None, "args_json") and path.suffix == ".json":
        return load_json_config(path, warnings)
    doc = load_yaml_config(path, warnings)
    return unwrap_wandb(doc) if kind == "wandb" else doc


def run_config(
    sources: RunSources,
    reads: list[tuple[HistoryFile, Table, dict[str, Any]]],
    warnings: list[ReadWarning],
    config: dict[str, Any],
) -> RunConfig:
    """The run's config: the file discovery found, else what the logs themselves hold (a verl
    config dump), else LLaMA-Factory's train YAML / launch script that matches the log."""
    if config:
        return RunConfig(config, sources.config_path, sources.config_kind or "args_json")
    for _file, _frame, found in reads:
        if isinstance(found.get("config"), dict):
            return RunConfig(found["config"], _file.path, "console")
    if sources.primary.format is SourceFormat.LLAMAFACTORY and reads:
        file, table, found = reads[0]
        code = table.names.index("epoch") if "epoch" in table.names else -1
        epochs = table.value[table.codes == code]
        last_epoch = float(epochs[-1]) if len(epochs) else None
        found_cfg = llamafactory_config(sources.root, found, last_epoch)
        warnings.extend(found_cfg.warnings)
        return found_cfg
    return RunConfig()


def read_meta_files(paths: list[Path], warnings: list[ReadWarning]) -> dict[str, float]:
    """Final values from ``wandb-summary.json`` / ``all_results.json`` beside a run."""
    out: dict[str, float] = {}
    for path in paths:
        doc = load_json_config(path, warnings)
        for key, value in doc.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.setdefault(str(key), float(value))
    return out


def source_info(
    path: str, fmt: str, frame: Table | pd.DataFrame, role: str = "history"
) -> SourceInfo:
    table = as_table(frame)
    has = len(table) > 0
    return SourceInfo(
        path=path,
        format=fmt,
        points=len(table),
        first_step=int(table.step.min()) if has else None,
        last_step=int(table.step.max()) if has else None,
        role=role,
    )


def apply_meta(meta: RunMeta, found: dict[str, Any], *, fill_only: bool = False) -> None:
    """Copy reader metadata onto the run (``fill_only``: never overwrite what is known)."""
    mapping = {
        "step_basis": "step_basis",
        "rounded": "rounded",
        "progress": "progress",
        "max_steps": "max_steps",
        "best_metric": "best_metric",
        "best_global_step": "best_step",
        "best_model_checkpoint": "best_checkpoint",
        "last_model_checkpoint": "last_checkpoint",
        "train_summary": "train_summary",
    }
    for src_key, attr in mapping.items():
        if src_key in found and (not fill_only or not getattr(meta, attr)):
            setattr(meta, attr, found[src_key])


#: More backward jumps than this are unordered logging, not resumes from checkpoints.
MAX_RESTARTS = 3


@dataclass(frozen=True)
class HistoryFile:
    """A file whose scalars go into a run's table. ``extra``: a TensorBoard log beside a
    ``logging.jsonl`` / ``trainer_state.json``, of which only the tags the history lacks count."""

    format: SourceFormat
    path: Path
    extra: bool = False
    member: str | None = None  # the run inside a file that holds several (W&B CSV export)


def history_files(sources: RunSources) -> list[HistoryFile]:
    """The files holding a run's scalars, in reading order (the primary source first)."""
    primary = sources.primary
    out = [HistoryFile(primary.format, f, member=primary.member) for f in primary.files]
    out += [
        HistoryFile(c.format, f, extra=True, member=c.member)
        for c in sources.companions
        if c.format not in _NO_HISTORY
        for f in c.files
    ]
    return out


#: Companions that add no scalars: trainer_state beside another history is metadata, a
#: console log without metrics is read for the failures it printed.
_NO_HISTORY = (SourceFormat.HF_TRAINER_STATE, SourceFormat.TEXT_LOG)


def extra_keys_kept(names: Sequence[str], known: set[str]) -> list[bool]:
    """Which keys of an ``extra`` history file (TensorBoard beside the main history) a run
    keeps: those the history files before it do not log under an equivalent name (``known``:
    their keys, :func:`~trainlens.metrics.normalise_key`-ed)."""
    return [normalise_key(str(k)) not in known for k in names]


def assemble_run(
    sources: RunSources,
    reads: list[tuple[HistoryFile, Table | pd.DataFrame, dict[str, Any]]],
    aliases: AliasTable,
    warnings: list[ReadWarning],
    config: dict[str, Any],
) -> Run:
    """Build a Run from what was read of its history files (``(file, frame, reader meta)`` in
    :func:`history_files` order): extra TensorBoard tags filtered, the newest
    ``trainer_state.json`` read for metadata, parts merged, restarts checked. Shared by
    :func:`load_run` and the live follower, so both see the same run (its tables may be
    DataFrames)."""
    reads = [(file, as_table(frame), found) for file, frame, found in reads]
    cfg = run_config(sources, reads, warnings, config)
    meta = RunMeta(
        config_path=str(cfg.path) if cfg.path else None,
        config_kind=cfg.kind,
        checkpoints=list(sources.checkpoints),
        config=cfg.values,
        logs=[str(p) for p in sources.logs],
    )
    parts: list[tuple[str, Table]] = []
    known: set[str] = set()
    for file, frame, found in reads:
        apply_meta(meta, found)
        role = "log" if file.format is SourceFormat.TEXT_LOG else "history"
        if file.extra and len(frame):  # `train/loss` repeats `loss`: keep only what is new
            new = np.array(extra_keys_kept(frame.names, known), dtype=bool)
            frame = frame.take(new[frame.codes]).without_unused()
            role = "extra" if len(frame) else "duplicate"
        else:
            known |= {normalise_key(str(k)) for k in frame.names}
        meta.sources.append(source_info(str(file.path), file.format.value, frame, role=role))
        if len(frame):
            parts.append((str(file.path), frame))
    for comp in sources.companions:
        if comp.format is SourceFormat.HF_TRAINER_STATE:
            from trainlens.readers.hf_trainer_state import read_trainer_state

            state = read_trainer_state(comp.path)  # metadata only: the history is in `reads`
            warnings.extend(condense(state.warnings))
            apply_meta(meta, state.meta, fill_only=True)
            meta.sources.append(
                source_info(str(comp.path), comp.format.value, state.table, role="metadata")
            )
    final = read_meta_files(sources.meta_files, warnings)
    if final:
        meta.final_values = final
        meta.sources.extend(
            SourceInfo(str(p), "summary", 0, None, None, role="metadata")
            for p in sources.meta_files
        )
    table, restarts = merge_tables(parts)
    _count_kept_points(meta, table)
    if len(restarts) > MAX_RESTARTS:
        first = restarts[0]
        warnings.append(
            ReadWarning(
                str(sources.root),
                f"steps go backwards {len(restarts)} times (first at step {first.step} in "
                f"{first.source}): not a resumed run but unordered steps; each step keeps its last "
                "logged value",
            )
        )
        restarts = []
    meta.restarts = restarts
    primary = sources.primary.format.value
    meta.framework = guess_framework(primary, [str(k) for k in table.names], meta.config)
    max_steps = meta.config.get("max_steps")
    if meta.max_steps is None and isinstance(max_steps, int) and max_steps > 0:
        meta.max_steps = max_steps
    return Run(sources.name, sources.root, primary, table, meta, aliases)


def _steps_per_epoch(config: dict[str, Any]) -> float | None:
    """Steps per epoch a config states (``max_steps`` / ``num_train_epochs``), if it does."""
    steps, epochs = config.get("max_steps"), config.get("num_train_epochs")
    if isinstance(steps, int) and steps > 0 and isinstance(epochs, (int, float)) and epochs > 0:
        return steps / float(epochs)
    return None


def _count_kept_points(meta: RunMeta, table: Table) -> None:
    """Source ``points`` = the rows each file contributes to the merged table (a step logged
    twice counts once); ``repeated`` = its records that re-logged a step, e.g. every line of an
    ms-swift v2 log written twice by two nodes appending to one shared file."""
    assert table.sources is not None and table.source_codes is not None
    counts = np.bincount(table.source_codes, minlength=len(table.sources)).tolist()
    kept: dict[str, int] = {}
    for source, n in zip(table.sources, counts, strict=True):
        kept[source] = kept.get(source, 0) + n
    for i, info in enumerate(meta.sources):
        if info.role in ("history", "extra"):
            n = kept.get(info.path, 0)
            if n < info.points:
                meta.sources[i] = replace(info, points=n, repeated=info.points - n)


def load_run(
    sources: RunSources,
    aliases: AliasTable,
    warnings: list[ReadWarning],
    progress: ProgressFn | None = None,
    cache: CacheOption = None,
    jobs: int | None = 1,
) -> Run:
    """Read one discovered run: every history file (see :func:`history_files`), then
    :func:`assemble_run`. With a cache (``cache`` as for :func:`load_runs`: by default the
    user's unless ``TRAINLENS_NO_CACHE``), an unchanged run comes from it whole, and each
    changed file is read through it (only what an event file appended is read); ``jobs`` > 1
    reads several big files of the run in parallel."""
    cache = resolve_cache(cache)
    if cache is None:
        return _read_run(sources, aliases, warnings, progress, None, jobs)
    from trainlens.cache.runs import load_cached_run

    def loader(src: RunSources, table: AliasTable, out: list[ReadWarning]) -> Run:
        return _read_run(src, table, out, progress, cache, jobs)

    return load_cached_run(cache, sources, aliases, warnings, loader)


def _read_file(task: tuple[HistoryFile, float | None, ResultCache | None]) -> ReadResult:
    """One history file, through the cache when there is one (a pool worker's job too)."""
    file, steps_per_epoch, cache = task
    if cache is not None:
        from trainlens.cache.files import cached_read

        return cached_read(
            cache, file.format, file.path, member=file.member, steps_per_epoch=steps_per_epoch
        )
    return read_source_file(
        file.format, file.path, member=file.member, steps_per_epoch=steps_per_epoch
    )


def _read_run(
    sources: RunSources,
    aliases: AliasTable,
    warnings: list[ReadWarning],
    progress: ProgressFn | None,
    cache: ResultCache | None,
    jobs: int | None,
) -> Run:
    config = read_config(sources.config_path, warnings, sources.config_kind)
    files = history_files(sources)
    tasks = [(file, _steps_per_epoch(config), cache) for file in files]
    size = sum(file_size(f.path) for f in files) if len(files) > 1 else 0
    if worth_a_pool(len(files), size, jobs):
        results = map_in_pool(_read_file, tasks, jobs)
    else:
        results = []
        for i, task in enumerate(tasks):
            if progress:
                progress(i, len(files), str(task[0].path))
            results.append(_read_file(task))
    reads = []
    for file, result in zip(files, results):
        warnings.extend(condense(result.warnings))
        reads.append((file, result.table, result.meta))
    return assemble_run(sources, reads, aliases, warnings, config)


#: Set in each pool worker by :func:`_init_worker`: (aliases, cache).
_WORKER: tuple[AliasTable, ResultCache | None] | None = None


def _init_worker(aliases: AliasTable, cache: ResultCache | None) -> None:
    global _WORKER
    _WORKER = (aliases, cache)


def _load_one(sources: RunSources) -> tuple[Run, list[ReadWarning]]:
    """A pool worker's job: one run and its warnings."""
    assert _WORKER is not None
    aliases, cache = _WORKER
    warnings: list[ReadWarning] = []
    run = load_run(sources, aliases, warnings, cache=cache or False, jobs=1)
    return run, warnings


def _run_size(sources: RunSources) -> int:
    return sum(file_size(f) for s in (sources.primary, *sources.companions) for f in s.files)


def load_runs(
    path: Path | str,
    *,
    aliases: AliasTable | None = None,
    progress: ProgressFn | None = None,
    on_discovered: Callable[[Discovery], None] | None = None,
    cache: CacheOption = None,
    jobs: int | None = None,
) -> LoadResult:
    """Discover and read every run under ``path`` (``on_discovered`` is told what discovery
    found before any file is read: the analysis starts its failure scans of big logs there).

    ``cache``: where parsed tables are kept between calls (None: the default cache dir unless
    ``TRAINLENS_NO_CACHE`` is set; False: off; a directory; see :mod:`trainlens.cache`).
    ``jobs``: worker processes for reading several runs (or the files of one run) at once
    (None: one per CPU; 1: serial); small inputs are read serially either way, and the result
    is the same. ``progress`` is called with (runs done, runs, run name) when there are several
    runs, with (files done, files, file) for one.

    Raises :class:`~trainlens.errors.TrainlensError` when the path does not exist or holds no
    logs; bad records inside files become warnings, never exceptions.
    """
    table = aliases or AliasTable.load()
    store = resolve_cache(cache)
    result = LoadResult()
    found = discover_all(path)
    if on_discovered is not None:
        on_discovered(found)
    result.warnings.extend(found.skipped)
    runs = found.runs
    loaded: list[tuple[Run, list[ReadWarning]] | None] = [None] * len(runs)
    if store is not None and len(runs) > 1:  # unchanged runs first: no pool needed for them
        from trainlens.cache.runs import cached_run

        loaded = [cached_run(store, sources, table) for sources in runs]
    todo = [i for i, hit in enumerate(loaded) if hit is None]
    hits = len(runs) - len(todo)
    if progress and hits and len(runs) > 1:
        progress(hits, len(runs), "(cached)")
    size = sum(_run_size(runs[i]) for i in todo) if len(todo) > 1 else 0
    if worth_a_pool(len(todo), size, jobs):

        def done(n: int, total: int, index: int) -> None:
            if progress:
                progress(hits + n, len(runs), runs[todo[index]].name)

        results = map_in_pool(
            _load_one,
            [runs[i] for i in todo],
            jobs,
            initializer=_init_worker,
            initargs=(table, store),
            on_done=done,
        )
        for i, one in zip(todo, results):
            loaded[i] = one
    else:
        for n, i in enumerate(todo):
            warnings: list[ReadWarning] = []
            per_file = progress if len(runs) == 1 else None
            if progress and len(runs) > 1:
                progress(hits + n, len(runs), runs[i].name)
            run = load_run(runs[i], table, warnings, per_file, store or False, jobs)
            loaded[i] = (run, warnings)
    for item in loaded:
        assert item is not None
        run, warnings = item
        result.warnings.extend(warnings)
        only_tb = run.format == SourceFormat.TENSORBOARD.value
        if only_tb and not len(run.columns) and not warnings:
            continue  # a TensorBoard dir with no scalars (hparams, images): not a run to analyse
        if not len(run.columns) and not run.meta.logs:
            result.warnings.append(
                ReadWarning(str(run.path), "no metrics could be read from this run")
            )
        result.runs.append(run)
    if not result.runs and not result.warnings:
        raise TrainlensError(f"{path}: no scalar metrics found (only non-scalar summaries)")
    return result
