"""Turn a path (a file, a run dir, a logdir of many runs, nested any depth) into runs of Sources."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from trainlens.errors import TrainlensError
from trainlens.readers.verl_console import SNIFF_BYTES, looks_like_verl_console
from trainlens.readers.verl_jsonl import looks_like_verl_line


class SourceFormat(str, Enum):
    """On-disk formats trainlens reads (the ``format`` of a run in JSON output)."""

    TENSORBOARD = "tensorboard"
    SWIFT_JSONL = "swift_jsonl"
    HF_TRAINER_STATE = "hf_trainer_state"
    VERL_JSONL = "verl_jsonl"
    VERL_CONSOLE = "verl_console"

    def __str__(self) -> str:
        return self.value


#: When one run has several sources, the first format present holds its history.
PRIMARY_ORDER = (
    SourceFormat.SWIFT_JSONL,
    SourceFormat.TENSORBOARD,
    SourceFormat.VERL_JSONL,
    SourceFormat.VERL_CONSOLE,
    SourceFormat.HF_TRAINER_STATE,
)

EVENT_FILE_MARKER = "tfevents"
_EVENT_FILE = re.compile(r"^events\.out\.tfevents\.")
_CHECKPOINT_DIR = re.compile(r"^(?:checkpoint-|global_step_)(\d+)$")
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", ".git", ".hg", ".svn"}
_TEXT_LOG_SUFFIXES = (".log", ".txt", ".out")
_NOT_VERL_JSONL = {"logging.jsonl", "completions.jsonl"}
_ONE_RUN_PER_FILE = (SourceFormat.VERL_JSONL, SourceFormat.VERL_CONSOLE)


@dataclass(frozen=True)
class Source:
    """One readable thing: a TensorBoard run directory (its event files) or a single log file."""

    format: SourceFormat
    path: Path
    files: tuple[Path, ...]


@dataclass(frozen=True)
class Checkpoint:
    """A saved checkpoint folder visible on disk (``checkpoint-N`` or ``global_step_N``)."""

    step: int
    path: Path


@dataclass
class RunSources:
    """Everything discovered for one run: the source holding its history plus companions."""

    name: str
    root: Path
    primary: Source
    companions: list[Source] = field(default_factory=list)
    config_path: Path | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)


def _sniff_verl_jsonl(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return False
    first = head.split(b"\n", 1)[0]
    try:
        return looks_like_verl_line(json.loads(first))
    except ValueError:
        return False


def _sniff_verl_console(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return looks_like_verl_console(fh.read(SNIFF_BYTES))
    except OSError:
        return False


def _checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT_DIR.match(path.name)
    return int(m.group(1)) if m else None


def _classify_file(path: Path) -> Source | None:
    name = path.name
    if _EVENT_FILE.match(name):
        return Source(SourceFormat.TENSORBOARD, path.parent, (path,))
    if name == "logging.jsonl":
        return Source(SourceFormat.SWIFT_JSONL, path, (path,))
    if name == "trainer_state.json":
        return Source(SourceFormat.HF_TRAINER_STATE, path, (path,))
    if name.endswith(".jsonl") and name not in _NOT_VERL_JSONL and _sniff_verl_jsonl(path):
        return Source(SourceFormat.VERL_JSONL, path, (path,))
    if name.endswith(_TEXT_LOG_SUFFIXES) and _sniff_verl_console(path):
        return Source(SourceFormat.VERL_CONSOLE, path, (path,))
    return None


@dataclass
class _Found:
    tensorboard: dict[Path, list[Path]] = field(default_factory=dict)
    singles: list[Source] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


def _walk(root: Path) -> _Found:
    found = _Found()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        here = Path(dirpath)
        step = _checkpoint_step(here)
        if step is not None:
            found.checkpoints.append(Checkpoint(step, here))
        for name in sorted(filenames):
            src = _classify_file(here / name)
            if src is None:
                continue
            if src.format is SourceFormat.TENSORBOARD:
                found.tensorboard.setdefault(here, []).append(here / name)
            else:
                found.singles.append(src)
    return found


def _owner_root(src: Source) -> Path:
    """The run directory a single-file source belongs to."""
    parent = src.path.parent
    if src.format is SourceFormat.HF_TRAINER_STATE and _checkpoint_step(parent) is not None:
        return parent.parent  # output_dir/checkpoint-N/trainer_state.json
    if src.format in (SourceFormat.VERL_JSONL, SourceFormat.VERL_CONSOLE):
        return src.path.with_suffix("")  # one run per file
    return parent


def _newest_trainer_state(sources: list[Source]) -> Source:
    """The root ``trainer_state.json`` (written at the end) or else the highest checkpoint's."""

    def rank(s: Source) -> tuple[int, int]:
        step = _checkpoint_step(s.path.parent)
        return (1, 0) if step is None else (0, step)

    return max(sources, key=rank)


def _is_under_runs(tb_dir: Path, root: Path) -> bool:
    """HF/ms-swift put TensorBoard logs in ``<output_dir>/runs[/<date_host>]``."""
    try:
        rel = tb_dir.relative_to(root)
    except ValueError:
        return False
    return rel == Path(".") or (rel.parts[0] == "runs" and len(rel.parts) <= 3)


def _output_dir_of(tb_dir: Path, base: Path) -> Path | None:
    """``<output_dir>`` for ``<output_dir>/runs[/<date_host>]`` when it holds the run config
    (``args.json``: ms-swift and HF write TensorBoard logs there)."""
    for candidate in (tb_dir.parent, tb_dir.parent.parent):
        if (
            _is_under_runs(tb_dir, candidate)
            and tb_dir != candidate
            and (candidate / "args.json").is_file()
            and (candidate == base or base in candidate.parents)
        ):
            return candidate
    return None


def _run_name(root: Path, base: Path) -> str:
    try:
        rel = root.relative_to(base)
    except ValueError:
        return root.name
    return base.name if rel == Path(".") else rel.as_posix()


def _attach_checkpoints(runs: list[RunSources], checkpoints: list[Checkpoint]) -> None:
    """A checkpoint belongs to the run whose root holds it, else to a run with the same
    ``<project>/<experiment>`` tail (verl keeps ``checkpoints/`` apart from its logs)."""
    for ckpt in checkpoints:
        owner = next((r for r in runs if r.root in ckpt.path.parents), None)
        if owner is None:
            tail = ckpt.path.parent.parts[-2:]
            owner = next((r for r in runs if r.root.parts[-len(tail) :] == tail), None)
        if owner is not None:
            owner.checkpoints.append(ckpt)
    for run in runs:
        run.checkpoints.sort(key=lambda c: c.step)


def discover(path: Path | str) -> list[RunSources]:
    """Find every run under ``path``; raises :class:`TrainlensError` when there is none."""
    base = Path(path)
    if not base.exists():
        raise TrainlensError(f"{base}: no such file or directory")
    if base.is_file():
        src = _classify_file(base)
        if src is None:
            raise TrainlensError(
                f"{base}: not a training log trainlens reads (events.out.tfevents.*, "
                "logging.jsonl, trainer_state.json, verl .jsonl or console log)"
            )
        root = _owner_root(src)
        if src.format is SourceFormat.TENSORBOARD:  # <output_dir>/runs[/<date>]/events...
            root = _output_dir_of(base.parent, base.parent.parent.parent) or base.parent
        config = root / "args.json"
        name = src.path.stem if src.format in _ONE_RUN_PER_FILE else root.resolve().name
        return [
            RunSources(
                name=name, root=root, primary=src, config_path=config if config.is_file() else None
            )
        ]
    try:
        found = _walk(base)
    except OSError as exc:
        raise TrainlensError(f"{base}: cannot list directory ({exc.strerror})") from exc

    by_root: dict[Path, list[Source]] = {}
    for src in found.singles:
        by_root.setdefault(_owner_root(src), []).append(src)
    roots = sorted(by_root)
    for tb_dir, files in sorted(found.tensorboard.items()):
        tb = Source(SourceFormat.TENSORBOARD, tb_dir, tuple(files))
        owner = next((r for r in roots if _is_under_runs(tb_dir, r)), None)
        if owner is None:
            owner = _output_dir_of(tb_dir, base)
        by_root.setdefault(owner if owner is not None else tb_dir, []).append(tb)

    runs: list[RunSources] = []
    for root in sorted(by_root):
        sources = by_root[root]
        states = [s for s in sources if s.format is SourceFormat.HF_TRAINER_STATE]
        others = [s for s in sources if s.format is not SourceFormat.HF_TRAINER_STATE]
        if states:
            others.append(_newest_trainer_state(states))
        others.sort(key=lambda s: (PRIMARY_ORDER.index(s.format), str(s.path)))
        config = root / "args.json"
        runs.append(
            RunSources(
                name=_run_name(root, base),
                root=root,
                primary=others[0],
                companions=others[1:],
                config_path=config if config.is_file() else None,
            )
        )
    if not runs:
        raise TrainlensError(
            f"{base}: no training logs found (looked for events.out.tfevents.*, logging.jsonl, "
            "trainer_state.json, verl .jsonl / console logs)"
        )
    _attach_checkpoints(runs, found.checkpoints)
    return runs
