"""Cached runs (the merged table, metadata and read warnings of a discovered run) and cached
rule outcomes for them.

A run entry is keyed by the run's discovery (its :class:`~trainlens.discover.RunSources`) and is
valid while every file the loader reads for it (history files, the config, a
``trainer_state.json`` companion, summary files) has the size, mtime and inode it had, and the
readers and the loader the same versions. When it is not, the run is loaded again, each of its
files through the per-file cache (:mod:`trainlens.cache.files`), so only what changed is read.

An outcome entry (what the series rules found) is keyed by the run's content id, the rule set
(every selected rule's full spec and its detector's code), the alias table, and a digest of
trainlens' own modules and built-in rule data: a change to any of them is a different key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainlens._version import __version__
from trainlens.cache import ResultCache, is_racy
from trainlens.cache.codec import Uncacheable, decode, encode
from trainlens.cache.store import digest
from trainlens.diagnostics import ReadWarning
from trainlens.discover import RunSources, SourceFormat
from trainlens.readers._frame import Table
from trainlens.readers.registry import reader_version
from trainlens.run import Run, RunMeta

if TYPE_CHECKING:
    from trainlens.engine.evaluate import RunOutcome
    from trainlens.engine.spec import RuleSpec
    from trainlens.metrics import AliasTable

RUN_KIND = "run"
OUTCOME_KIND = "outcome"
#: Bumped when :func:`trainlens.load.assemble_run` builds a different run from the same reads.
LOAD_VERSION = 1

#: Loads a run without the run cache: ``(sources, aliases, warnings) -> Run``.
Loader = Callable[[RunSources, "AliasTable", list[ReadWarning]], Run]


def _inputs(sources: RunSources) -> list[Path]:
    """Every file the loader reads for a run."""
    paths = [f for s in (sources.primary, *sources.companions) for f in s.files]
    paths += [s.path for s in sources.companions if s.format is SourceFormat.HF_TRAINER_STATE]
    if sources.config_path is not None:
        paths.append(sources.config_path)
    return paths + list(sources.meta_files)


def _stamps(sources: RunSources) -> list[Any]:
    out: list[Any] = []
    for path in _inputs(sources):
        try:
            st = os.stat(path)
            out.append([str(path), st.st_size, st.st_mtime_ns, st.st_ino])
        except OSError:
            out.append([str(path), None])
    formats = sorted({s.format for s in (sources.primary, *sources.companions)})
    out.append({f.value: reader_version(f) for f in formats})
    return out


def _key(sources: RunSources) -> str:
    return digest(RUN_KIND, __version__, LOAD_VERSION, repr(sources))


def cached_run(
    cache: ResultCache, sources: RunSources, aliases: AliasTable
) -> tuple[Run, list[ReadWarning]] | None:
    """The run of ``sources`` and its read warnings when the cache holds it unchanged."""
    if sources.primary.format is SourceFormat.LLAMAFACTORY:
        return None  # its config is searched for in the folder: never cached whole
    key = _key(sources)
    entry = cache.load(RUN_KIND, key)
    if entry is None:
        return None
    content = digest(key, _stamps(sources))
    if entry.data.get("content") != content:
        return None
    try:
        run = _run_from(entry.data, entry.columns, sources, aliases)
        found: list[ReadWarning] = decode(entry.data["warnings"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None  # an entry of another shape: loaded again
    run.cache_ref = (cache, content)
    return run, found


def load_cached_run(
    cache: ResultCache,
    sources: RunSources,
    aliases: AliasTable,
    warnings: list[ReadWarning],
    loader: Loader,
) -> Run:
    """The run of ``sources``: from the cache when none of its files changed, else from
    ``loader`` (and then cached). Its warnings are appended to ``warnings`` either way."""
    hit = cached_run(cache, sources, aliases)
    if hit is not None:
        warnings.extend(hit[1])
        return hit[0]
    if sources.primary.format is SourceFormat.LLAMAFACTORY:
        return loader(sources, aliases, warnings)
    key = _key(sources)
    stamps = _stamps(sources)
    content = digest(key, stamps)
    before = len(warnings)
    run = loader(sources, aliases, warnings)
    now = time.time_ns()
    if _stamps(sources) != stamps or any(
        isinstance(s, list) and s[1] is not None and is_racy(s[2], now) for s in stamps
    ):
        return run  # changed while it was read, or so recently it may change unseen
    if _store_run(cache, key, content, run, warnings[before:]):
        run.cache_ref = (cache, content)
    return run


def _store_run(
    cache: ResultCache, key: str, content: str, run: Run, warnings: list[ReadWarning]
) -> bool:
    table = run.columns
    sources, source_codes = table.sources, table.source_codes
    if not len(table) or sources is None or source_codes is None:
        return False
    names = [*sources, *table.names]
    if not all(type(n) is str for n in names):
        return False  # the entry keeps names as JSON strings
    try:
        meta = {f.name: encode(getattr(run.meta, f.name)) for f in dataclasses.fields(RunMeta)}
        data = {
            "content": content,
            "name": run.name,
            "path": str(run.path),
            "format": run.format,
            "meta": meta,
            "warnings": encode(warnings),
            "sources": [str(c) for c in sources],
            "keys": [str(c) for c in table.names],
        }
    except Uncacheable:
        return False
    columns: dict[str, np.ndarray] = {
        "source": source_codes,
        "key": table.codes,
        "step": table.step,
        "value": table.value,
        "wall_time": table.wall_time,
    }
    return cache.store(RUN_KIND, key, data, columns)


def _run_from(
    data: dict[str, Any], cols: dict[str, np.ndarray], sources: RunSources, aliases: AliasTable
) -> Run:
    table = Table(
        data["keys"],
        cols["key"],
        cols["step"],
        cols["value"],
        cols["wall_time"],
        sources=data["sources"],
        source_codes=cols["source"],
    ).check()
    if len(table) and np.any(np.diff(table.codes) < 0):
        raise ValueError("run table not grouped by key")
    meta = RunMeta(**{k: decode(v) for k, v in data["meta"].items()})
    return Run(data["name"], Path(data["path"]), data["format"], table, meta, aliases)


# ------------------------------------------------------------------------------ rule outcomes


@lru_cache(maxsize=1)
def _engine_code() -> str:
    """A digest of the code and the data that turn a run into findings: every module of the
    package and every file of the built-in ``rules/`` folder (settings spellings, chains, ...).
    An edit anywhere is a new key: an outcome is never reused across versions or edits."""
    from trainlens.resources import rules_dir

    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(__version__.encode())
    for f in sorted(package.rglob("*.py")) + sorted(p for p in rules_dir().rglob("*")):
        if f.is_file():
            h.update(str(f.name).encode())
            try:
                h.update(f.read_bytes())
            except OSError:
                h.update(b"?")
    return h.hexdigest()


_FINGERPRINTS: dict[int, tuple[object, str]] = {}


def _fingerprint(obj: object, make: Callable[[], str]) -> str:
    """``make()`` for ``obj``, remembered while ``obj`` lives (ids are reused only after)."""
    hit = _FINGERPRINTS.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    if len(_FINGERPRINTS) > 64:
        _FINGERPRINTS.clear()
    value = make()
    _FINGERPRINTS[id(obj)] = (obj, value)
    return value


def _alias_print(aliases: AliasTable) -> str:
    return digest(
        repr(aliases.infos),
        repr(sorted(aliases._exact.items())),
        repr(sorted(aliases._suffix.items())),
        repr([(p.pattern, *rest) for p, *rest in aliases._patterns]),
    )


def _code_print(fn: Any) -> str:
    """Which function a detector is (a patched or re-registered one is another key); stable
    across processes (nested code objects by content, never by address)."""
    code = getattr(fn, "__code__", None)
    body = _code_body(code) if code is not None else repr(fn)
    return digest(getattr(fn, "__module__", ""), getattr(fn, "__qualname__", ""), body)


def _code_body(code: Any) -> list[Any]:
    consts = [_code_body(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts]
    return [code.co_code.hex(), consts, list(code.co_names)]


def _rules_print(specs: Sequence[RuleSpec]) -> str:
    series = [s for s in specs if s.kind == "series"]
    return digest(*[(repr(s), _code_print(s.info.fn)) for s in series])


def evaluate_cached(run: Run, specs: Sequence[RuleSpec]) -> RunOutcome:
    """``evaluate_run(run, specs)``, from the cache when the run came from it unchanged."""
    from trainlens.engine.evaluate import RunOutcome, evaluate_run

    ref = run.cache_ref
    if ref is None:
        return evaluate_run(run, specs)
    cache, content = ref
    rules = _fingerprint(specs, lambda: _rules_print(specs))
    aliases = _fingerprint(run.aliases, lambda: _alias_print(run.aliases))
    key = digest(OUTCOME_KIND, content, rules, aliases, _engine_code())
    entry = cache.load(OUTCOME_KIND, key)
    if entry is not None:
        try:
            return RunOutcome(
                findings=decode(entry.data["findings"]),
                skipped=decode(entry.data["skipped"]),
                warnings=decode(entry.data["warnings"]),
            )
        except (KeyError, TypeError, ValueError):
            pass
    outcome = evaluate_run(run, specs)
    if outcome.crashed:
        return outcome  # a crash may not happen again (memory): evaluated again next time
    try:
        data = {
            "findings": encode(outcome.findings),
            "skipped": encode(outcome.skipped),
            "warnings": encode(outcome.warnings),
        }
    except Uncacheable:
        return outcome
    cache.store(OUTCOME_KIND, key, data, {})
    return outcome
