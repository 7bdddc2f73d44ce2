"""``trainlens cache info|clear|prune``: what the result cache holds, and making it smaller."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trainlens.cli.app import app
from trainlens.cli.common import fail, handle_errors, stderr_console, stdout_console

if TYPE_CHECKING:
    from trainlens.cache import ResultCache
    from trainlens.cache.manage import CacheUsage, KindUsage, Removed

cache_app = typer.Typer(
    help="Show what the result cache holds, clear it, or prune old and excess entries.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


class CacheFormat(str, Enum):
    text = "text"
    json = "json"


FormatOpt = Annotated[CacheFormat, typer.Option("--format", "-f")]
#: Taken as text: an empty value (an unset variable in a script) must not mean ".".
CacheDirText = Annotated[
    str | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="The cache directory (default: $TRAINLENS_CACHE_DIR, else "
        "$XDG_CACHE_HOME/trainlens or ~/.cache/trainlens).",
    ),
]


def _cache(cache_dir: str | None) -> ResultCache:
    """The cache asked for; exit 2 for an empty ``--cache-dir`` or one that is a file."""
    from trainlens.cache import ResultCache, default_cache_dir

    if cache_dir is not None and not cache_dir.strip():
        raise fail("--cache-dir is empty")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise fail(f"{root} is not a directory")
    return ResultCache(root)


def _size(n: int) -> str:
    """Bytes as ``"812 B"``, ``"2.3 KiB"`` ... ``"4.3 GiB"``."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def _usage_json(usage: CacheUsage) -> dict[str, Any]:
    def kind(k: KindUsage) -> dict[str, Any]:
        return {"entries": k.entries, "bytes": k.bytes, "oldest": k.oldest, "newest": k.newest}

    return {
        "path": str(usage.root),
        "exists": usage.exists,
        "entries": usage.entries,
        "bytes": usage.bytes,
        "kinds": {name: kind(k) for name, k in sorted(usage.kinds.items())},
        "stale": kind(usage.stale),
        "temp": kind(usage.temp),
        "errors": usage.errors,
    }


@cache_app.command("info")
def cache_info(cache_dir: CacheDirText = None, format: FormatOpt = CacheFormat.text) -> None:
    """Where the cache is, and its entries per kind: count, size, oldest and last use."""
    from trainlens.cache.manage import cache_usage

    with handle_errors():
        usage = cache_usage(_cache(cache_dir))
        for error in usage.errors:
            stderr_console().print(f"warning: cannot list {error}", markup=False)
        if format is CacheFormat.json:
            typer.echo(json.dumps(_usage_json(usage), indent=1))
            return
        from rich.table import Table
        from rich.text import Text

        console = stdout_console()
        state = "" if usage.exists else " (not created yet)"
        console.print(f"cache: {usage.root}{state}", markup=False)
        table = Table(box=None, pad_edge=False)
        for col in ("kind", "entries", "size", "oldest use", "last use"):
            table.add_column(col, justify="right" if col in ("entries", "size") else "left")
        rows = sorted(usage.kinds.items())
        if usage.stale.entries:
            rows.append(("older versions", usage.stale))
        if usage.temp.entries:
            rows.append(("unfinished writes", usage.temp))
        for name, k in rows:
            table.add_row(
                Text(name), f"{k.entries:,}", _size(k.bytes), _when(k.oldest), _when(k.newest)
            )
        if rows:
            console.print(table)
        temp = f" and {usage.temp.entries:,} unfinished writes" if usage.temp.entries else ""
        console.print(f"total: {usage.entries:,} entries{temp}, {_size(usage.bytes)}", markup=False)


def _report(removed: Removed, format: CacheFormat, cache: ResultCache) -> None:
    if format is CacheFormat.json:
        typer.echo(
            json.dumps(
                {
                    "path": str(cache.root),
                    "removed_files": removed.files,
                    "removed_bytes": removed.bytes,
                    "kept_files": removed.kept_files,
                    "kept_bytes": removed.kept_bytes,
                    "over_limit": removed.over_limit,
                    "errors": removed.errors,
                },
                indent=1,
            )
        )
    else:
        console = stdout_console()
        console.print(
            f"removed {removed.files:,} files ({_size(removed.bytes)}) from {cache.root}",
            markup=False,
        )
        if removed.kept_files:
            over = " (still over --max-size: some could not be removed)" * removed.over_limit
            console.print(
                f"kept {removed.kept_files:,} entries ({_size(removed.kept_bytes)}){over}",
                markup=False,
            )
    if removed.errors:
        shown = "; ".join(removed.errors[:3]) + (" ..." if len(removed.errors) > 3 else "")
        raise fail(f"{len(removed.errors)} file(s) could not be removed: {shown}")


@cache_app.command("clear")
def cache_clear(cache_dir: CacheDirText = None, format: FormatOpt = CacheFormat.text) -> None:
    """Remove every cache entry (logs are read again on the next run and cached anew)."""
    from trainlens.cache.manage import clear_cache

    with handle_errors():
        cache = _cache(cache_dir)
        _report(clear_cache(cache), format, cache)


@cache_app.command("prune")
def cache_prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Remove entries not used for this long: 30d, 12h, 90m (a bare number: days).",
        ),
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option(
            "--max-size",
            metavar="SIZE",
            help="Then remove the least recently used entries until the rest take at most "
            "this much: 2G, 500M.",
        ),
    ] = None,
    cache_dir: CacheDirText = None,
    format: FormatOpt = CacheFormat.text,
) -> None:
    """Remove entries unused for a while or past a size; entries of older trainlens versions
    and leftovers of interrupted writes go in any case."""
    from trainlens.cache.manage import parse_age, parse_size, prune_cache

    with handle_errors():
        try:
            age = parse_age(older_than) if older_than is not None else None
            size = parse_size(max_size) if max_size is not None else None
        except ValueError as exc:
            raise fail(str(exc)) from None
        cache = _cache(cache_dir)
        _report(prune_cache(cache, older_than_s=age, max_bytes=size), format, cache)
