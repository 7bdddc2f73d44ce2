"""Follow runs that are still being written: read only what is new, re-check, report once.

:class:`Follower` keeps, per log file, the byte offset after the last complete record (and, for
JSON lines, the line number there), reads only the bytes appended since, and accumulates the new
rows per file. A record cut in half by the writer is left for the next poll (the readers'
``final=False`` mode), never reported as corruption. New files and new runs are picked up by
re-running discovery every few polls. A run whose files grew is rebuilt from its accumulated
parts by the loader's own :func:`trainlens.load.assemble_run` (so watch and analyze see the same
run); the chunks of each file (numpy tables, no pandas) are concatenated lazily, at rebuild
time. Memory is bounded by about twice the data: the accumulated rows plus the merged run table.
A rebuild and a check of every rule over the whole run (a full pass) cost about 2.3 s at 4M
points; on a run that big :func:`watch` makes one only every few polls and in between checks
the end of the run (:meth:`_RunState.tail_run`, :mod:`trainlens.engine.incremental`).

:func:`watch` drives a follower on a clock: after each poll it re-runs the rules on the runs that
changed, yields each finding whose identity (run, rule, metric, episode) was not reported before
(an episode that grows, or whose window shifts while it overlaps the one reported, keeps its
identity), and yields :class:`PolicyFailed` and stops as soon as an ``--exit-on`` policy fails.
The library never prints; the CLI renders the events.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.discover import RunSources, SourceFormat, discover
from trainlens.errors import TrainlensError
from trainlens.findings import Finding, Skipped
from trainlens.gate.evaluate import (
    AnalysisLike,
    PolicyResult,
    Status,
    evaluate_findings,
    evaluate_metric,
)
from trainlens.gate.expressions import MetricPolicy, Policy
from trainlens.load import (
    HistoryFile,
    assemble_run,
    extra_keys_kept,
    history_files,
    read_config,
)
from trainlens.merge import merge_tables
from trainlens.metrics import AliasTable, normalise_key
from trainlens.readers._files import open_regular
from trainlens.readers._frame import ReadResult, Table, concat_tables, frame_from_codes
from trainlens.readers.registry import INCREMENTAL, LINE_FORMATS, read_source_file
from trainlens.run import Run
from trainlens.watch_defaults import FULL_EVERY, INCREMENTAL_ABOVE

# ------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class PathWaiting:
    """The watched path does not exist yet (a wrapper started watch before the job created its
    output): polling goes on until it appears. Yielded once."""

    path: Path


@dataclass(frozen=True)
class RunFound:
    """A run appeared (or was there when watching started)."""

    run: str
    root: Path
    format: str


@dataclass(frozen=True)
class NewFinding:
    """A finding not reported before."""

    finding: Finding


@dataclass(frozen=True)
class PolicyFailed:
    """An ``--exit-on`` policy failed; :func:`watch` stops after the poll that saw it."""

    result: PolicyResult


@dataclass(frozen=True)
class PolicyWaiting:
    """A policy names a metric the run has not logged (yet); said once per run and policy."""

    run: str
    policy: Policy
    note: str


@dataclass(frozen=True)
class ReadIssue:
    """A problem in the input (a bad line, a file that shrank), or a rule that crashed."""

    warning: ReadWarning


@dataclass(frozen=True)
class Polled:
    """One poll is done: how many new points were read, and how long reading + checking took."""

    poll: int
    new_points: int
    runs: int
    seconds: float
    full: int = 0  # runs given a full pass (every rule over the whole run); the others that
    # changed were checked incrementally


WatchEvent = PathWaiting | RunFound | NewFinding | PolicyFailed | PolicyWaiting | ReadIssue | Polled

# --------------------------------------------------------------------------------- file tails


def _read_increment(
    fmt: SourceFormat, path: Path, offset: int, line: int, member: str | None = None
) -> ReadResult:
    """What was appended since ``offset`` (formats a reader can resume), else the whole file."""
    if fmt in INCREMENTAL:
        return read_source_file(fmt, path, offset, final=False, first_line=line)
    return read_source_file(fmt, path, member=member)


#: Bytes of a followed file compared at each poll to notice a rewrite in place (copy-truncate).
FINGERPRINT_BYTES = 4096


def _fingerprint(path: Path, offset: int) -> bytes | None:
    """The first and the last :data:`FINGERPRINT_BYTES` before ``offset`` (None: unreadable)."""
    try:
        with open_regular(path) as fh:
            head = fh.read(min(offset, FINGERPRINT_BYTES))
            start = max(len(head), offset - FINGERPRINT_BYTES)
            fh.seek(start)
            return head + fh.read(offset - start)
    except OSError:
        return None


def _rotated_copy(path: Path, inode: int) -> Path | None:
    """The file with inode ``inode`` beside ``path`` (a log renamed by rotation), if any."""
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                if entry.inode() == inode and entry.is_file() and entry.path != str(path):
                    return Path(entry.path)
    except OSError:
        pass
    return None


@dataclass
class _Tail:
    """One file being followed. ``chunks`` holds every row read from it, including what was read
    before a rotation or a rewrite: history already read stays part of the run."""

    path: Path
    format: SourceFormat
    offset: int = 0
    line: int = 1  # line number at ``offset`` (JSON lines)
    inode: int | None = None
    fingerprint: bytes | None = None  # bytes before ``offset`` when it was reached
    seen: tuple[int, int] | None = None  # (size, mtime_ns) at the last poll: unchanged, no
    # rewrite to look for
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) of whole-file formats
    chunks: list[Table] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    member: str | None = None  # the run inside a file holding several (W&B CSV export)
    fresh: list[Table] = field(default_factory=list)  # rows read since the last build
    rewritten: bool = False  # read again from its start since the last build: not an append

    def frame(self) -> Table:
        """Everything read so far, as one table (concatenated now, kept as one chunk)."""
        if len(self.chunks) != 1:
            self.chunks = [concat_tables(self.chunks)]
        return self.chunks[0]

    def _restart(self, warnings: list[ReadWarning], why: str) -> None:
        """Read the file again from its start; what was read before is kept."""
        warnings.append(
            ReadWarning(
                str(self.path),
                f"{why}; reading the new content from the start (the rows already read are kept)",
            )
        )
        self.offset, self.line, self.stamp, self.fingerprint = 0, 1, None, None
        self.rewritten = True

    def _read(self, path: Path, warnings: list[ReadWarning], *, final: bool = False) -> int:
        """Read ``path`` from the offset on; returns the number of new points."""
        if final:
            result = read_source_file(self.format, path, self.offset, first_line=self.line)
        else:
            result = _read_increment(self.format, path, self.offset, self.line, self.member)
        warnings.extend(result.warnings)
        if result.end_offset > self.offset and self.format in LINE_FORMATS:
            self.line += _count_newlines(path, self.offset, result.end_offset)
        self.offset = max(self.offset, result.end_offset)
        self.meta.update(result.meta)
        if len(result.table):
            self.chunks.append(result.table)
            self.fresh.append(result.table)
        return len(result.table)

    def poll(self, warnings: list[ReadWarning]) -> int:
        """Read what was appended since the last poll; returns the number of new points.

        A file renamed away (rotation) is read to its end first when it is still beside its old
        name; a file replaced, truncated, or rewritten in place (copy-truncate: same inode, the
        bytes before the offset changed) is read again from its start. Either way the rows
        already read stay."""
        try:
            st = os.stat(self.path)
        except OSError:
            return 0  # gone (rotated, or a checkpoint removed): keep what was read
        if not stat.S_ISREG(st.st_mode):
            return 0  # replaced by a FIFO or a device: never opened
        if self.format not in INCREMENTAL:  # rewritten or re-inferred: re-read when it changes
            return self._reread(st, warnings)
        added = 0
        if self.inode is not None and st.st_ino != self.inode:
            rotated = _rotated_copy(self.path, self.inode)
            if rotated is not None and self.offset:
                added += self._read(rotated, warnings, final=True)  # its last lines
            where = f" (now {rotated.name})" if rotated is not None else ""
            self._restart(warnings, f"file was replaced (rotated{where} or recreated)")
        elif self.offset and st.st_size < self.offset:
            self._restart(warnings, "file was truncated")
        elif (
            self.offset
            and (st.st_size, st.st_mtime_ns) != self.seen
            and _fingerprint(self.path, self.offset) != self.fingerprint
        ):
            self._restart(warnings, "file was rewritten in place (copy-truncate?)")
        self.inode, self.seen = st.st_ino, (st.st_size, st.st_mtime_ns)
        if st.st_size <= self.offset:
            return added
        added += self._read(self.path, warnings)
        self.fingerprint = _fingerprint(self.path, self.offset) if self.offset else None
        return added

    def _reread(self, st: os.stat_result, warnings: list[ReadWarning]) -> int:
        stamp = (st.st_size, st.st_mtime_ns)
        if stamp == self.stamp:
            return 0
        result = _read_increment(self.format, self.path, 0, 1, self.member)
        if result.warnings and not len(result.table):
            return 0  # most likely caught mid-save: try again next poll
        warnings.extend(result.warnings)
        self.stamp = stamp
        self.chunks, self.meta = [result.table], dict(result.meta)
        self.rewritten = True
        return len(result.table)


def _count_newlines(path: Path, start: int, end: int) -> int:
    """Line endings (``\\n``, ``\\r\\n``, a lone ``\\r``) in ``[start, end)``: only the bytes just
    consumed are read again, in blocks."""
    count = 0
    try:
        with open_regular(path) as fh:
            fh.seek(start)
            left = end - start
            while left > 0:
                block = fh.read(min(left, 1 << 22))
                if not block:
                    break
                count += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
                left -= len(block)
    except OSError:
        pass
    return count


# ---------------------------------------------------------------------------------- run state


@dataclass
class _RunState:
    sources: RunSources
    tails: dict[Path, _Tail] = field(default_factory=dict)
    files: dict[Path, HistoryFile] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    config_path: Path | None = None
    changed: bool = True  # files added or dropped since the last build
    run: Run | None = None  # the last full build
    #: Keys an ``extra`` file (TensorBoard beside the main history) adds, as of the last build,
    #: and the other history files' keys (normalised: what makes an extra key a repeat).
    extra_keys: dict[Path, set[str]] = field(default_factory=dict)
    known_keys: set[str] = field(default_factory=set)
    #: The last step of each raw key the rules judged, and of the run (incremental checking).
    judged: dict[str, int] = field(default_factory=dict)
    judged_step: int | None = None
    full_seconds: float | None = None  # the last full pass: build + rules
    since_full: int = 0  # passes since the last full one

    def update_sources(self, sources: RunSources) -> None:
        """Adopt a fresh discovery: new files are added, files no longer in the history dropped
        (a file that vanished keeps what was read from it: deleted, or rotated and recreated)."""
        wanted = history_files(sources)
        files = {f.path: f for f in wanted}
        for path, tail in self.tails.items():
            if path not in files and tail.chunks and not path.exists():
                files[path] = self.files[path]
        self.files = files
        tails = {
            path: self.tails.get(path) or _Tail(path, f.format, member=f.member)
            for path, f in files.items()
        }
        if list(tails) != list(self.tails):
            self.changed = True
        self.tails = tails
        self.sources = sources

    def build(self, aliases: AliasTable, warnings: list[ReadWarning]) -> Run:
        """A Run from the accumulated parts, built by the same code as ``trainlens analyze``."""
        src = self.sources
        if src.config_path != self.config_path:
            self.config_path = src.config_path
            self.config = read_config(src.config_path, warnings)
        reads = [(self.files[path], tail.frame(), tail.meta) for path, tail in self.tails.items()]
        self.run = assemble_run(src, reads, aliases, warnings, self.config)
        self.changed = False
        self.known_keys, self.extra_keys = _extra_keys(reads)
        for tail in self.tails.values():
            tail.fresh, tail.rewritten = [], False
        return self.run

    def appended_only(self) -> bool:
        """Whether everything read since the last build was appended to files that were there
        then, with the same config: the run can be extended instead of rebuilt."""
        return (
            self.run is not None
            and not self.changed
            and self.sources.config_path == self.config_path
            and all(t.format in INCREMENTAL and not t.rewritten for t in self.tails.values())
        )

    def tail_run(self, context: int) -> Run | None:
        """The end of the run: the last ``context`` points of each key as of the last build
        plus every row read since, merged as a build merges them; None when that is not an
        extension of the last build (a step logged again or earlier, a key new in an extra
        file, a file rewritten): then only a build will do."""
        base = self.run
        if base is None or not self.appended_only():
            return None
        names: list[str] = []
        steps: list[np.ndarray] = []
        values: list[np.ndarray] = []
        last: dict[str, int] = {}
        head: dict[str, int] = {}
        for key in base.keys:
            arrays = base.key_arrays(key)
            if arrays is None or not len(arrays[0]):
                continue
            names.append(key)
            steps.append(arrays[0][-context:])
            values.append(arrays[1][-context:])
            last[key] = int(arrays[0][-1])
            head[key] = max(0, len(arrays[0]) - context)
        lengths = [len(x) for x in steps]
        codes = np.repeat(np.arange(len(names), dtype=np.int32), lengths)
        parts: list[tuple[str, Table]] = [
            (
                "history",
                frame_from_codes(
                    names,
                    codes,
                    np.concatenate(steps) if steps else np.empty(0, np.int64),
                    np.concatenate(values) if values else np.empty(0, np.float64),
                ),
            )
        ]
        known, extra = self.known_keys, self.extra_keys
        extra_names = {normalise_key(k) for keys in extra.values() for k in keys}
        for path, tail in self.tails.items():
            new = concat_tables(tail.fresh)
            if not len(new):
                continue
            cats = set(new.names)
            if path in extra:  # keep what the build keeps of it
                if any(k not in extra[path] and normalise_key(k) not in known for k in cats):
                    return None  # a tag new in the extra file: the build decides
                keep = np.array([n in extra[path] for n in new.names], dtype=bool)
                new = new.take(keep[new.codes])
            elif any(normalise_key(k) in extra_names for k in cats):
                return None  # a key an extra file contributed: a build would drop the extra's
            if not _after(new, last):
                return None
            parts.append((str(path), new))
        table, restarts = merge_tables(parts)
        if restarts:
            return None
        meta = replace(base.meta, logs=[])  # the logs' messages are checked by full passes
        end = Run(base.name, base.path, base.format, table, meta, base.aliases)
        end.head_points = head
        return end


def _extra_keys(
    reads: list[tuple[HistoryFile, Table, dict[str, Any]]],
) -> tuple[set[str], dict[Path, set[str]]]:
    """The history files' keys (normalised), and for each ``extra`` file the keys a build keeps
    of it (those the files before it do not log under an equivalent name), as
    :func:`assemble_run` decides."""
    known: set[str] = set()
    out: dict[Path, set[str]] = {}
    for file, frame, _ in reads:
        names = frame.names
        if file.extra:
            out[file.path] = {k for k, kept in zip(names, extra_keys_kept(names, known)) if kept}
        else:
            known |= {normalise_key(k) for k in names}
    return known, out


def _after(table: Table, last: dict[str, int]) -> bool:
    """Whether every row of ``table`` comes after the last step its key had (new keys: any)."""
    if not last:
        return True
    limits = np.array([last.get(k, np.iinfo(np.int64).min) for k in table.names], dtype=np.int64)
    return bool(np.all(table.step > limits[table.codes]))


class Follower:
    """Incrementally reads every run under ``path`` (which may not exist yet: it is looked for
    again at every poll until it does). :meth:`poll` returns what changed."""

    def __init__(
        self, path: Path | str, *, aliases: AliasTable | None = None, rediscover_every: int = 3
    ) -> None:
        self.path = Path(path)
        self.aliases = aliases or AliasTable.load()
        self.rediscover_every = max(1, rediscover_every)
        self.states: dict[Path, _RunState] = {}
        self.polls = 0

    @property
    def runs(self) -> list[Run]:
        """The current Run of every run that has data."""
        return [s.run for s in self.states.values() if s.run is not None and len(s.run.columns)]

    def _discover(self) -> list[RunSources]:
        try:
            return discover(self.path)
        except TrainlensError:
            return []  # nothing written yet (or the directory vanished): keep waiting

    def poll(self) -> tuple[list[RunFound], list[Run], int, list[ReadWarning]]:
        """Read what is new. Returns (runs found, runs rebuilt because they changed, new points,
        input warnings)."""
        found, states, new_points, warnings = self.read()
        changed = []
        for state in states:
            run = state.build(self.aliases, warnings)
            if len(run.columns):
                changed.append(run)
        return found, changed, new_points, warnings

    def read(self) -> tuple[list[RunFound], list[_RunState], int, list[ReadWarning]]:
        """Read what is new without building runs. Returns (runs found, the states of the runs
        that changed, new points, input warnings)."""
        self.polls += 1
        found: list[RunFound] = []
        warnings: list[ReadWarning] = []
        if not self.states or (self.polls - 1) % self.rediscover_every == 0:
            discovered = self._discover()
            if discovered:  # a run now grouped under another root (its TensorBoard dir, before
                # ms-swift's logging.jsonl appeared beside it) is followed there only; a run
                # whose files vanished (deleted, about to be recreated) keeps what was read
                roots = {s.root for s in discovered}
                self.states = {
                    r: st
                    for r, st in self.states.items()
                    if r in roots or not any(r == o or o in r.parents for o in roots)
                }
            for sources in discovered:
                state = self.states.get(sources.root)
                if state is None:
                    state = self.states[sources.root] = _RunState(sources)
                    found.append(RunFound(sources.name, sources.root, sources.primary.format.value))
                state.update_sources(sources)
        new_points = 0
        changed: list[_RunState] = []
        for state in self.states.values():
            added = sum(tail.poll(warnings) for tail in state.tails.values())
            new_points += added
            if added or state.changed:
                changed.append(state)
        return found, changed, new_points, warnings


# -------------------------------------------------------------------------------------- alerts


class _Reported:
    """Identities of findings already reported: per (run, rule, metric), the step intervals
    and the highest severity reported for each."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], list[list[int]]] = {}

    def is_new(self, f: Finding) -> bool:
        """Record ``f``; True when it is not an episode reported before, or is one that grew
        into a higher severity (a surge that lasted: reported again as what it is now)."""
        episodes = self._seen.setdefault((f.run, f.rule, f.metric), [])
        rank = f.severity.rank
        for ep in episodes:
            if ep[0] == f.start_step or (f.start_step <= ep[1] and f.end_step >= ep[0]):
                ep[0], ep[1] = min(ep[0], f.start_step), max(ep[1], f.end_step)
                if rank > ep[2]:
                    ep[2] = rank
                    return True
                return False
        episodes.append([f.start_step, f.end_step, rank])
        return True


Analyzer = Callable[[list[Run]], AnalysisLike]


@dataclass(frozen=True)
class TailAnalyzer:
    """The rules that can judge new points from the end of a series, as an analyzer, with the
    points of context before the new ones that they need."""

    analyze: Analyzer
    context: int

    def __call__(self, runs: list[Run]) -> AnalysisLike:
        return self.analyze(runs)


def tail_analyzer(
    rules: Any, select: Sequence[str] = (), ignore: Sequence[str] = ()
) -> TailAnalyzer | None:
    """The rules of ``rules`` (a rule set; ``select``/``ignore`` as in the project config) that
    can judge new points from the end of a series (:func:`trainlens.engine.incremental.windowed`),
    for :func:`watch`'s passes between full passes (no audits: completions are audited by the
    full passes). None when no selected rule can."""
    from trainlens.analysis import analyze_runs
    from trainlens.engine.incremental import context_points, windowed

    specs = windowed(rules.select(select, ignore))
    if not specs:
        return None
    ids = [s.id for s in specs]

    def analyze(runs: list[Run]) -> AnalysisLike:
        return analyze_runs(runs, rules=rules, select=ids, audit={"enabled": False})

    return TailAnalyzer(analyze, context_points(specs))


class _Grown:
    """A run's whole series as of now between full passes: its last full build plus the end
    read since (for metric policies, which may aggregate over every point). Offers what the
    gate's evaluator reads of a Run."""

    def __init__(self, base: Run, tail: Run) -> None:
        self.name = base.name
        self.base, self.tail = base, tail
        self.keys = tail.keys
        self.canonical_names = tail.canonical_names

    def resolve(self, name: str) -> str | None:
        return self.tail.resolve(name)

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        key = self.resolve(name)
        if key is None:
            return None
        before, now = self.base.key_arrays(key), self.tail.key_arrays(key)
        if before is None or not len(before[0]) or now is None:
            return now if now is not None else before
        new = now[0] > before[0][-1]
        return (
            np.concatenate([before[0], now[0][new]]),
            np.concatenate([before[1], now[1][new]]),
        )


def watch(
    path: Path | str,
    *,
    policies: Sequence[Policy] = (),
    analyze: Analyzer | None = None,
    analyze_tail: TailAnalyzer | None = None,
    aliases: AliasTable | None = None,
    interval: float = 5.0,
    max_polls: int | None = None,
    rediscover_every: int = 3,
    full_every: int = FULL_EVERY,
    incremental_above: float = INCREMENTAL_ABOVE,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[WatchEvent]:
    """Follow ``path`` and yield events until a policy fails or ``max_polls`` polls are done
    (forever when None; the caller stops it with Ctrl-C).

    ``analyze`` runs the rules on the runs that changed (e.g. a closure over
    :func:`trainlens.analysis.analyze_runs`); without it only metric policies are checked.
    ``sleep`` and ``clock`` are injectable so tests need not wait. A ``path`` that does not
    exist yet is waited for: :class:`PathWaiting` is yielded once, and polls (counted against
    ``max_polls``) go on until it appears.

    A run whose full pass (rebuilding it from everything read, then ``analyze`` on it) takes
    more than ``incremental_above`` seconds is checked incrementally: a full pass at least every
    ``full_every`` polls that changed it, at the first poll that did not (the job finished or
    stalled) and after anything but an append (a file rewritten or rotated, a step logged
    again); in between only its end (the rows read since, after the context ``analyze_tail``
    needs) goes to ``analyze_tail`` (:func:`tail_analyzer`), whose findings count when they
    reach past what was judged before. Metric policies see every point at every poll; rule
    and severity policies see the findings of the full passes and the new ones since. Without
    ``analyze_tail`` the rules wait for the full passes.
    """
    if analyze is None and any(not isinstance(p, MetricPolicy) for p in policies):
        raise TrainlensError("rule and severity policies need the rules (analysis) enabled")
    follower = Follower(path, aliases=aliases, rediscover_every=rediscover_every)
    schedule = _Schedule(analyze, analyze_tail, max(1, full_every), incremental_above, clock)
    return _events(follower, list(policies), schedule, interval, max_polls, sleep, clock)


@dataclass
class _Pass:
    """What one check of one run found: its findings (all of a full pass; the new ones of an
    incremental pass), the rules' skips and warnings, and the ids of the rules that ran."""

    run: Run | _Grown
    full: bool
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)
    selected: list[str] | None = None


@dataclass
class _Schedule:
    """Decides, per run, between a full pass and an incremental one, and runs them."""

    analyze: Analyzer | None
    analyze_tail: TailAnalyzer | None
    full_every: int
    incremental_above: float
    clock: Callable[[], float]

    def check(
        self,
        changed: list[_RunState],
        quiet: list[_RunState],
        aliases: AliasTable,
        warnings: list[ReadWarning],
    ) -> list[_Pass]:
        """Check the runs that ``changed`` this poll, and give the ``quiet`` ones (unchanged)
        that were only checked incrementally since their last full pass a full pass now."""
        full: list[_RunState] = [s for s in quiet if s.since_full > 0 and s.run is not None]
        out: list[_Pass] = []
        context = self.analyze_tail.context if self.analyze_tail is not None else 1
        for state in changed:
            cheap = state.full_seconds is None or state.full_seconds <= self.incremental_above
            tail = None
            if not cheap and state.since_full + 1 < self.full_every:
                tail = state.tail_run(context)
            if tail is None:
                full.append(state)
            else:
                out.append(self._incremental(state, tail))
        return self._full(full, aliases, warnings) + out

    def _full(
        self, states: list[_RunState], aliases: AliasTable, warnings: list[ReadWarning]
    ) -> list[_Pass]:
        """Rebuild each run and run the rules on them together (rules that compare the runs
        of one analysis see them all)."""
        if not states:
            return []
        runs: list[Run] = []
        build_seconds: list[float] = []
        for state in states:
            t0 = self.clock()
            runs.append(state.build(aliases, warnings))
            build_seconds.append(self.clock() - t0)
        passes = [_Pass(run, full=True) for run in runs]
        with_data = [run for run in runs if len(run.columns)]
        checked = self.clock()
        if self.analyze is not None and with_data:
            analysis = self.analyze(with_data)
            selected = getattr(analysis, "selected", None)
            for done in passes:
                done.findings = [f for f in analysis.findings if f.run == done.run.name]
                done.skipped = [s for s in analysis.skipped if s.run == done.run.name]
                done.selected = selected
            passes[0].warnings = list(analysis.warnings)
        rules_share = (self.clock() - checked) / max(1, len(with_data))
        for state, run, spent in zip(states, runs, build_seconds):
            state.full_seconds = spent + rules_share
            state.since_full = 0
            _judged(state, run)
        return passes

    def _incremental(self, state: _RunState, tail: Run) -> _Pass:
        from trainlens.engine.incremental import reaching_past

        assert state.run is not None
        out = _Pass(_Grown(state.run, tail), full=False)
        state.since_full += 1
        if self.analyze_tail is not None and len(tail.columns):
            analysis = self.analyze_tail([tail])
            mine = [f for f in analysis.findings if f.run == tail.name]
            out.findings = reaching_past(mine, state.judged, state.judged_step)
            out.warnings = list(analysis.warnings)
        _judged(state, tail)
        return out


def _judged(state: _RunState, run: Run) -> None:
    """Record the last step of each key of ``run`` as judged."""
    for key in run.keys:
        arrays = run.key_arrays(key)
        if arrays is not None and len(arrays[0]):
            state.judged[key] = max(int(arrays[0][-1]), state.judged.get(key, -(2**62)))
    last = run.last_step
    if last is not None:
        state.judged_step = max(last, state.judged_step if state.judged_step is not None else last)


def _events(
    follower: Follower,
    policies: list[Policy],
    schedule: _Schedule,
    interval: float,
    max_polls: int | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Iterator[WatchEvent]:
    reported = _Reported()
    waiting: set[tuple[str, str]] = set()
    said: set[tuple[str, str]] = set()  # rule warnings (a rule that crashed) already yielded
    findings: dict[str, list[Finding]] = {}
    skipped: dict[str, list[Skipped]] = {}
    selected: list[str] | None = None  # ids of the rules that ran (when the analyzer says)
    next_at = clock()
    poll = 0
    said_waiting = False
    while True:
        poll += 1
        started = clock()
        if not said_waiting and not follower.path.exists():
            said_waiting = True
            yield PathWaiting(follower.path)
        found, states, new_points, warnings = follower.read()
        yield from found
        quiet = [s for s in follower.states.values() if s not in states]
        passes = schedule.check(states, quiet, follower.aliases, warnings)
        passes = [p for p in passes if p.full is False or len(cast(Run, p.run).columns)]
        yield from (ReadIssue(w) for w in warnings)
        fresh: list[Finding] = []
        for done in passes:
            name = done.run.name
            if done.full:
                findings[name], skipped[name] = done.findings, done.skipped
                if done.selected is not None:
                    selected = done.selected
            else:
                findings.setdefault(name, []).extend(done.findings)
            for w in done.warnings:
                if (w.source, w.message) not in said:
                    said.add((w.source, w.message))
                    yield ReadIssue(w)
            fresh += [f for f in done.findings if reported.is_new(f)]
        fresh.sort(key=lambda f: (f.run, f.start_step, -f.severity.rank, f.rule))
        yield from (NewFinding(f) for f in fresh)
        failed = False
        for done in passes:
            name = done.run.name
            for policy in policies:
                if isinstance(policy, MetricPolicy):
                    result = evaluate_metric(policy, cast(Run, done.run))
                else:
                    result = evaluate_findings(
                        policy, name, findings.get(name, []), skipped.get(name, []), selected
                    )
                if result.status is Status.FAIL:
                    failed = True
                    yield PolicyFailed(result)
                elif result.status is Status.MISSING and (name, policy.text) not in waiting:
                    waiting.add((name, policy.text))
                    yield PolicyWaiting(name, policy, result.note)
        full = sum(1 for p in passes if p.full)
        yield Polled(poll, new_points, len(follower.runs), clock() - started, full)
        if failed or (max_polls is not None and poll >= max_polls):
            return
        next_at += interval
        delay = next_at - clock()
        if delay < 0:  # checking took longer than the interval: carry on, no catch-up burst
            next_at, delay = clock(), 0.0
        sleep(delay)
