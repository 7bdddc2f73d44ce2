"""What the result cache holds, and making it smaller: ``trainlens cache info|clear|prune``.

Entries are touched when they are used (:meth:`~trainlens.cache.ResultCache.load`), so an
entry's mtime is its last use and pruning by age keeps what is still read. Only the cache's own
files are removed: entries (``*.tlc``) under ``v<N>/<kind>/``, temp files a killed write left
(``.tmp-*``), and the directories that empties. Entries of another cache version (``v<N>``
other than :data:`~trainlens.cache.CACHE_VERSION`) are never read again; ``prune`` removes them
whatever their age. Anything else in the directory is left alone.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trainlens.cache import CACHE_VERSION, ResultCache

_VERSION_DIR = re.compile(r"v\d+")
_ENTRY = re.compile(r"[0-9a-f]{64}\.tlc")
#: A temp file younger than this may belong to a write in progress: left alone.
TEMP_GRACE_S = 3600.0


@dataclass(frozen=True)
class CacheFile:
    """One file of the cache: an entry (``kind``: read, run, outcome) or a leftover temp file
    (``kind``: "temp"); ``current``: of this cache version."""

    path: Path
    kind: str
    current: bool
    size: int
    used: float  # mtime: the last write or use


@dataclass
class KindUsage:
    entries: int = 0
    bytes: int = 0
    oldest: float | None = None
    newest: float | None = None

    def add(self, f: CacheFile) -> None:
        self.entries += 1
        self.bytes += f.size
        self.oldest = f.used if self.oldest is None else min(self.oldest, f.used)
        self.newest = f.used if self.newest is None else max(self.newest, f.used)


@dataclass
class CacheUsage:
    """What a cache directory holds: per kind of entry of this version, entries of other
    versions (``stale``) and leftover temp files (``temp``)."""

    root: Path
    exists: bool
    kinds: dict[str, KindUsage] = field(default_factory=dict)
    stale: KindUsage = field(default_factory=KindUsage)
    temp: KindUsage = field(default_factory=KindUsage)

    @property
    def bytes(self) -> int:
        return sum(k.bytes for k in self.kinds.values()) + self.stale.bytes + self.temp.bytes

    @property
    def entries(self) -> int:
        return sum(k.entries for k in self.kinds.values()) + self.stale.entries


@dataclass
class Removed:
    """What :func:`clear_cache` / :func:`prune_cache` removed (and failed to)."""

    files: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    kept_files: int = 0
    kept_bytes: int = 0


def cache_files(cache: ResultCache) -> Iterator[CacheFile]:
    """Every file of the cache (see the module docstring), in no particular order. Symbolic
    links are never followed."""
    root = cache.root
    try:
        versions = [d for d in os.scandir(root) if _VERSION_DIR.fullmatch(d.name)]
    except OSError:
        return
    for vdir in versions:
        if not vdir.is_dir(follow_symlinks=False):
            continue
        current = vdir.name == f"v{CACHE_VERSION}"
        for dirpath, dirnames, filenames in os.walk(vdir.path, followlinks=False):
            rel = Path(dirpath).relative_to(vdir.path).parts
            kind = rel[0] if rel else ""
            for name in filenames:
                is_temp = name.startswith(".tmp-")
                if not is_temp and not _ENTRY.fullmatch(name):
                    continue
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue  # removed meanwhile
                yield CacheFile(path, "temp" if is_temp else kind, current, st.st_size, st.st_mtime)
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]


def cache_usage(cache: ResultCache) -> CacheUsage:
    """What ``cache`` holds (a missing directory holds nothing)."""
    usage = CacheUsage(cache.root, cache.root.is_dir())
    for f in cache_files(cache):
        if f.kind == "temp":
            usage.temp.add(f)
        elif not f.current:
            usage.stale.add(f)
        else:
            usage.kinds.setdefault(f.kind, KindUsage()).add(f)
    return usage


def clear_cache(cache: ResultCache) -> Removed:
    """Remove every entry and temp file of the cache (the next reads fill it again)."""
    removed = Removed()
    for f in cache_files(cache):
        _remove(f, removed)
    _remove_empty_dirs(cache)
    return removed


def prune_cache(
    cache: ResultCache,
    *,
    older_than_s: float | None = None,
    max_bytes: int | None = None,
    now: float | None = None,
) -> Removed:
    """Remove entries of other cache versions, temp files older than :data:`TEMP_GRACE_S`,
    entries unused for more than ``older_than_s`` seconds, then the least recently used until
    the entries left take at most ``max_bytes``."""
    now = time.time() if now is None else now
    removed = Removed()
    live: list[CacheFile] = []
    for f in cache_files(cache):
        if f.kind == "temp":
            if now - f.used > TEMP_GRACE_S:
                _remove(f, removed)
        elif not f.current or (older_than_s is not None and now - f.used > older_than_s):
            _remove(f, removed)
        else:
            live.append(f)
    live.sort(key=lambda f: f.used)  # least recently used first
    total = sum(f.size for f in live)
    for f in live:
        if max_bytes is None or total <= max_bytes:
            removed.kept_files += 1
            removed.kept_bytes += f.size
            continue
        if _remove(f, removed):
            total -= f.size
        else:
            removed.kept_files += 1
            removed.kept_bytes += f.size
    _remove_empty_dirs(cache)
    return removed


def _remove(f: CacheFile, removed: Removed) -> bool:
    try:
        f.path.unlink()
    except FileNotFoundError:
        return True  # another process removed it
    except OSError as exc:
        removed.errors.append(f"{f.path}: {exc.strerror or exc}")
        return False
    removed.files += 1
    removed.bytes += f.size
    return True


def _remove_empty_dirs(cache: ResultCache) -> None:
    """Remove the version, kind and fan-out directories that no longer hold anything."""
    try:
        versions = [d.path for d in os.scandir(cache.root) if _VERSION_DIR.fullmatch(d.name)]
    except OSError:
        return
    for vdir in versions:
        if Path(vdir).is_symlink():
            continue
        for dirpath, _, _ in sorted(os.walk(vdir, followlinks=False), reverse=True):
            try:
                os.rmdir(dirpath)  # only succeeds when empty
            except OSError:
                pass


def parse_age(text: str) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"45s"`` or a number of days → seconds."""
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    t = text.strip().lower()
    unit = units.get(t[-1:], None)
    number = t[:-1] if unit is not None else t
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not an age: {text!r} (use e.g. 30d, 12h, 90m)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not an age: {text!r}")
    return value * (unit if unit is not None else units["d"])


def parse_size(text: str) -> int:
    """``"2G"``, ``"500M"``, ``"1.5GB"``, ``"800k"`` or a number of bytes → bytes (powers of
    1024)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    scales = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    scale = scales.get(t[-1:], 1)
    number = t[:-1] if t[-1:] in scales else t
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use e.g. 2G, 500M)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not a size: {text!r}")
    return int(value * scale)
