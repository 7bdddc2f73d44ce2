"""The library entry point for reading: ``load_runs(path)`` → runs with canonical metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from trainlens.diagnostics import ReadWarning, condense
from trainlens.discover import RunSources, SourceFormat, discover
from trainlens.errors import TrainlensError
from trainlens.framework import guess_framework
from trainlens.merge import merge_frames
from trainlens.metrics import AliasTable, normalise_key
from trainlens.readers._frame import ReadResult
from trainlens.readers.hf_trainer_state import read_trainer_state
from trainlens.readers.swift_jsonl import read_swift_jsonl
from trainlens.readers.verl_console import read_verl_console
from trainlens.readers.verl_jsonl import read_verl_jsonl
from trainlens.run import Run, RunMeta, SourceInfo

#: Called with (files done, files total, current file) while reading.
ProgressFn = Callable[[int, int, str], None]


@dataclass
class LoadResult:
    """Runs found under a path, plus every warning about the input."""

    runs: list[Run] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)


def _read_file(fmt: SourceFormat, path: Path) -> ReadResult:
    if fmt is SourceFormat.TENSORBOARD:
        from trainlens.readers.tensorboard import read_event_file

        return read_event_file(path)
    if fmt is SourceFormat.SWIFT_JSONL:
        return read_swift_jsonl(path)
    if fmt is SourceFormat.HF_TRAINER_STATE:
        return read_trainer_state(path)
    if fmt is SourceFormat.VERL_JSONL:
        return read_verl_jsonl(path)
    return read_verl_console(path)


def read_config(path: Path | None, warnings: list[ReadWarning]) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warnings.append(ReadWarning(str(path), f"run config not read: {exc}"))
        return {}
    if not isinstance(config, dict):
        warnings.append(ReadWarning(str(path), "run config is not a JSON object; ignored"))
        return {}
    return config


def source_info(path: str, fmt: str, frame: pd.DataFrame, role: str = "history") -> SourceInfo:
    has = len(frame) > 0
    return SourceInfo(
        path=path,
        format=fmt,
        points=len(frame),
        first_step=int(frame["step"].min()) if has else None,
        last_step=int(frame["step"].max()) if has else None,
        role=role,
    )


def apply_meta(meta: RunMeta, found: dict[str, Any], *, fill_only: bool = False) -> None:
    """Copy reader metadata onto the run (``fill_only``: never overwrite what is known)."""
    mapping = {
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


def history_files(sources: RunSources) -> list[HistoryFile]:
    """The files holding a run's scalars, in reading order (the primary source first)."""
    primary = sources.primary
    tensorboard = [c for c in sources.companions if c.format is SourceFormat.TENSORBOARD]
    out = [HistoryFile(primary.format, f) for f in primary.files]
    extra = primary.format is not SourceFormat.TENSORBOARD
    out += [HistoryFile(c.format, f, extra=extra) for c in tensorboard for f in c.files]
    return out


def assemble_run(
    sources: RunSources,
    reads: list[tuple[HistoryFile, pd.DataFrame, dict[str, Any]]],
    aliases: AliasTable,
    warnings: list[ReadWarning],
    config: dict[str, Any],
) -> Run:
    """Build a Run from what was read of its history files (``(file, frame, reader meta)`` in
    :func:`history_files` order): extra TensorBoard tags filtered, the newest
    ``trainer_state.json`` read for metadata, parts merged, restarts checked. Shared by
    :func:`load_run` and the live follower, so both see the same run."""
    meta = RunMeta(
        config_path=str(sources.config_path) if sources.config_path else None,
        checkpoints=list(sources.checkpoints),
        config=config,
    )
    parts: list[tuple[str, pd.DataFrame]] = []
    known: set[str] = set()
    for file, frame, found in reads:
        apply_meta(meta, found)
        role = "history"
        if file.extra:  # `train/loss` repeats `loss`: keep only tags the history lacks
            new = [k for k in frame["key"].cat.categories if normalise_key(str(k)) not in known]
            frame = frame[frame["key"].isin(new)].reset_index(drop=True)
            frame = frame.assign(key=frame["key"].cat.remove_unused_categories())
            role = "extra" if len(frame) else "duplicate"
        else:
            known |= {normalise_key(str(k)) for k in frame["key"].cat.categories}
        meta.sources.append(source_info(str(file.path), file.format.value, frame, role=role))
        if len(frame):
            parts.append((str(file.path), frame))
    for comp in sources.companions:
        if comp.format is SourceFormat.HF_TRAINER_STATE:
            state = read_trainer_state(comp.path)  # metadata only: the history is in `reads`
            warnings.extend(condense(state.warnings))
            apply_meta(meta, state.meta, fill_only=True)
            meta.sources.append(
                source_info(str(comp.path), comp.format.value, state.frame, role="metadata")
            )
    table, restarts = merge_frames(parts)
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
    meta.framework = guess_framework(
        primary, [str(k) for k in table["key"].cat.categories], meta.config
    )
    max_steps = meta.config.get("max_steps")
    if meta.max_steps is None and isinstance(max_steps, int) and max_steps > 0:
        meta.max_steps = max_steps
    return Run(sources.name, sources.root, primary, table, meta, aliases)


def _count_kept_points(meta: RunMeta, table: pd.DataFrame) -> None:
    """Source ``points`` = the rows each file contributes to the merged table (a step logged
    twice counts once); ``repeated`` = its records that re-logged a step, e.g. every line of an
    ms-swift v2 log written twice by two nodes appending to one shared file."""
    kept = table["source"].value_counts()
    for i, info in enumerate(meta.sources):
        if info.role in ("history", "extra"):
            n = int(kept.get(info.path, 0))
            if n < info.points:
                meta.sources[i] = replace(info, points=n, repeated=info.points - n)


def load_run(
    sources: RunSources,
    aliases: AliasTable,
    warnings: list[ReadWarning],
    progress: ProgressFn | None = None,
) -> Run:
    """Read one discovered run: every history file (see :func:`history_files`), then
    :func:`assemble_run`."""
    config = read_config(sources.config_path, warnings)
    files = history_files(sources)
    reads = []
    for i, file in enumerate(files):
        if progress:
            progress(i, len(files), str(file.path))
        result = _read_file(file.format, file.path)
        warnings.extend(condense(result.warnings))
        reads.append((file, result.frame, result.meta))
    return assemble_run(sources, reads, aliases, warnings, config)


def load_runs(
    path: Path | str, *, aliases: AliasTable | None = None, progress: ProgressFn | None = None
) -> LoadResult:
    """Discover and read every run under ``path``.

    Raises :class:`~trainlens.errors.TrainlensError` when the path does not exist or holds no
    logs; bad records inside files become warnings, never exceptions.
    """
    table = aliases or AliasTable.load()
    result = LoadResult()
    for sources in discover(path):
        before = len(result.warnings)
        run = load_run(sources, table, result.warnings, progress)
        only_tb = run.format == SourceFormat.TENSORBOARD.value
        if only_tb and not len(run.table) and len(result.warnings) == before:
            continue  # a TensorBoard dir with no scalars (hparams, images): not a run to analyse
        if not len(run.table):
            result.warnings.append(
                ReadWarning(str(run.path), "no metrics could be read from this run")
            )
        result.runs.append(run)
    if not result.runs and not result.warnings:
        raise TrainlensError(f"{path}: no scalar metrics found (only non-scalar summaries)")
    return result
