"""The library entry point for reading: ``load_runs(path)`` → runs with canonical metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trainlens.diagnostics import ReadWarning, condense
from trainlens.discover import RunSources, Source, SourceFormat, discover
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


def _extra_tensorboard_keys(
    sources: RunSources,
    parts: list[tuple[str, pd.DataFrame]],
    meta: RunMeta,
    warnings: list[ReadWarning],
) -> list[tuple[str, pd.DataFrame]]:
    """TensorBoard logs beside a ``logging.jsonl`` / ``trainer_state.json`` mostly repeat its
    history (``train/loss`` = ``loss``); keep only the tags the history lacks (custom scalars)."""
    known = {normalise_key(str(k)) for _, f in parts for k in f["key"].cat.categories}
    extra: list[tuple[str, pd.DataFrame]] = []
    for comp in sources.companions:
        if comp.format is not SourceFormat.TENSORBOARD:
            continue
        for file in comp.files:
            result = _read_file(SourceFormat.TENSORBOARD, file)
            warnings.extend(condense(result.warnings))
            frame = result.frame
            new_keys = [
                k for k in frame["key"].cat.categories if normalise_key(str(k)) not in known
            ]
            frame = frame[frame["key"].isin(new_keys)]
            frame = frame.assign(key=frame["key"].cat.remove_unused_categories())
            role = "extra" if len(frame) else "duplicate"
            meta.sources.append(source_info(str(file), "tensorboard", frame, role=role))
            if len(frame):
                extra.append((str(file), frame.reset_index(drop=True)))
    return extra


def load_run(
    sources: RunSources,
    aliases: AliasTable,
    warnings: list[ReadWarning],
    progress: ProgressFn | None = None,
) -> Run:
    """Read one discovered run: its history source(s) merged, companions for metadata only."""
    meta = RunMeta(
        config_path=str(sources.config_path) if sources.config_path else None,
        checkpoints=list(sources.checkpoints),
    )
    meta.config = read_config(sources.config_path, warnings)
    primary = sources.primary
    history: list[Source] = [primary]
    if primary.format is SourceFormat.TENSORBOARD:  # e.g. runs/<date>/ and a nested hparams dir
        history += [c for c in sources.companions if c.format is SourceFormat.TENSORBOARD]
    parts: list[tuple[str, pd.DataFrame]] = []
    files = [(s.format, f) for s in history for f in s.files]
    for i, (fmt, file) in enumerate(files):
        if progress:
            progress(i, len(files), str(file))
        result = _read_file(fmt, file)
        warnings.extend(condense(result.warnings))
        apply_meta(meta, result.meta)
        parts.append((str(file), result.frame))
        meta.sources.append(source_info(str(file), fmt.value, result.frame))
    if primary.format is not SourceFormat.TENSORBOARD:
        parts += _extra_tensorboard_keys(sources, parts, meta, warnings)
    for comp in sources.companions:
        if comp in history or comp.format is not SourceFormat.HF_TRAINER_STATE:
            continue
        result = read_trainer_state(comp.path)  # metadata only: the history is already loaded
        warnings.extend(condense(result.warnings))
        apply_meta(meta, result.meta, fill_only=True)
        meta.sources.append(
            source_info(str(comp.path), comp.format.value, result.frame, role="metadata")
        )
    table, restarts = merge_frames(parts)
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
    meta.framework = guess_framework(
        primary.format.value, [str(k) for k in table["key"].cat.categories], meta.config
    )
    if (
        meta.max_steps is None
        and isinstance(meta.config.get("max_steps"), int)
        and meta.config["max_steps"] > 0
    ):
        meta.max_steps = meta.config["max_steps"]
    return Run(sources.name, sources.root, primary.format.value, table, meta, aliases)


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
        run = load_run(sources, table, result.warnings, progress)
        only_tb = run.format == SourceFormat.TENSORBOARD.value
        if (
            only_tb
            and not len(run.table)
            and not any(w.source.startswith(str(sources.root)) for w in result.warnings)
        ):
            continue  # a TensorBoard dir with no scalars (hparams, images): not a run to analyse
        if not len(run.table):
            result.warnings.append(
                ReadWarning(str(run.path), "no metrics could be read from this run")
            )
        result.runs.append(run)
    if not result.runs and not result.warnings:
        raise TrainlensError(f"{path}: no scalar metrics found (only non-scalar summaries)")
    return result
