"""Parallel reads give exactly what the serial loop gives: runs in order, tables, warnings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cache_helpers import age, assert_same_load, format_fixtures, write_tb

import trainlens.parallel as parallel
from trainlens.analysis import analyze
from trainlens.load import load_runs


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = format_fixtures(tmp_path_factory.mktemp("par") / "logs")
    bad = root / "broken_swift" / "logging.jsonl"
    bad.parent.mkdir()
    shutil.copy(root / "swift" / "logging.jsonl", bad)
    with open(bad, "a", encoding="utf-8") as fh:
        fh.write('{"loss": 0.5, "global_step/max_steps": "41/40"\nnot json at all\n')
    tb2 = root / "tb_two_files"
    write_tb(tb2 / "a", steps=50)
    write_tb(tb2 / "b", steps=70, tags=2)
    for sub in ("a", "b"):  # two event files of one run, side by side
        for f in (tb2 / sub).iterdir():
            f.rename(tb2 / f"{f.name}.{sub}")
        (tb2 / sub).rmdir()
    age(root)
    return root


@pytest.fixture
def always_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_POOL_BYTES", 0)


def test_pool_equals_serial(logdir: Path, always_pool: None) -> None:
    serial = load_runs(logdir, cache=False, jobs=1)
    assert len(serial.runs) == 10 and serial.warnings  # the broken run warns
    assert_same_load(serial, load_runs(logdir, cache=False, jobs=2))


def test_pool_with_cache_equals_serial(logdir: Path, tmp_path: Path, always_pool: None) -> None:
    serial = load_runs(logdir, cache=False, jobs=1)
    assert_same_load(serial, load_runs(logdir, cache=tmp_path, jobs=2))  # fills the cache
    again = load_runs(logdir, cache=tmp_path, jobs=2)
    assert_same_load(serial, again)
    assert sum(r.cache_ref is not None for r in again.runs) >= 8
    fresh = analyze(logdir, cache=False, jobs=1)
    pooled = analyze(logdir, cache=tmp_path, jobs=2)
    assert pooled.findings == fresh.findings and pooled.warnings == fresh.warnings


def test_files_of_one_run_in_a_pool(logdir: Path, always_pool: None) -> None:
    run_dir = logdir / "tb_two_files"
    serial = load_runs(run_dir, cache=False, jobs=1)
    assert len(serial.runs) == 1 and len(serial.runs[0].meta.sources) == 2
    assert_same_load(serial, load_runs(run_dir, cache=False, jobs=2))


def test_progress_counts_runs(logdir: Path, always_pool: None) -> None:
    calls: list[tuple[int, int, str]] = []
    load_runs(logdir, cache=False, jobs=2, progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == list(range(1, 11)) and {c[1] for c in calls} == {10}
    names = {c[2] for c in calls}
    assert "swift" in names and "tb" in names


def test_small_inputs_stay_serial(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool for a few kilobytes")

    monkeypatch.setattr("trainlens.load.map_in_pool", no_pool)
    load_runs(logdir, cache=False, jobs=4)
    assert not parallel.worth_a_pool(10, 1 << 30, 1)
    assert parallel.worth_a_pool(10, 1 << 30, 2)
    assert parallel.default_jobs(None) >= 1 and parallel.default_jobs(3) == 3


def test_cached_runs_need_no_pool(
    logdir: Path, tmp_path: Path, always_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = load_runs(logdir, cache=False, jobs=1)
    load_runs(logdir, cache=tmp_path, jobs=2)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool although every run that can be cached is")

    # the llamafactory run is never cached whole: one run left, read here
    monkeypatch.setattr("trainlens.load.map_in_pool", no_pool)
    assert_same_load(serial, load_runs(logdir, cache=tmp_path, jobs=2))
