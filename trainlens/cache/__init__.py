"""A result cache: parsed tables (and rule outcomes) of unchanged logs are not computed again.

Three kinds of entry, each one file (see :mod:`trainlens.cache.store` for the format and why):

- ``read``: what a reader returned for one log file, keyed by the file's absolute path, format
  and reading options; valid while the file's size, mtime (ns) and inode and the reader's
  ``VERSION`` are what they were. An event file that grew (same inode, the bytes before the
  offset read last time unchanged) is read from that offset only (:mod:`trainlens.cache.files`).
- ``run``: a run as :func:`trainlens.load.load_run` assembled it (merged table, metadata,
  warnings), valid while every file it was built from is unchanged.
- ``outcome``: what the series rules found in such a run, for one rule set and alias table.

Keys are SHA-256 digests (a path from a log never names a file in the cache), writes are atomic,
and an entry that does not check out is read again from the logs and rewritten. The cache is on
by default in ``$TRAINLENS_CACHE_DIR``, else ``$XDG_CACHE_HOME/trainlens``, else
``~/.cache/trainlens``; ``TRAINLENS_NO_CACHE=1`` (or ``--no-cache``) turns it off. It needs
nothing beyond numpy. Failing to write the cache (read-only disk, full disk) is never an error.
Nothing is evicted on its own: ``trainlens cache info|clear|prune`` (:mod:`trainlens.cache.manage`)
shows what it holds and removes entries unused for a while or past a size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported when an entry is read or written, not before
    import numpy as np

    from trainlens.cache.store import Entry

#: Bumped when the layout or the meaning of an entry changes: older entries are then ignored.
CACHE_VERSION = 1
#: A file modified less than this before its entry was written may change again without its
#: mtime moving (file times tick in jiffies, and clocks of network file systems drift): such an
#: entry is never trusted as "unchanged" (git's "racily clean" rule).
RACY_NS = 2_000_000_000


def is_racy(mtime_ns: int, written_ns: int) -> bool:
    """Whether a file with ``mtime_ns`` may have changed unseen after ``written_ns``."""
    return mtime_ns >= written_ns - RACY_NS


@dataclass(frozen=True)
class ResultCache:
    """A cache directory. :meth:`load` returns None for a missing or untrustworthy entry."""

    root: Path

    def entry_path(self, kind: str, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("cache keys are hex digests")
        return self.root / f"v{CACHE_VERSION}" / kind / key[:2] / f"{key}.tlc"

    def load(self, kind: str, key: str) -> Entry | None:
        from trainlens.cache.store import CorruptEntry, read_entry

        path = self.entry_path(kind, key)
        try:
            entry = read_entry(path)
        except (OSError, CorruptEntry):
            return None
        try:  # its mtime is its last use: `trainlens cache prune` keeps what is still read
            os.utime(path)
        except OSError:
            pass  # a read-only cache works as before
        return entry

    def store(
        self, kind: str, key: str, data: dict[str, Any], columns: dict[str, np.ndarray]
    ) -> bool:
        """Write an entry; False (and nothing written) when the cache directory is unusable."""
        from trainlens.cache.store import write_entry

        try:
            write_entry(self.entry_path(kind, key), data, columns)
        except OSError:
            return False
        _tag(self.root)
        return True


#: The Cache Directory Tagging spec's file: backup tools (tar --exclude-caches, borg, restic)
#: skip the directory. https://bford.info/cachedir/
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by trainlens.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_TAGGED: set[Path] = set()


def _tag(root: Path) -> None:
    """Write ``CACHEDIR.TAG`` into ``root`` once per process (best effort)."""
    if root in _TAGGED:
        return
    _TAGGED.add(root)
    tag = root / "CACHEDIR.TAG"
    try:
        if not tag.exists():
            tag.write_text(CACHEDIR_TAG, encoding="ascii")
    except OSError:
        pass


def default_cache_dir() -> Path:
    """``$TRAINLENS_CACHE_DIR``, else ``$XDG_CACHE_HOME/trainlens``, else ``~/.cache/trainlens``."""
    env = os.environ.get("TRAINLENS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "trainlens"


#: What a caller may pass as ``cache=``: None (the default cache unless ``TRAINLENS_NO_CACHE``),
#: False (off), True (the default cache), a directory, or a :class:`ResultCache`.
CacheOption = ResultCache | Path | str | bool | None


def resolve_cache(option: CacheOption = None) -> ResultCache | None:
    """The cache to use for ``option`` (None: no caching)."""
    if isinstance(option, ResultCache):
        return option
    if option is False:
        return None
    if option is None and os.environ.get("TRAINLENS_NO_CACHE", "").strip() not in ("", "0"):
        return None
    if isinstance(option, (str, Path)):
        return ResultCache(Path(option).expanduser())
    return ResultCache(default_cache_dir())


__all__ = ["CacheOption", "ResultCache", "default_cache_dir", "resolve_cache"]
