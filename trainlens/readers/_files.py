"""Open only regular files: a FIFO, socket or device named like a log must never block a read.

Every reader opens its file through :func:`open_regular`: the file is opened with ``O_NONBLOCK``
(opening a FIFO without a writer would wait forever otherwise), checked with ``fstat`` on the
open descriptor (no race between a check and the open), and refused with an :class:`OSError`
whose ``strerror`` names what it is. Readers already turn an ``OSError`` into one warning.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (``"a FIFO (named pipe)"``)."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class NotRegularFile(OSError):
    """A path that is not a regular file (reading it could block or never end)."""

    def __init__(self, path: str | Path, mode: int) -> None:
        what = f"not a regular file: {file_kind(mode)}; skipped"
        super().__init__(errno.EINVAL, what, str(path))


def open_regular(path: str | Path) -> BinaryIO:
    """``open(path, "rb")`` for regular files only; raises :class:`NotRegularFile` (an
    ``OSError``) for anything else, without blocking."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path: str | Path) -> bool:
    """Whether ``path`` (symlinks followed) is a regular file; never blocks, never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
