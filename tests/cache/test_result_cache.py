"""The result cache: a cached load or analysis is the fresh one; stale or damaged entries are
rebuilt, never trusted; grown event files are read from where the last read stopped."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pandas as pd
import pytest
from cache_helpers import (
    EXAMPLES,
    age,
    assert_same_load,
    copy_aged,
    format_fixtures,
    realdata_dirs,
    write_tb,
)

import trainlens.load as load_mod
import trainlens.readers.registry as registry
from trainlens.analysis import analyze
from trainlens.cache import CACHEDIR_TAG, ResultCache, default_cache_dir, resolve_cache
from trainlens.cache.files import cached_read
from trainlens.cache.store import MAGIC, read_entry
from trainlens.discover import SourceFormat
from trainlens.load import load_runs
from trainlens.readers.registry import read_source_file


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return format_fixtures(tmp_path_factory.mktemp("formats") / "logs")


def _entries(cache: Path, kind: str) -> list[Path]:
    return sorted((cache / "v1" / kind).rglob("*.tlc"))


def _no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"read a log although it was cached: {args}")

    monkeypatch.setattr(load_mod, "read_source_file", fail)
    monkeypatch.setattr("trainlens.cache.files.read_source_file", fail)


def test_every_format_cached_equals_fresh(
    formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_runs(formats, cache=False, jobs=1)
    assert len(fresh.runs) == 8
    first = load_runs(formats, cache=tmp_path, jobs=1)
    assert_same_load(fresh, first)
    assert len(_entries(tmp_path, "read")) == 8 and len(_entries(tmp_path, "run")) == 7
    _no_reads(monkeypatch)
    again = load_runs(formats, cache=tmp_path, jobs=1)
    assert_same_load(fresh, again)
    # llamafactory runs look for their config in the folder: read through the file cache only
    assert sum(r.cache_ref is not None for r in again.runs) == 7


@pytest.mark.parametrize("name", [p.name for p in sorted(EXAMPLES.iterdir()) if p.is_dir()])
def test_examples_analysis_cached_equals_fresh(name: str, tmp_path: Path) -> None:
    logs = copy_aged(EXAMPLES / name, tmp_path / "logs")
    fresh = analyze(logs, cache=False, jobs=1)
    for _ in range(2):  # builds the entries, then uses them
        cached = analyze(logs, cache=tmp_path / "cache", jobs=1)
        assert cached.findings == fresh.findings
        assert cached.skipped == fresh.skipped
        assert cached.warnings == fresh.warnings
        assert_same_load(load_runs(logs, cache=False), load_runs(logs, cache=tmp_path / "cache"))


@pytest.mark.realdata
@pytest.mark.parametrize("src", realdata_dirs(), ids=lambda p: p.name)
def test_realdata_cached_equals_fresh(src: Path, tmp_path: Path) -> None:
    logs = copy_aged(src, tmp_path / "logs")
    fresh = load_runs(logs, cache=False, jobs=1)
    assert_same_load(fresh, load_runs(logs, cache=tmp_path / "c", jobs=1))
    assert_same_load(fresh, load_runs(logs, cache=tmp_path / "c", jobs=1))


def test_unchanged_analysis_evaluates_no_rule(
    formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = analyze(formats / "swift", cache=tmp_path)

    def fail(*args: object) -> None:
        raise AssertionError("rules evaluated again")

    monkeypatch.setattr("trainlens.engine.evaluate.evaluate_run", fail)
    again = analyze(formats / "swift", cache=tmp_path)
    assert again.findings == first.findings and again.skipped == first.skipped
    # another rule set is another outcome: evaluated
    with pytest.raises(AssertionError, match="rules evaluated again"):
        analyze(formats / "swift", cache=tmp_path, params={"kl_spike": {"limit": 0.5}})


# ----------------------------------------------------------------------- stale and damaged


def _one_entry(cache: Path) -> Path:
    (entry,) = _entries(cache, "read")
    return entry


def _tb_read(cache: Path, path: Path) -> tuple[pd.DataFrame, list[object], dict[str, object]]:
    r = cached_read(ResultCache(cache), SourceFormat.TENSORBOARD, path)
    return r.frame, r.warnings, r.meta


def _assert_fresh(cache: Path, path: Path) -> None:
    frame, warnings, meta = _tb_read(cache, path)
    want = read_source_file(SourceFormat.TENSORBOARD, path)
    pd.testing.assert_frame_equal(frame, want.frame, check_exact=True)
    assert warnings == want.warnings and meta == want.meta


def _damage_truncate(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:-100])


def _damage_flip_value(entry: Path) -> None:
    raw = bytearray(entry.read_bytes())
    raw[-70] ^= 0x40  # inside the last column
    entry.write_bytes(bytes(raw))


def _damage_header(entry: Path) -> None:
    raw = bytearray(entry.read_bytes())
    raw[30] ^= 0x01  # a byte of the JSON header
    entry.write_bytes(bytes(raw))


def _damage_magic(entry: Path) -> None:
    entry.write_bytes(b"NOTCACHE" + entry.read_bytes()[8:])


def _damage_empty(entry: Path) -> None:
    entry.write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [_damage_truncate, _damage_flip_value, _damage_header, _damage_magic, _damage_empty],
)
def test_damaged_entry_is_rebuilt(tmp_path: Path, damage: object) -> None:
    path = write_tb(tmp_path / "tb")
    age(path)
    _assert_fresh(tmp_path / "c", path)
    entry = _one_entry(tmp_path / "c")
    damage(entry)  # type: ignore[operator]
    if entry.stat().st_size:
        with pytest.raises(Exception, match="checksum|truncated|not a trainlens|short"):
            read_entry(entry)
    _assert_fresh(tmp_path / "c", path)
    read_entry(_one_entry(tmp_path / "c"))  # rewritten whole


def test_stale_entries_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_tb(tmp_path / "tb", steps=40)
    age(path)
    cache = tmp_path / "c"
    _assert_fresh(cache, path)
    # the source changed (same size, other values, older mtime than before)
    other = write_tb(tmp_path / "other", steps=40, tags=3)
    raw = bytearray(path.read_bytes())
    body = other.read_bytes()
    raw[-len(body) // 2 :] = body[-len(body) // 2 :]
    path.write_bytes(bytes(raw))
    age(path, 7200)
    _assert_fresh(cache, path)
    # the reader's version moved on
    monkeypatch.setattr("trainlens.readers.tensorboard.VERSION", 99)
    calls: list[int] = []
    real = registry.read_source_file

    def spy(fmt: SourceFormat, p: Path, offset: int = 0, **kw: object) -> object:
        calls.append(offset)
        return real(fmt, p, offset, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("trainlens.cache.files.read_source_file", spy)
    _assert_fresh(cache, path)
    assert calls and calls[0] == 0  # read again from the start


def test_file_written_just_now_is_not_trusted(tmp_path: Path) -> None:
    path = write_tb(tmp_path / "tb", steps=10)
    cache = tmp_path / "c"
    _assert_fresh(cache, path)
    st = path.stat()
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")  # same size, same mtime tick possible
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    _assert_fresh(cache, path)  # the entry was racy: not used


def _record_ends(raw: bytes) -> list[int]:
    ends, pos = [], 0
    while pos + 12 <= len(raw):
        (n,) = struct.unpack_from("<Q", raw, pos)
        pos += 12 + n + 4
        ends.append(pos)
    return ends


@pytest.mark.parametrize("cut_mid_record", [False, True])
def test_grown_event_file_is_read_from_the_last_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_mid_record: bool
) -> None:
    full = write_tb(tmp_path / "full", steps=200).read_bytes()
    ends = _record_ends(full)
    cut = ends[len(ends) // 2] + (7 if cut_mid_record else 0)
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    path.write_bytes(full[:cut])
    age(path)
    cache = tmp_path / "c"
    _assert_fresh(cache, path)  # a torn last record: one warning, read again next time
    offsets: list[int] = []
    real = registry.read_source_file

    def spy(fmt: SourceFormat, p: Path, offset: int = 0, **kw: object) -> object:
        offsets.append(offset)
        return real(fmt, p, offset, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("trainlens.cache.files.read_source_file", spy)
    with open(path, "ab") as fh:  # the writer goes on: same inode, appended
        fh.write(full[cut:])
    age(path)
    _assert_fresh(cache, path)
    assert offsets and min(offsets) >= ends[len(ends) // 2]  # only the new bytes were read
    offsets.clear()
    _assert_fresh(cache, path)
    assert not offsets  # unchanged since: not read at all


def test_rewritten_event_file_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = write_tb(tmp_path / "full", steps=100).read_bytes()
    other = write_tb(tmp_path / "other", steps=150, tags=2).read_bytes()
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    path.write_bytes(full)
    age(path)
    cache = tmp_path / "c"
    _assert_fresh(cache, path)
    with open(path, "r+b") as fh:  # same inode, longer, other bytes before the old end
        fh.write(other)
    age(path)
    _assert_fresh(cache, path)


# ------------------------------------------------------------------- where and how it writes


def test_cache_writes_only_hashed_names_inside_its_dir(formats: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = {p for p in tmp_path.rglob("*")}
    load_runs(formats, cache=cache, jobs=1)
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(p == cache or cache in p.parents for p in created)
    tag = cache / "CACHEDIR.TAG"  # the one other file: the backup tools' tag, a constant
    assert tag.read_text() == CACHEDIR_TAG
    for p in created - {tag}:
        if p.is_file():
            assert p.suffix == ".tlc" and len(p.stem) == 64 and p.stem.isalnum()
            with open(p, "rb") as fh:
                assert fh.read(8) == MAGIC
    assert not list(cache.rglob(".tmp-*"))


def test_unwritable_cache_is_no_error(formats: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    fresh = load_runs(formats / "swift", cache=False)
    assert_same_load(fresh, load_runs(formats / "swift", cache=blocker / "cache"))


def test_two_processes_share_a_cache(formats: Path, tmp_path: Path) -> None:
    import multiprocessing

    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=load_runs, args=(formats,), kwargs={"cache": cache, "jobs": 1})]
    procs.append(ctx.Process(target=load_runs, args=(formats,), kwargs={"cache": cache, "jobs": 1}))
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert_same_load(load_runs(formats, cache=False), load_runs(formats, cache=cache))
    for entry in _entries(cache, "read") + _entries(cache, "run"):
        read_entry(entry)


def test_cache_option_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINLENS_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRAINLENS_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "trainlens"
    assert resolve_cache(None) == ResultCache(tmp_path / "xdg" / "trainlens")
    monkeypatch.setenv("TRAINLENS_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache(True) == ResultCache(tmp_path / "env")
    assert resolve_cache(tmp_path / "x") == ResultCache(tmp_path / "x")
    assert resolve_cache(False) is None
    monkeypatch.setenv("TRAINLENS_NO_CACHE", "1")
    assert resolve_cache(None) is None
    assert resolve_cache(tmp_path / "x") == ResultCache(tmp_path / "x")  # asked for by name


def test_crashed_rule_outcome_is_not_cached(
    formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from trainlens.engine.registry import DETECTORS

    calls: list[int] = []

    def boom(*args: object, **kwargs: object) -> list[object]:
        calls.append(1)
        raise MemoryError("transient")

    from trainlens.engine.spec import load_rules

    name = load_rules().get("kl_spike").detector  # a rule the swift run (with kl) runs
    monkeypatch.setitem(DETECTORS, name, replace(DETECTORS[name], fn=boom))
    for _ in range(2):
        result = analyze(formats / "swift", cache=tmp_path)
        assert any("transient" in w.message for w in result.warnings)
    assert len(calls) >= 2 and len(calls) % 2 == 0  # the rules ran both times


def test_outcomes_cached_by_another_process_are_used(
    formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from trainlens.analysis import analyze; "
        "analyze(sys.argv[1], cache=sys.argv[2])"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run(
        [sys.executable, "-c", code, str(formats / "swift"), str(tmp_path)], check=True, env=env
    )

    def fail(*args: object) -> None:
        raise AssertionError("rules evaluated again")

    _no_reads(monkeypatch)
    monkeypatch.setattr("trainlens.engine.evaluate.evaluate_run", fail)
    analyze(formats / "swift", cache=tmp_path)
