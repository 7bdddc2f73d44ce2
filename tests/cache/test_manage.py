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


def _refuse_unlink(monkeypatch: pytest.MonkeyPatch, stuck: Path) -> None:
    """Removing ``stuck`` fails as on a read-only directory (as root, chmod would not)."""
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)


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
    fanout = next(current.iterdir())
    old_tmp, new_tmp = fanout / ".tmp-dead.tlc", fanout / ".tmp-writing.tlc"
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
    _refuse_unlink(monkeypatch, stuck)
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


def test_files_outside_the_layout_are_never_touched(tmp_path: Path) -> None:
    """A user's folder that happens to be called ``v2`` inside the directory, hex-named files
    in the wrong fan-out folder, temp-looking files elsewhere: all stay, even on clear."""
    home = tmp_path / "home"
    hexname = "a" * 64 + ".tlc"
    project = home / "v2" / "myproject"
    mine = [
        project / ".tmp-notes.txt",
        project / "src" / hexname,
        home / "v1" / "read" / "cc" / hexname,  # its fan-out folder is not its first digits
        home / "v1" / "read" / hexname,  # no fan-out folder
        home / "v1" / "Read" / "aa" / hexname,  # not a kind's name
    ]
    for p in mine:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("mine")
        _set_used(p, 10 * DAY)
    (project / ".git" / "refs" / "tags").mkdir(parents=True)
    entry = home / "v1" / "read" / "aa" / hexname
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"an entry")
    assert cache_usage(ResultCache(home)).entries == 1
    removed = clear_cache(ResultCache(home))
    assert removed.files == 1 and not entry.exists()
    assert all(p.exists() for p in mine) and (project / ".git" / "refs" / "tags").is_dir()


def test_an_empty_or_file_cache_dir_is_refused(tmp_path: Path) -> None:
    for command in ("info", "clear", "prune"):
        out = runner.invoke(app, ["cache", command, "--cache-dir", ""])
        assert out.exit_code == 2 and "--cache-dir is empty" in out.output
    a_file = tmp_path / "file"
    a_file.write_text("x")
    out = runner.invoke(app, ["cache", "clear", "--cache-dir", str(a_file)])
    assert out.exit_code == 2 and "not a directory" in out.output and a_file.exists()


def test_a_cache_is_tagged_for_backup_tools(tmp_path: Path) -> None:
    _, cache = _filled(tmp_path, runs=1)
    tag = (cache / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache)])
    assert (cache / "CACHEDIR.TAG").exists()  # not the cache's entry: kept


def test_a_folder_that_cannot_be_listed_is_named(tmp_path, monkeypatch) -> None:
    _, cache = _filled(tmp_path, runs=1)
    blocked = cache / f"v{CACHE_VERSION}" / "run"
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path) == blocked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = runner.invoke(app, ["cache", "info", "--cache-dir", str(cache), "--format", "json"])
    assert out.exit_code == 0
    assert json.loads(out.stdout)["errors"] == [f"{blocked}: Permission denied"]
    assert "cannot list" in out.stderr
    out = runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache)])
    assert out.exit_code == 2 and "Permission denied" in out.output


def test_absurd_sizes_are_refused() -> None:
    for text in ("1e308T", "-1G", "nanM"):
        with pytest.raises(ValueError):
            parse_size(text)


def test_a_size_that_cannot_be_reached_is_said(tmp_path, monkeypatch) -> None:
    _, cache = _filled(tmp_path, runs=1)
    stuck = _entries(cache)[0]
    _refuse_unlink(monkeypatch, stuck)
    removed = prune_cache(ResultCache(cache), max_bytes=0)
    assert removed.over_limit and removed.kept_files == 1
    assert removed.kept_bytes == stuck.stat().st_size and len(removed.errors) == 1
