"""One place that knows which reader reads which source format (load and watch both use it)."""

from __future__ import annotations

import importlib
from pathlib import Path

from trainlens.discover import SourceFormat
from trainlens.readers._frame import ReadResult

#: Formats whose readers can resume at a byte offset (a follower reads only what is new).
INCREMENTAL = (
    SourceFormat.TENSORBOARD,
    SourceFormat.SWIFT_JSONL,
    SourceFormat.VERL_JSONL,
    SourceFormat.LLAMAFACTORY,
    SourceFormat.VERL_CONSOLE,
    SourceFormat.KV_CONSOLE,
)
#: JSON-lines formats (a follower counts their lines for messages).
LINE_FORMATS = (SourceFormat.SWIFT_JSONL, SourceFormat.VERL_JSONL, SourceFormat.LLAMAFACTORY)


#: The module of each format's reader (its ``VERSION`` keys cached reads).
_MODULES = {
    SourceFormat.TENSORBOARD: "tensorboard",
    SourceFormat.SWIFT_JSONL: "swift_jsonl",
    SourceFormat.HF_TRAINER_STATE: "hf_trainer_state",
    SourceFormat.VERL_JSONL: "verl_jsonl",
    SourceFormat.LLAMAFACTORY: "llamafactory",
    SourceFormat.VERL_CONSOLE: "verl_console",
    SourceFormat.HF_CONSOLE: "hf_console",
    SourceFormat.KV_CONSOLE: "kv_console",
    SourceFormat.TENSORBOARD_CSV: "csv_export",
    SourceFormat.WANDB_CSV: "csv_export",
    SourceFormat.CSV: "csv_export",
}


def reader_version(fmt: SourceFormat) -> int:
    """The ``VERSION`` of the reader of ``fmt`` (0 for formats read for messages only)."""
    name = _MODULES.get(fmt)
    if name is None:
        return 0
    return int(importlib.import_module(f"trainlens.readers.{name}").VERSION)


def read_source_file(
    fmt: SourceFormat,
    path: Path,
    offset: int = 0,
    *,
    final: bool = True,
    first_line: int = 1,
    member: str | None = None,
    steps_per_epoch: float | None = None,
) -> ReadResult:
    """Read one file of a source (from ``offset`` for :data:`INCREMENTAL` formats)."""
    if fmt is SourceFormat.TENSORBOARD:
        from trainlens.readers.tensorboard import read_event_file

        return read_event_file(path, offset, final=final)
    if fmt is SourceFormat.SWIFT_JSONL:
        from trainlens.readers.swift_jsonl import read_swift_jsonl

        return read_swift_jsonl(path, offset, final=final, first_line=first_line)
    if fmt is SourceFormat.HF_TRAINER_STATE:
        from trainlens.readers.hf_trainer_state import read_trainer_state

        return read_trainer_state(path)
    if fmt is SourceFormat.VERL_JSONL:
        from trainlens.readers.verl_jsonl import read_verl_jsonl

        return read_verl_jsonl(path, offset, final=final, first_line=first_line)
    if fmt is SourceFormat.LLAMAFACTORY:
        from trainlens.readers.llamafactory import read_llamafactory

        return read_llamafactory(path, offset, final=final, first_line=first_line)
    if fmt is SourceFormat.VERL_CONSOLE:
        from trainlens.readers.verl_console import read_verl_console

        return read_verl_console(path, offset, final=final)
    if fmt is SourceFormat.HF_CONSOLE:
        from trainlens.readers.hf_console import read_hf_console

        return read_hf_console(path, final=final, steps_per_epoch=steps_per_epoch)
    if fmt is SourceFormat.KV_CONSOLE:
        from trainlens.readers.kv_console import read_kv_console

        return read_kv_console(path, offset, final=final)
    if fmt in (SourceFormat.TENSORBOARD_CSV, SourceFormat.WANDB_CSV, SourceFormat.CSV):
        from trainlens.readers.csv_export import read_csv_export

        return read_csv_export(path, member=member)
    from trainlens.readers._frame import empty_frame

    return ReadResult(empty_frame())  # TEXT_LOG: no metrics, read for failure messages only
