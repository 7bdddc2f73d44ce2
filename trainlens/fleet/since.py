"""``--since``: when a run was last written, and the point in time a user means by a DATE."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trainlens.discover import RunSources
from trainlens.errors import TrainlensError

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """An aware datetime from ``2026-12-01``, ``2026-12-01T08:30`` (local time unless it names
    a zone: ``Z``, ``+08:00``) or an age before ``now``: ``90m``, ``12h``, ``2d``, ``1w``.
    Anything else raises :class:`TrainlensError` (exit 2)."""
    rel = _RELATIVE.match(text)
    if rel:
        age = timedelta(**{_UNITS[rel.group(2)]: float(rel.group(1))})
        return (now or datetime.now(UTC)) - age
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise TrainlensError(
            f"--since {text!r}: expected a date (2026-12-01), a date and time "
            "(2026-12-01T08:30, +08:00 for a zone) or an age (90m, 12h, 2d, 1w)"
        ) from None
    return when if when.tzinfo else when.astimezone()  # naive: the local time zone


def run_files(sources: RunSources) -> list[Path]:
    """Every file that makes up a run: its logs, companions, config and summary files."""
    files = [f for s in (sources.primary, *sources.companions) for f in s.files]
    if sources.config_path is not None:
        files.append(sources.config_path)
    return [*files, *sources.meta_files]


def last_write(sources: RunSources) -> datetime | None:
    """The newest modification time among a run's files (UTC); None when none can be read."""
    newest: float | None = None
    for path in run_files(sources):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return None if newest is None else datetime.fromtimestamp(newest, UTC)
