"""What the result cache holds, and making it smaller: ``trainlens cache info|clear|prune``.

Entries are touched when they are used (:meth:`~trainlens.cache.ResultCache.load`), so an
entry's mtime is its last use and pruning by age keeps what is still read. Only the cache's own
files are removed, found where :meth:`~trainlens.cache.ResultCache.entry_path` puts them and
nowhere else: ``v<N>/<kind>/<xx>/<64 hex digits>.tlc`` (``xx`` the name's first two digits),
temp files a killed write left beside them (``.tmp-*.tlc``), and the directories of that layout
once empty. Entries of another cache version (``v<N>`` other than
:data:`~trainlens.cache.CACHE_VERSION`) are never read again; ``prune`` removes them whatever
their age. Anything else in the directory is left alone, and no symbolic link is followed.
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
_KIND_DIR = re.compile(r"[a-z]+")
_FANOUT_DIR = re.compile(r"[0-9a-f]{2}")
_ENTRY = re.compile(r"[0-9a-f]{64}\.tlc")
_TEMP = re.compile(r"\.tmp-[^/]*\.tlc")
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
    errors: list[str] = field(default_factory=list)  # directories that could not be listed

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
    over_limit: bool = False  # what is kept still takes more than ``max_bytes``

    def keep(self, f: CacheFile) -> None:
        self.kept_files += 1
        self.kept_bytes += f.size


def _dirs(path: str, pattern: re.Pattern[str], errors: list[str]) -> list[os.DirEntry[str]]:
    """The real (not symlinked) directories in ``path`` whose name matches ``pattern``."""
    try:
        with os.scandir(path) as it:
            return [d for d in it if pattern.fullmatch(d.name) and d.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror or exc}")
        return []


def cache_files(cache: ResultCache, errors: list[str] | None = None) -> Iterator[CacheFile]:
    """Every file of the cache's layout (see the module docstring), in no particular order.
    Directories that cannot be listed are named in ``errors``."""
    errors = [] if errors is None else errors
    if not cache.root.is_dir():
        return
    for vdir in _dirs(str(cache.root), _VERSION_DIR, errors):
        current = vdir.name == f"v{CACHE_VERSION}"
        for kdir in _dirs(vdir.path, _KIND_DIR, errors):
            for fdir in _dirs(kdir.path, _FANOUT_DIR, errors):
                try:
                    with os.scandir(fdir.path) as it:
                        names = [f for f in it if f.is_file(follow_symlinks=False)]
                except OSError as exc:
                    errors.append(f"{fdir.path}: {exc.strerror or exc}")
                    continue
                for f in names:
                    is_temp = bool(_TEMP.fullmatch(f.name))
                    if not is_temp and not (_ENTRY.fullmatch(f.name) and f.name[:2] == fdir.name):
                        continue
                    try:
                        st = f.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed meanwhile
                    kind = "temp" if is_temp else kdir.name
                    yield CacheFile(Path(f.path), kind, current, st.st_size, st.st_mtime)


def cache_usage(cache: ResultCache) -> CacheUsage:
    """What ``cache`` holds (a missing directory holds nothing)."""
    usage = CacheUsage(cache.root, cache.root.is_dir())
    for f in cache_files(cache, usage.errors):
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
    for f in list(cache_files(cache, removed.errors)):
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
    for f in list(cache_files(cache, removed.errors)):
        if f.kind == "temp":
            if now - f.used > TEMP_GRACE_S:
                _remove(f, removed)
        elif not f.current or (older_than_s is not None and now - f.used > older_than_s):
            if not _remove(f, removed):
                removed.keep(f)
        else:
            live.append(f)
    live.sort(key=lambda f: f.used)  # least recently used first
    total = sum(f.size for f in live)
    for f in live:
        if max_bytes is not None and total > max_bytes and _remove(f, removed):
            total -= f.size
        else:
            removed.keep(f)
    removed.over_limit = max_bytes is not None and removed.kept_bytes > max_bytes
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
    """Remove the fan-out, kind and version directories of the layout that hold nothing now."""
    if not cache.root.is_dir():
        return
    ignored: list[str] = []
    for vdir in _dirs(str(cache.root), _VERSION_DIR, ignored):
        for kdir in _dirs(vdir.path, _KIND_DIR, ignored):
            for fdir in _dirs(kdir.path, _FANOUT_DIR, ignored):
                _rmdir(fdir.path)
            _rmdir(kdir.path)
        _rmdir(vdir.path)


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)  # only an empty directory goes
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
    if not 0 <= value * scale < 2**63:
        raise ValueError(f"not a size: {text!r}")
    return int(value * scale)
