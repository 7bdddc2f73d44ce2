"""The one domain exception type; the CLI turns it into ``error: ...`` and an exit code."""

from __future__ import annotations


class TrainlensError(Exception):
    """A usage, configuration or input error the user can fix (exit code 2 by default)."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
