"""The contract every fuzz case checks, and the byte mutations the strategies draw from.

Contract: the command exits 0, 1 or 2 (never 3: an internal error), prints no traceback and
raises no Python warning, finishes within a per-case timeout, and every good record before the
first damaged byte is kept (checked per format by the tests).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trainlens.cli import app

#: Settings of every fuzz test (``TRAINLENS_FUZZ=long`` for the long profile).
FUZZ = settings.get_profile(f"fuzz-{os.environ.get('TRAINLENS_FUZZ', 'fast')}")
#: Seconds one case may take before it counts as a hang.
CASE_TIMEOUT = float(os.environ.get("TRAINLENS_FUZZ_TIMEOUT", "60"))

T = TypeVar("T")


def within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a thread; a case that does not finish in time fails (a hang), an
    exception is re-raised here, and any Python warning it raises fails the case."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="tensorboardX")
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} did not finish in {seconds}s"
    if "error" in box:
        raise box["error"]
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]
    return box["value"]


def check_cli(path: Path, command: str = "metrics") -> Any:
    """Run ``trainlens <command> PATH`` in-process under the contract; returns the result."""
    result = within(CASE_TIMEOUT, CliRunner().invoke, app, [command, str(path)])
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    return result


#: One change to a file: (kind, where as a fraction of its length, bytes).
Mutation = tuple[str, float, bytes]

_GARBAGE = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.sampled_from(
        [
            b"\x00" * 512,  # a preallocated tail
            b"[" * 5000,  # deep nesting
            b"9" * 5000,  # a huge number
            b"\r",
            b"\r\n",
            b"\xff\xfe",
            b"\xef\xbb\xbf",
            b'{"a": NaN}\n',
            b"\n\n",
            b"}\n{",
        ]
    ),
)
mutations = st.lists(
    st.one_of(
        st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
        st.tuples(st.just("flip"), st.floats(0, 1), st.binary(min_size=1, max_size=4)),
        st.tuples(st.just("insert"), st.floats(0, 1), _GARBAGE),
        st.tuples(st.just("overwrite"), st.floats(0, 1), _GARBAGE),
    ),
    min_size=1,
    max_size=3,
)


def mutate(data: bytes, changes: list[Mutation]) -> tuple[bytes, int]:
    """Apply the changes; returns the new bytes and the first byte offset touched."""
    out = bytearray(data)
    first = len(out)
    for kind, where, payload in changes:
        pos = int(where * len(out))
        if kind == "truncate":
            del out[pos:]
        elif kind == "flip":
            for i, b in enumerate(bytes(b or 1 for b in payload)[: len(out) - pos]):
                out[pos + i] ^= b
        elif kind == "insert":
            out[pos:pos] = payload
        else:
            out[pos : pos + len(payload)] = payload
        first = min(first, pos)
    return bytes(out), first


def intact_lines(data: bytes, first_bad: int) -> int:
    """How many whole lines (with their ``\\n``) end before ``first_bad``."""
    return data[:first_bad].count(b"\n")
