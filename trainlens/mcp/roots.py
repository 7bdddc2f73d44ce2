"""Paths an agent may name: only inside the folders the server was started with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from trainlens.errors import TrainlensError


class PathRefused(TrainlensError):
    """A path outside the roots (``../``, an absolute path elsewhere, a symlink out)."""


class Roots:
    """The folders given at start (``--root DIR``, several allowed), resolved once."""

    def __init__(self, dirs: Sequence[Path | str]) -> None:
        if not dirs:
            raise TrainlensError("mcp: give at least one --root DIR")
        self.dirs: list[Path] = []
        for d in dirs:
            path = Path(d).expanduser().resolve()
            if not path.is_dir():
                raise TrainlensError(f"{d}: root folder not found")
            self.dirs.append(path)

    def containing(self, path: Path) -> Path | None:
        """The root ``path`` (already resolved) lies in, or None."""
        return next((r for r in self.dirs if path == r or path.is_relative_to(r)), None)

    def resolve(self, text: str) -> Path:
        """The real path ``text`` names: relative to a root (the first where it exists) or
        absolute; refused when it is, or leads through a symlink to, anything outside them."""
        if not isinstance(text, str) or "\x00" in text:
            raise PathRefused("path must be a string")
        raw = Path(text.strip() or ".").expanduser()
        candidates = [raw] if raw.is_absolute() else [r / raw for r in self.dirs]
        for cand in candidates:
            real = cand.resolve()
            if self.containing(real) is None:
                raise PathRefused(f"{text}: refused, outside the server's roots")
            if real.exists():
                return real
        raise TrainlensError(f"{text}: not found under the roots")

    def check(self, paths: Iterable[Path | str | None]) -> bool:
        """True when every path (a run's files) resolves inside the roots."""
        return all(p is None or self.containing(Path(p).resolve()) is not None for p in paths)

    def show(self, path: Path) -> str:
        """``path`` as an agent passes it back: relative to its root (``.`` for the root)."""
        real = path.resolve()
        root = self.containing(real)
        if root is None:
            return str(path)
        rel = real.relative_to(root).as_posix()
        return rel if len(self.dirs) == 1 or root == self.dirs[0] else str(real)
