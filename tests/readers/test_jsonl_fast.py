"""The pyarrow fast path of the ms-swift JSON-lines reader gives exactly what decoding every line
gives: the same table (keys in the same order, steps, values, NaN literals), meta, warnings and
``end_offset``, on nasty generated files and on the real ms-swift logs when present."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from logwriters import fmt_duration  # noqa: E402

from trainlens.readers import _jsonl, _jsonl_fast  # noqa: E402
from trainlens.readers._frame import COLUMNS, ReadResult  # noqa: E402
from trainlens.readers.swift_jsonl import read_swift_jsonl  # noqa: E402

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


def _read(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, fast: bool, **kwargs: Any
) -> tuple[ReadResult, int]:
    """One read with the fast path on (tiny chunks, no size floor) or off; and how many reads
    the fast path answered."""
    answered = 0
    real = _jsonl_fast.read_columns

    def spy(*args: Any, **kw: Any) -> Any:
        nonlocal answered
        out = real(*args, **kw)
        answered += out is not None
        return out

    with monkeypatch.context() as m:
        m.setattr(_jsonl_fast, "MIN_BYTES", 0 if fast else 1 << 62)
        m.setattr(_jsonl_fast, "CHUNK_BYTES", 700)
        m.setattr("trainlens.readers.swift_jsonl.read_columns", spy)
        return read_swift_jsonl(path, **kwargs), answered


def _table(result: ReadResult) -> tuple[Any, ...]:
    frame = result.frame
    cols = tuple(np.asarray(frame[c]) for c in COLUMNS)
    cats = getattr(getattr(frame["key"], "cat", None), "categories", None)
    return (*cols, None if cats is None else list(cats))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
        return a.shape == b.shape and bool((a == b).all())
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def assert_equivalent(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> bool:
    """Both paths over ``path``; returns whether the fast path answered."""
    pure, used = _read(path, monkeypatch, fast=False, **kwargs)
    assert used == 0
    fast, used = _read(path, monkeypatch, fast=True, **kwargs)
    for a, b, name in zip(_table(fast), _table(pure), (*COLUMNS, "categories"), strict=True):
        assert _same(a, b), f"{path.name}: column {name} differs"
    assert fast.meta == pure.meta
    assert [(w.source, w.message) for w in fast.warnings] == [
        (w.source, w.message) for w in pure.warnings
    ]
    assert fast.end_offset == pure.end_offset
    return used == 1


def _swift_line(rng: random.Random, step: int, steps: int) -> dict[str, Any]:
    return {
        "loss": round(rng.gauss(1, 0.3), 6),
        "grad_norm": rng.random() * 10,
        "learning_rate": 1e-5 * rng.random(),
        "memory(GiB)": 61.37,
        "train_speed(iter/s)": 0.08,
        "epoch": round(step / steps, 2),
        "global_step/max_steps": f"{step}/{steps}",
        "percentage": f"{100 * step / steps:.2f}%",
        "elapsed_time": f"{step // 60}m {step % 60}s",
        "remaining_time": fmt_duration(rng.choice([0, 59, 3600, 86399, 86400 * 9]) + step * 37),
    }


#: Lines that one or the other decoder cannot take as a plain flat record (each is spliced
#: into a clean log at random places).
NASTY: tuple[bytes, ...] = (
    b'{"loss": NaN, "global_step/max_steps": "7/9"}',
    b'{"loss": Infinity, "grad_norm": -Infinity, "global_step/max_steps": "8/9"}',
    b'{"eval_loss": 0.5, "eval_acc": 0.25, "global_step/max_steps": "5/9"}',
    b'{"loss": "n/a", "global_step/max_steps": "6/9"}',
    b'{"loss": true, "global_step/max_steps": "6/9"}',
    b'{"loss": [1, 2], "global_step/max_steps": "6/9"}',
    b'{"loss": {"a": 1}, "global_step/max_steps": "6/9"}',
    b'{"loss": null, "fresh": null, "global_step/max_steps": "6/9"}',
    b"not json at all",
    b'{"loss": 0.5, "global_step/max_steps": "6/',
    b"[1, 2, 3]",
    b"42",
    b"null",
    b"",
    b"   ",
    b'{"loss": 1}{"loss": 2}',
    b'  {"loss": 0.25, "global_step/max_steps": "6/9"}',
    b'{"loss": 0.25, "global_step/max_steps": "6/9"}   ',
    b'{"loss": 0.25, "loss": 0.5, "global_step/max_steps": "6/9"}',
    b'{"loss": 123456789012345678901, "big": 9223372036854775808, "global_step/max_steps": "1/9"}',
    b'{"loss": 9007199254740993, "global_step/max_steps": "2/9"}',
    b'{"loss": 1e400, "global_step/max_steps": "3/9"}',
    b'{"loss": -0, "x": -0.0, "y": 1E-7, "global_step/max_steps": "4/9"}',
    b'{"note": "caf\xc3\xa9", "\\u00e9t\\u00e9": 3, "global_step/max_steps": "4/9"}',
    b'{"note": "bad \xff byte", "loss": 1.5, "global_step/max_steps": "4/9"}',
    b'{"when": "2024-01-01 10:00:00", "global_step/max_steps": "4/9"}',
    b'{"loss": 0.5, "global_step/max_steps": "x/9"}',
    b'{"loss": 0.5, "global_step/max_steps": -3}',
    b'{"loss": 0.5}',
    b"{}",
    b'{"loss": 0.5, "global_step": 12}',
    b'{"loss": 0.5, "iteration": 13, "train_speed(s/it)": 4.0}',
    b'{"train_speed(s/it)": 0, "global_step/max_steps": "9/9"}',
    b'{"percentage": " 12.5% ", "elapsed_time": "1d 2h", "global_step/max_steps": "9/9"}',
    b'{"percentage": "1.5m", "elapsed_time": "3/9", "global_step/max_steps": "37s"}',
    b'{"percentage": "-5.00%", "remaining_time": "12 s", "global_step/max_steps": "5"}',
    b'{"elapsed_time": "\xc3\xbc 3s", "global_step/max_steps": "\xef\xbc\x97/9"}',
    b'{"remaining_time": "' + b"1" * 40 + b's", "global_step/max_steps": "' + b"1" * 40 + b'/9"}',
    b'{"percentage": "18446744073709551616%", "elapsed_time": "18446744073709551615", '
    b'"global_step/max_steps": "4/9"}',
    b'{"percentage": "-1%", "elapsed_time": "-1", "remaining_time": "1e5", '
    b'"global_step/max_steps": "4/9"}',
    b'{"train_runtime": 100.5, "train_loss": 0.3, "global_step/max_steps": "9/9"}',
    b'{"train_runtime": null, "loss": 3, "global_step/max_steps": "9/9"}',
    b'{"last_model_checkpoint": "/ckpt", "best_metric": null, "global_step": 9, '
    b'"log_history": [{"loss": 1, "step": 1}, {"eval_loss": "x"}]}',
    b'{"a": ' + b"[" * 600 + b"]" * 600 + b', "global_step/max_steps": "4/9"}',
    b"\x00\x00\x00",
)


def _write(path: Path, lines: list[bytes], *, last_newline: bool = True) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if last_newline else b""))
    return path


def _clean(rng: random.Random, n: int) -> list[bytes]:
    return [json.dumps(_swift_line(rng, i + 1, n)).encode() for i in range(n)]


def test_clean_log_is_answered_by_the_fast_path(tmp_path: Path, mp: pytest.MonkeyPatch) -> None:
    rng = random.Random(0)
    path = _write(tmp_path / "logging.jsonl", _clean(rng, 300))

    def careful(*args: Any) -> None:
        raise AssertionError("a clean chunk was decoded line by line")

    assert assert_equivalent(path, mp)
    mp.setattr(_jsonl_fast, "_careful_part", careful)
    assert _read(path, mp, fast=True)[1] == 1


@pytest.mark.parametrize("nasty", range(len(NASTY)))
def test_each_nasty_line_in_a_clean_log(tmp_path: Path, mp: pytest.MonkeyPatch, nasty: int) -> None:
    rng = random.Random(nasty)
    lines = _clean(rng, 120)
    for at in (0, 37, 60, 119):
        lines.insert(at, NASTY[nasty])
    path = _write(tmp_path / "logging.jsonl", lines)
    assert_equivalent(path, mp)
    assert_equivalent(path, mp, final=False)


@pytest.mark.parametrize("seed", range(12))
def test_random_mixtures(tmp_path: Path, mp: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    lines = _clean(rng, 200)
    for _ in range(rng.randint(1, 8)):
        lines.insert(rng.randrange(len(lines)), rng.choice(NASTY))
    if seed % 3 == 0:  # keys that appear mid-file, in another order
        for at in range(50, 200, 40):
            lines[at] = json.dumps({"eval_z": 1.0, "eval_a": float(at), "global_step": at}).encode()
    path = _write(tmp_path / "logging.jsonl", lines, last_newline=seed % 2 == 0)
    assert_equivalent(path, mp)
    assert_equivalent(path, mp, final=False)
    middle = len(b"\n".join(lines[:77])) + 1
    assert_equivalent(path, mp, offset=middle, first_line=78)


@pytest.mark.parametrize("odd", [-3, 1.5, "abc", None, True, 2**64 + 1])
def test_v2_integer_steps(tmp_path: Path, mp: pytest.MonkeyPatch, odd: Any) -> None:
    """ms-swift v2 writes ``global_step`` as an integer: an odd one is named as written.
    (Not 2**63 to 2**64 - 1: pandas makes that column uint64 and names the step as an integer,
    the fast path as a float; the step is skipped alike.)"""
    rows = [{"loss": 1.0 / i, "global_step": i, "epoch": i // 10} for i in range(1, 150)]
    rows[70]["global_step"] = odd
    lines = [json.dumps(r).encode() for r in rows]
    path = _write(tmp_path / "logging.jsonl", lines)
    assert assert_equivalent(path, mp)


def test_text_of_skipped_rows_does_not_change_how_the_rest_is_read(
    tmp_path: Path, mp: pytest.MonkeyPatch
) -> None:
    """A long text cell sends a column to the cell-by-cell parser, which reads ``"12 s"`` unlike
    the vectorised one; in a row dropped for its step it must not count."""
    lines = _clean(random.Random(5), 60)
    lines[10] = b'{"remaining_time": "12 s", "global_step/max_steps": "11/60"}'
    lines[30] = b'{"remaining_time": "' + b"1" * 40 + b's", "global_step/max_steps": "x/60"}'
    path = _write(tmp_path / "logging.jsonl", lines)
    assert assert_equivalent(path, mp)
    lines[30] = b'{"remaining_time": "' + b"1" * 40 + b's", "global_step/max_steps": "31/60"}'
    assert assert_equivalent(_write(path, lines), mp)


@pytest.mark.parametrize("last", [b'{"loss": 0.5, "global_step/max_steps": "9', b'{"loss": 1}'])
@pytest.mark.parametrize("final", [True, False])
def test_last_line_without_its_ending(
    tmp_path: Path, mp: pytest.MonkeyPatch, last: bytes, final: bool
) -> None:
    lines = [*_clean(random.Random(1), 100), last]
    path = _write(tmp_path / "logging.jsonl", lines, last_newline=False)
    assert assert_equivalent(path, mp, final=final)


def test_a_huge_line_is_skipped_alike(tmp_path: Path, mp: pytest.MonkeyPatch) -> None:
    lines = _clean(random.Random(2), 100)
    lines[40] = json.dumps({"note": "x" * 3000, "global_step/max_steps": "41/100"}).encode()
    path = _write(tmp_path / "logging.jsonl", lines)
    mp.setattr(_jsonl, "MAX_LINE_BYTES", 2000)
    mp.setattr(_jsonl_fast, "MAX_LINE_BYTES", 2000)
    assert assert_equivalent(path, mp)


def test_crlf_and_utf16_files_take_the_careful_path(tmp_path: Path, mp: pytest.MonkeyPatch) -> None:
    text = b"\n".join(_clean(random.Random(3), 50)).decode()
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes(text.encode("utf-16"))
    assert not assert_equivalent(crlf, mp)
    assert not assert_equivalent(utf16, mp)


@pytest.mark.parametrize(
    "name", ["swift_sft_qwen3_8b_lora_deepclima", "swift_v2_sft_internvl2_npu"]
)
def test_real_swift_logs(mp: pytest.MonkeyPatch, name: str) -> None:
    path = REALDATA / name / "logging.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    assert assert_equivalent(path, mp)


@pytest.fixture
def mp(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return monkeypatch
