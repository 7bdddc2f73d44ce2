"""``trainlens cache info|clear|prune``: what the cache holds, removing old and excess entries,
never a file that is not the cache's own."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from cache_helpers import age
from logwriters import write_swift_run
from typer.testing import CliRunner

from trainlens.cache import CACHE_VERSION, ResultCache
from trainlens.cache.manage import (
    TEMP_GRACE_S,
    cache_usage,
    clear_cache,
    parse_age,
    parse_size,
    prune_cache,
)
from trainlens.cli import app

runner = CliRunner()
DAY = 86400.0


def _filled(tmp_path: Path, runs: int = 2) -> tuple[Path, Path]:
    """A logdir of ``runs`` ms-swift runs analysed once with a cache dir: (logdir, cache)."""
    logdir, cache = tmp_path / "runs", tmp_path / "cache"
    for i in range(runs):
        rows = [(s, {"loss": 1.0 / s + i, "kl": 0.01 * s}) for s in range(1, 30)]
        write_swift_run(logdir / f"run{i}", rows, 29)
    age(logdir)
    out = runner.invoke(app, ["analyze", str(logdir), "--cache-dir", str(cache)])
    assert out.exit_code == 0, out.output
    return logdir, cache


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.tlc"))


def _set_used(path: Path, seconds_ago: float) -> None:
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_info_counts_the_entries_an_analysis_wrote(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path)
    usage = cache_usage(ResultCache(cache))
    assert usage.exists and set(usage.kinds) == {"read", "run", "outcome"}
    assert usage.kinds["read"].entries == 2 and usage.kinds["run"].entries == 2
    assert usage.entries == len(_entries(cache))
    assert usage.bytes == sum(p.stat().st_size for p in _entries(cache))
    out = runner.invoke(app, ["cache", "info", "--cache-dir", str(cache), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["path"] == str(cache) and doc["entries"] == usage.entries
    assert doc["kinds"]["run"]["entries"] == 2 and doc["stale"]["entries"] == 0
    text = runner.invoke(app, ["cache", "info", "--cache-dir", str(cache)])
    assert text.exit_code == 0 and str(cache) in text.stdout and "outcome" in text.stdout


def test_info_of_a_cache_not_created_yet(tmp_path: Path) -> None:
    out = runner.invoke(app, ["cache", "info", "--cache-dir", str(tmp_path / "none")])
    assert out.exit_code == 0, out.output
    assert "not created yet" in out.stdout and "0 entries" in out.stdout


def test_an_entry_used_is_touched(tmp_path: Path) -> None:
    logdir, cache = _filled(tmp_path, runs=1)
    for entry in _entries(cache):
        _set_used(entry, 10 * DAY)
    out = runner.invoke(app, ["analyze", str(logdir), "--cache-dir", str(cache)])
    assert out.exit_code == 0, out.output
    used = [time.time() - p.stat().st_mtime for p in _entries(cache)]
    assert min(used) < DAY  # the run (and its outcome) came from the cache and were touched


def test_prune_by_age_keeps_what_is_still_used(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path)
    entries = _entries(cache)
    old, recent = entries[: len(entries) // 2], entries[len(entries) // 2 :]
    for p in old:
        _set_used(p, 40 * DAY)
    removed = prune_cache(ResultCache(cache), older_than_s=30 * DAY)
    assert removed.files == len(old) and not removed.errors
    assert _entries(cache) == recent
    assert removed.kept_files == len(recent)


def test_prune_to_a_size_removes_the_least_recently_used(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path, runs=3)
    entries = _entries(cache)
    for i, p in enumerate(entries):  # the first entry used longest ago
        _set_used(p, (len(entries) - i) * 60.0)
    budget = sum(p.stat().st_size for p in entries[-3:])
    removed = prune_cache(ResultCache(cache), max_bytes=budget)
    assert _entries(cache) == entries[-3:]
    assert removed.kept_bytes == budget and removed.files == len(entries) - 3


def test_prune_removes_other_versions_and_old_temp_files_only(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path, runs=1)
    stale = cache / f"v{CACHE_VERSION + 7}" / "read" / "ab" / ("ab" * 32 + ".tlc")
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old layout")
    current = cache / f"v{CACHE_VERSION}" / "read"
    old_tmp, new_tmp = current / ".tmp-dead.tlc", current / ".tmp-writing.tlc"
    old_tmp.write_bytes(b"x")
    new_tmp.write_bytes(b"x")
    _set_used(old_tmp, TEMP_GRACE_S + 60)
    foreign = [cache / "README", current / "notes.txt", cache / "vfoo" / "a.tlc"]
    for p in foreign:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("not the cache's")
    usage = cache_usage(ResultCache(cache))
    assert usage.stale.entries == 1 and usage.temp.entries == 2
    live = [p for p in current.parent.rglob("*.tlc") if not p.name.startswith(".tmp-")]
    removed = prune_cache(ResultCache(cache))
    assert removed.files == 2  # the other version's entry, the dead temp file
    assert not stale.exists() and not stale.parent.parent.parent.exists()
    assert not old_tmp.exists() and new_tmp.exists()
    assert all(p.exists() for p in foreign) and all(p.exists() for p in live)


def test_clear_removes_every_entry_and_nothing_else(tmp_path: Path) -> None:
    logdir, cache = _filled(tmp_path)
    outside = tmp_path / "outside"
    (outside / "read").mkdir(parents=True)
    keep = outside / "read" / ("cd" * 32 + ".tlc")
    keep.write_bytes(b"not in the cache")
    (cache / f"v{CACHE_VERSION}" / "link").symlink_to(outside, target_is_directory=True)
    (cache / "mine.txt").write_text("a user's file")
    out = runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["removed_files"] > 0 and doc["errors"] == []
    assert _entries(cache) == [] and keep.exists() and (cache / "mine.txt").exists()
    assert not (cache / f"v{CACHE_VERSION}" / "read").exists()  # emptied dirs go
    again = runner.invoke(app, ["analyze", str(logdir), "--cache-dir", str(cache)])
    assert again.exit_code == 0 and _entries(cache)  # filled anew


def test_clear_of_a_missing_cache_removes_nothing(tmp_path: Path) -> None:
    removed = clear_cache(ResultCache(tmp_path / "none"))
    assert removed.files == 0 and not removed.errors


def test_prune_cli_options_and_bad_values(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path, runs=1)
    for p in _entries(cache):
        _set_used(p, 3 * DAY)
    out = runner.invoke(app, ["cache", "prune", "--older-than", "2d", "--cache-dir", str(cache)])
    assert out.exit_code == 0, out.output
    assert "removed" in out.stdout and _entries(cache) == []
    bad = runner.invoke(app, ["cache", "prune", "--older-than", "soon", "--cache-dir", str(cache)])
    assert bad.exit_code == 2 and "not an age" in bad.output
    bad = runner.invoke(app, ["cache", "prune", "--max-size", "lots", "--cache-dir", str(cache)])
    assert bad.exit_code == 2 and "not a size" in bad.output


def test_an_entry_that_cannot_be_removed_is_named_and_exits_2(tmp_path, monkeypatch) -> None:
    _, cache = _filled(tmp_path, runs=1)
    stuck = _entries(cache)[0]
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    out = runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache)])
    assert out.exit_code == 2 and "could not be removed" in out.output
    assert stuck.name in out.output and "Permission denied" in out.output
    assert _entries(cache) == [stuck]  # the rest went


@pytest.mark.parametrize(
    "text, seconds",
    [("30d", 30 * DAY), ("12h", 12 * 3600.0), ("90m", 5400.0), ("45s", 45.0), ("2", 2 * DAY)],
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize(
    "text, size", [("2G", 2 << 30), ("500M", 500 << 20), ("1.5GB", 3 << 29), ("800k", 800 << 10)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert parse_size("1024") == 1024 and parse_size("2GiB") == 2 << 30


@pytest.mark.parametrize("text", ["", "d", "-1d", "nan", "inf", "3x"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_age(text)
