"""Turn a path (a file, a run dir, a logdir of many runs, nested any depth) into runs of Sources."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from trainlens.diagnostics import ReadWarning
from trainlens.errors import TrainlensError
from trainlens.readers._files import file_kind, open_regular
from trainlens.readers._json import EOL, JsonError, loads
from trainlens.readers._jsonl import sniff_encoding
from trainlens.readers._text import read_head_tail
from trainlens.readers.csv_export import classify_csv, tensorboard_csv_parts
from trainlens.readers.hf_console import looks_like_hf_console
from trainlens.readers.kv_console import looks_like_kv_console
from trainlens.readers.llamafactory import looks_like_llamafactory_line
from trainlens.readers.verl_console import SNIFF_BYTES, looks_like_verl_console
from trainlens.readers.verl_jsonl import looks_like_verl_line


class SourceFormat(str, Enum):
    """On-disk formats trainlens reads (the ``format`` of a run in JSON output)."""

    TENSORBOARD = "tensorboard"
    SWIFT_JSONL = "swift_jsonl"
    HF_TRAINER_STATE = "hf_trainer_state"
    VERL_JSONL = "verl_jsonl"
    VERL_CONSOLE = "verl_console"
    LLAMAFACTORY = "llamafactory_jsonl"
    HF_CONSOLE = "hf_console"
    KV_CONSOLE = "kv_console"
    TENSORBOARD_CSV = "tensorboard_csv"
    WANDB_CSV = "wandb_csv"
    CSV = "csv"
    TEXT_LOG = "text_log"  # a console log without metrics: read for the failures it printed

    def __str__(self) -> str:
        return self.value


#: When one run has several sources, the first format present holds its history; the others
#: add only the metrics it lacks (or are recorded as duplicates). Structured files beat console
#: captures (exact steps, full precision), and a console log beats a CSV export.
PRIMARY_ORDER = (
    SourceFormat.SWIFT_JSONL,
    SourceFormat.TENSORBOARD,
    SourceFormat.LLAMAFACTORY,
    SourceFormat.VERL_JSONL,
    SourceFormat.HF_TRAINER_STATE,
    SourceFormat.VERL_CONSOLE,
    SourceFormat.HF_CONSOLE,
    SourceFormat.KV_CONSOLE,
    SourceFormat.TENSORBOARD_CSV,
    SourceFormat.CSV,
    SourceFormat.WANDB_CSV,
    SourceFormat.TEXT_LOG,
)
#: Console captures: text a job printed (scanned for failure messages too).
CONSOLE_FORMATS = (
    SourceFormat.VERL_CONSOLE,
    SourceFormat.HF_CONSOLE,
    SourceFormat.KV_CONSOLE,
    SourceFormat.TEXT_LOG,
)

EVENT_FILE_MARKER = "tfevents"
_EVENT_FILE = re.compile(r"^events\.out\.tfevents\.")
_CHECKPOINT_DIR = re.compile(r"^(?:checkpoint-|global_step_)(\d+)$")
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", ".git", ".hg", ".svn"}
_TEXT_LOG_SUFFIXES = (".log", ".txt", ".out", ".md")
#: Files that look like logs by name but never are (a scan passes them without a word).
_NOT_LOGS = re.compile(
    r"^(?:requirements.*\.txt|readme.*|license.*|changelog.*|notice.*|contributing.*|"
    r"debug(?:-internal|-core)?\.log|completions\.jsonl|.*\.wandb|vocab\.txt|merges\.txt|"
    r".*predictions.*\.jsonl|infer_result.*\.jsonl|"  # what a model wrote: `trainlens audit`
    r"latest_checkpointed_iteration\.txt|.*tokenizer.*|.*prompt.*\.txt|cmakelists\.txt)$",
    re.IGNORECASE,
)
_ONE_RUN_PER_FILE = (
    SourceFormat.VERL_JSONL,
    *CONSOLE_FORMATS,
    SourceFormat.CSV,
)
#: Beside a run's files: final metrics and W&B's summary (metadata, not history).
META_FILES = ("wandb-summary.json", "all_results.json", "eval_results.json")
_WANDB_RUN_DIR = re.compile(r"^(?:offline-)?run-\d{8}_\d{6}-\w+$")


@dataclass(frozen=True)
class Source:
    """One readable thing: a TensorBoard run directory (its event files) or a single log file."""

    format: SourceFormat
    path: Path
    files: tuple[Path, ...]
    member: str | None = None  # the run inside a file holding several (a W&B CSV export)


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
    config_kind: str | None = None  # args_json, wandb, hydra (None: the loader looks further)
    meta_files: list[Path] = field(default_factory=list)

    @property
    def logs(self) -> list[Path]:
        """Console output of the run (scanned for the failures a job printed)."""
        return [
            f
            for s in (self.primary, *self.companions)
            if s.format in CONSOLE_FORMATS
            for f in s.files
        ]


@dataclass
class Discovery:
    """Runs found under a path, and the files that looked like logs but were skipped (why)."""

    runs: list[RunSources]
    skipped: list[ReadWarning] = field(default_factory=list)


def _first_json_line(path: Path) -> object:
    """The first record of a JSON-lines file (any encoding or line ending), or None."""
    try:
        with open_regular(path) as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    codec, bom = sniff_encoding(head)
    if codec != "utf-8":
        head = head[bom:].decode(codec, "replace").encode("utf-8", "replace")
        bom = 0
    first = EOL.split(head[bom:].lstrip(b"\x00"), maxsplit=1)[0]
    if len(first) >= 64 * 1024:
        return None  # too long to be a log record's first line
    try:
        return loads(first).value
    except JsonError:
        return None


def _looks_like_log(name: str) -> bool:
    low = name.lower()
    return low.endswith((*_TEXT_LOG_SUFFIXES, ".csv", ".jsonl")) and not _NOT_LOGS.match(name)


def _classify_text(path: Path) -> tuple[SourceFormat | None, str]:
    try:
        head = read_head_tail(path, SNIFF_BYTES)
    except OSError as exc:
        return None, f"cannot read ({exc.strerror})"
    if looks_like_verl_console(head):
        return SourceFormat.VERL_CONSOLE, ""
    if looks_like_hf_console(head):
        return SourceFormat.HF_CONSOLE, ""
    if looks_like_kv_console(head):
        return SourceFormat.KV_CONSOLE, ""
    from trainlens.logscan import looks_like_failure

    if looks_like_failure(head):
        return SourceFormat.TEXT_LOG, ""
    return None, "no metric lines or failure messages found in it"


def has_metric_lines(path: Path) -> bool:
    """Whether a text log holds metric lines (verl steps, HF dicts, ``iter N: ...``)."""
    fmt, _ = _classify_text(path)
    return fmt is not None and fmt is not SourceFormat.TEXT_LOG


def _checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT_DIR.match(path.name)
    return int(m.group(1)) if m else None


def _log_like_name(name: str) -> bool:
    """Whether a file name is one trainlens reads (before looking inside)."""
    return bool(
        _EVENT_FILE.match(name) or name in ("logging.jsonl", "trainer_state.json")
    ) or _looks_like_log(name)


def _not_regular(path: Path) -> str:
    """Why a path cannot be read as a log file ("" for a regular file); never blocks."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return "" if stat.S_ISREG(mode) else f"not a regular file: {file_kind(mode)}"


def _classify_file(path: Path) -> tuple[Source | None, str]:
    """The source a file is, or None and why it was skipped ("" when it is not log-like).
    FIFOs, sockets and devices are never opened (reading them could block forever)."""
    name = path.name
    if not _log_like_name(name):
        return None, ""
    why = _not_regular(path)
    if why:
        return None, why
    if _EVENT_FILE.match(name):
        return Source(SourceFormat.TENSORBOARD, path.parent, (path,)), ""
    if name == "logging.jsonl":
        return Source(SourceFormat.SWIFT_JSONL, path, (path,)), ""
    if name == "trainer_state.json":
        return Source(SourceFormat.HF_TRAINER_STATE, path, (path,)), ""
    if not _looks_like_log(name) or _checkpoint_step(path.parent) is not None:
        return None, ""  # not log-like, or a file of a saved checkpoint (tokenizer, notes)
    low = name.lower()
    if low.endswith(".jsonl"):
        first = _first_json_line(path)
        if looks_like_llamafactory_line(first):
            return Source(SourceFormat.LLAMAFACTORY, path, (path,)), ""
        if looks_like_verl_line(first):
            return Source(SourceFormat.VERL_JSONL, path, (path,)), ""
        return None, "not a JSON-lines log trainlens knows (ms-swift, LLaMA-Factory, verl)"
    if low.endswith(".csv"):
        kind, why = classify_csv(path)
        if kind is None:
            return None, why
        csv_format = {
            "tensorboard": SourceFormat.TENSORBOARD_CSV,
            "wandb": SourceFormat.WANDB_CSV,
            "wide": SourceFormat.CSV,
        }[kind.kind]
        return Source(csv_format, path, (path,)), ""
    fmt, why = _classify_text(path)
    return (Source(fmt, path, (path,)), "") if fmt else (None, why)


@dataclass
class _Found:
    tensorboard: dict[Path, list[Path]] = field(default_factory=dict)
    singles: list[Source] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    skipped: list[ReadWarning] = field(default_factory=list)


def _walk(root: Path) -> _Found:
    """Every log-like file under ``root``. Symlinked folders are followed after the real tree
    (so a ``latest -> run-3`` link does not rename ``run-3``), each folder is read once (a link
    back to an ancestor is no loop), and folders that cannot be listed (permissions, a path
    longer than the system's limit) are warnings."""
    found = _Found()
    visited: set[tuple[int, int]] = set()
    pending = [root]

    def unlisted(exc: OSError) -> None:
        where = exc.filename or str(root)
        found.skipped.append(
            ReadWarning(str(where), f"skipped: folder not listed ({exc.strerror or exc})")
        )

    while pending:
        top = pending.pop(0)
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False, onerror=unlisted):
            try:
                st = os.stat(dirpath)
            except OSError as exc:
                unlisted(exc)
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in visited:
                dirnames[:] = []  # reached again through a link: already read
                continue
            visited.add((st.st_dev, st.st_ino))
            names = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            links = [d for d in names if os.path.islink(os.path.join(dirpath, d))]
            pending += [Path(dirpath) / d for d in links]
            dirnames[:] = [d for d in names if d not in links]
            _classify_folder(found, Path(dirpath), filenames)
    return found


def _classify_folder(found: _Found, here: Path, filenames: list[str]) -> None:
    step = _checkpoint_step(here)
    if step is not None:
        found.checkpoints.append(Checkpoint(step, here))
    for name in sorted(filenames):
        src, why = _classify_file(here / name)
        if src is None:
            if why:
                found.skipped.append(ReadWarning(str(here / name), f"skipped: {why}"))
            continue
        if src.format is SourceFormat.TENSORBOARD:
            found.tensorboard.setdefault(here, []).append(here / name)
        else:
            found.singles.append(src)


def _wandb_files_root(path: Path) -> Path | None:
    """The W&B run folder of a file in ``wandb/run-*/files/`` (None elsewhere)."""
    parent = path.parent
    if parent.name == "files" and _WANDB_RUN_DIR.match(parent.parent.name):
        return parent.parent
    return None


def _flat_wandb_files(path: Path) -> bool:
    """An ``output.log`` kept with W&B's ``config.yaml`` / ``wandb-summary.json`` beside it."""
    return path.name == "output.log" and (path.parent / "wandb-summary.json").is_file()


def _owner_root(src: Source) -> Path:
    """The run directory a single-file source belongs to."""
    parent = src.path.parent
    if src.format is SourceFormat.HF_TRAINER_STATE and _checkpoint_step(parent) is not None:
        return parent.parent  # output_dir/checkpoint-N/trainer_state.json
    wandb_root = _wandb_files_root(src.path)
    if wandb_root is not None:
        return wandb_root
    if src.format is SourceFormat.TENSORBOARD_CSV:
        first = src.files[0]
        run, _ = tensorboard_csv_parts(first)
        return first.parent if run in ("", ".") else first.parent / run
    if src.format is SourceFormat.WANDB_CSV:
        return src.path.with_suffix("") / (src.member or "")
    if src.format in CONSOLE_FORMATS and _flat_wandb_files(src.path):
        return parent
    if src.format in _ONE_RUN_PER_FILE:
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


def _config_of(root: Path) -> tuple[Path | None, str | None]:
    """The run config file the framework left in a run folder, and its kind."""
    for path, kind in (
        (root / "args.json", "args_json"),
        (root / "files" / "config.yaml", "wandb"),
        (root / ".hydra" / "config.yaml", "hydra"),
    ):
        if path.is_file():
            return path, kind
    if (root / "config.yaml").is_file() and (root / "wandb-summary.json").is_file():
        return root / "config.yaml", "wandb"  # W&B's files/ kept flat
    from trainlens.run_config import hydra_dir_for

    hydra = hydra_dir_for(root)
    if hydra is not None:
        return hydra / "config.yaml", "hydra"
    return None, None


def _meta_files(root: Path) -> list[Path]:
    return [
        p
        for folder in (root, root / "files")
        for name in META_FILES
        if (p := folder / name).is_file()
    ]


def _expand_members(singles: list[Source]) -> list[Source]:
    """A W&B CSV export holds several runs: one source per run in it."""
    from trainlens.readers.csv_export import classify_csv

    out: list[Source] = []
    for src in singles:
        if src.format is SourceFormat.WANDB_CSV and src.member is None:
            kind, _ = classify_csv(src.path)
            out += [replace(src, member=m) for m in (kind.runs if kind else ())]
        else:
            out.append(src)
    return out


def _group_tensorboard_csvs(singles: list[Source]) -> list[Source]:
    """TensorBoard's per-tag CSV exports of one run (same folder and run name) as one source."""
    groups: dict[Path, list[Path]] = {}
    out: list[Source] = []
    for src in singles:
        if src.format is SourceFormat.TENSORBOARD_CSV:
            groups.setdefault(_owner_root(src), []).append(src.path)
        else:
            out.append(src)
    for root, files in groups.items():
        out.append(Source(SourceFormat.TENSORBOARD_CSV, root, tuple(sorted(files))))
    return out


def _build_run(root: Path, sources: list[Source], base: Path) -> RunSources:
    states = [s for s in sources if s.format is SourceFormat.HF_TRAINER_STATE]
    others = [s for s in sources if s.format is not SourceFormat.HF_TRAINER_STATE]
    if states:
        others.append(_newest_trainer_state(states))
    others.sort(key=lambda s: (PRIMARY_ORDER.index(s.format), str(s.path)))
    config, kind = _config_of(root)
    primary = others[0]
    name = _run_name(root, base)
    if primary.format is SourceFormat.WANDB_CSV and primary.member:
        name = _run_name(primary.path.with_suffix(""), base) + "/" + primary.member
    return RunSources(
        name=name,
        root=root,
        primary=primary,
        companions=others[1:],
        config_path=config,
        config_kind=kind,
        meta_files=_meta_files(root),
    )


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
    return discover_all(path).runs


def discover_all(path: Path | str) -> Discovery:
    """Every run under ``path`` and the log-like files skipped (with why); raises
    :class:`TrainlensError` when there is no run."""
    base = Path(path)
    if not base.exists():
        raise TrainlensError(f"{base}: no such file or directory")
    if not base.is_dir():
        why = _not_regular(base)
        if why:
            raise TrainlensError(f"{base}: {why}")
        return Discovery(_discover_file(base))
    try:
        found = _walk(base)
    except OSError as exc:
        raise TrainlensError(f"{base}: cannot list directory ({exc.strerror})") from exc

    singles = _group_tensorboard_csvs(_expand_members(found.singles))
    by_root: dict[Path, list[Source]] = {}
    consoles: list[Source] = []
    for src in singles:
        root = _owner_root(src)
        if src.format in _ONE_RUN_PER_FILE and root == src.path.with_suffix(""):
            consoles.append(src)  # its own run, unless its folder is another run's
        else:
            by_root.setdefault(root, []).append(src)
    roots = sorted(by_root)
    for tb_dir, files in sorted(found.tensorboard.items()):
        tb = Source(SourceFormat.TENSORBOARD, tb_dir, tuple(files))
        owner = next((r for r in roots if _is_under_runs(tb_dir, r)), None)
        if owner is None:
            owner = _output_dir_of(tb_dir, base)
        by_root.setdefault(owner if owner is not None else tb_dir, []).append(tb)
    for src in consoles:
        host = src.path.parent
        if host in by_root and src.format in CONSOLE_FORMATS:
            by_root[host].append(src)  # a console capture beside the run's own logs
        else:
            by_root.setdefault(src.path.with_suffix(""), []).append(src)

    runs = [_build_run(root, by_root[root], base) for root in sorted(by_root)]
    if not runs:
        kinds = (
            "events.out.tfevents.*, logging.jsonl, trainer_state.json, trainer_log.jsonl, "
            "verl .jsonl, console logs, CSV exports"
        )
        detail = f"; {len(found.skipped)} log-like file(s) skipped" if found.skipped else ""
        raise TrainlensError(f"{base}: no training logs found (looked for {kinds}){detail}")
    _attach_checkpoints(runs, found.checkpoints)
    return Discovery(runs, found.skipped)


def _discover_file(base: Path) -> list[RunSources]:
    src, why = _classify_file(base)
    if src is None:
        raise TrainlensError(
            f"{base}: not a training log trainlens reads"
            + (f" ({why})" if why else "")
            + " (events.out.tfevents.*, logging.jsonl, trainer_state.json, trainer_log.jsonl, "
            "verl .jsonl, console logs with metric lines or failure messages, CSV exports)"
        )
    if src.format is SourceFormat.WANDB_CSV:
        sources = _expand_members([src])
        return [_build_run(_owner_root(s), [s], base.parent) for s in sources]
    if src.format is SourceFormat.TENSORBOARD_CSV:
        src = _group_tensorboard_csvs([src])[0]
    root = _owner_root(src)
    if src.format is SourceFormat.TENSORBOARD:  # <output_dir>/runs[/<date>]/events...
        root = _output_dir_of(base.parent, base.parent.parent.parent) or base.parent
    run = _build_run(root, [src], root.parent)
    if src.format in _ONE_RUN_PER_FILE and root == src.path.with_suffix(""):
        run.name = src.path.stem
    else:
        run.name = root.resolve().name
    return [run]
