"""Audit what a model wrote: closure, parseability, accuracy (strict vs diagnostic), empty /
degenerate / looping responses, tag compliance, lengths, generation-limit hits, per step.

Streams: memory is bounded by the counters (fixed-size histograms, a few examples per
category, one counter set per logged step), never by the file size."""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trainlens.audit.extract import AnswerFormat, choose_format, extract, read_gold, tag_ok
from trainlens.audit.numbers import format_value, last_number, same_value
from trainlens.audit.repetition import BATCH_CHARS, TAIL_CHARS, count_words, repetitive_flags
from trainlens.audit.sources import Sample, SampleReader
from trainlens.audit.stats import INDEX, Counts, Histogram
from trainlens.audit.tokens import TokenCounter
from trainlens.diagnostics import ReadWarning
from trainlens.errors import TrainlensError

#: Samples read before a file's answer convention is chosen.
PROBE = 200
_N, _CHARS = INDEX["n"], INDEX["chars"]
#: Example categories (one per audit rule).
CATEGORIES = ("unclosed", "unparseable", "format_gap", "degenerate", "repetitive")
#: Config keys of a run's ``args.json`` that give the generation limit in tokens.
LIMIT_KEYS = ("max_completion_length", "max_new_tokens", "max_tokens", "response_length")


@dataclass(frozen=True)
class AuditOptions:
    """What to look for; ``None`` means found automatically."""

    stop: str | None = None
    require_tags: tuple[str, ...] = ()
    gold_key: str | None = None
    response_key: str | None = None
    answer_pattern: str | None = None
    tokenizer: TokenCounter | None = None
    max_new_tokens: int | None = None
    passage_chars: int = 60  # a loop: one passage this long ...
    min_repeats: int = 4  # ... repeated this often
    short_ratio: float = 0.1  # "far shorter": below this share of the median length
    examples: int = 3
    excerpt_chars: int = 120


@dataclass(frozen=True)
class Example:
    """One sample shown as evidence: id, file and line, a short excerpt and a detail."""

    id: str
    file: str
    line: int
    excerpt: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "line": self.line,
            "excerpt": self.excerpt,
            "detail": self.detail,
        }


@dataclass
class FileInfo:
    """How one file was read: its keys, answer convention, samples and skipped records."""

    path: str
    keys: str = ""
    format: str = ""
    samples: int = 0
    skipped: int = 0
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CompletionAudit:
    """The result: totals, rates, lengths, per-step rates and examples per category."""

    files: list[FileInfo]
    counts: Counts
    closure_measured: bool
    lengths: dict[str, dict[str, Any] | None]
    far_short: int
    steps: dict[int, Counts]
    examples: dict[str, list[Example]]
    warnings: list[ReadWarning]
    options: AuditOptions

    @property
    def n(self) -> int:
        return self.counts.values["n"]

    def summary(self) -> dict[str, Any]:
        """The ``summary`` object of the JSON form (rates as shares of all samples read)."""
        v = self.counts.values
        rates = self.counts.rates(self.closure_measured)
        n = v["n"]
        degenerate = (v["tiny"] + self.far_short) / n if n else None
        strict, diag = rates["strict_accuracy"], rates["diagnostic_accuracy"]
        out: dict[str, Any] = {
            "n": n,
            "with_gold": v["with_gold"],
            **{k: rates[k] for k in ("unclosed_rate", "unparseable_rate", "empty_rate")},
            "degenerate_rate": degenerate,
            "repetition_rate": rates["repetition_rate"],
            "strict_accuracy": strict,
            "diagnostic_accuracy": diag,
            "format_gap": diag - strict if strict is not None and diag is not None else None,
            "tag_compliance": {t: ok / n if n else None for t, ok in self.counts.tags.items()},
            "limit_hits": v["limit_hit"] if v["limit_known"] else None,
            "limit_hit_rate": rates["limit_hit_rate"],
            "lengths": self.lengths,
        }
        return out

    def step_series(self) -> dict[str, list[tuple[int, float]]]:
        """Every rate over training steps (``unclosed_rate`` → [(step, value)]), for steps
        that were logged; empty when the samples carry no step."""
        out: dict[str, list[tuple[int, float]]] = {}
        for step in sorted(self.steps):
            for name, value in self.steps[step].rates(self.closure_measured).items():
                if value is not None:
                    out.setdefault(name, []).append((step, value))
        return out


def audit_completions(
    paths: Sequence[Path | str], options: AuditOptions | None = None
) -> CompletionAudit:
    """Audit every sample of ``paths`` (one set: shards of one evaluation, or one run's log)."""
    opts = options or AuditOptions()
    state = _State(opts)
    auditors = [FileAuditor(Path(raw), opts, state=state) for raw in paths]
    for auditor in auditors:
        auditor.read()
    return state.result([w for a in auditors for w in a.reader.all_warnings()])


class FileAuditor:
    """One file audited as it grows (a live GRPO run's ``completions.jsonl``): each
    :meth:`advance` reads only what was written since the last one (complete lines while
    ``follow``) and returns the audit of everything read so far. ``state`` is shared when
    several files make one set."""

    def __init__(
        self,
        path: Path,
        opts: AuditOptions,
        *,
        follow: bool = False,
        state: _State | None = None,
    ) -> None:
        self.opts = opts
        self.state = state if state is not None else _State(opts)
        self.reader = SampleReader(
            path, response_key=opts.response_key, gold_key=opts.gold_key, follow=follow
        )
        self.info = FileInfo(str(path), limit=opts.max_new_tokens or _limit_from_args(path))
        self.fmt: AnswerFormat | None = None
        self.state.files.append(self.info)

    def advance(self) -> CompletionAudit:
        """Read what is new and return the audit so far."""
        self.read()
        return self.state.result(self.reader.all_warnings())

    def read(self) -> None:
        """Read what is new (the answer convention is chosen from the first samples seen)."""
        opts = self.opts
        stream: Iterator[Sample] = self.reader.samples()
        if self.fmt is None:
            probe = list(itertools.islice(stream, PROBE))
            if not probe:
                return
            try:
                self.fmt = choose_format(
                    (s.response for s in probe), stop=opts.stop, pattern=opts.answer_pattern
                )
            except ValueError as exc:
                raise TrainlensError(str(exc)) from None
            self.info.format = self.fmt.describe()
            self.state.closure_measured |= self.fmt.style.value != "none"
            stream = itertools.chain(probe, stream)
        fmt = self.fmt
        for batch in _batches(stream):
            loops = repetitive_flags(
                [s.response for s in batch], opts.passage_chars, opts.min_repeats
            )
            for sample, loop in zip(batch, loops):
                self.state.add(sample, fmt, self.info, loop)
            self.info.samples += len(batch)
        keys = self.reader.keys
        self.info.keys = keys.describe() if keys else "no usable record"
        self.info.skipped = self.reader.skipped


def _batches(samples: Iterator[Sample], most: int = 1024) -> Iterator[list[Sample]]:
    """Samples in groups whose tails fill one loop-search batch (memory stays bounded)."""
    batch: list[Sample] = []
    size = 0
    for sample in samples:
        batch.append(sample)
        size += min(len(sample.response), TAIL_CHARS)
        if len(batch) >= most or size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _limit_from_args(path: Path) -> int | None:
    """The generation limit from an ``args.json`` beside the file, when it has one."""
    args = path.parent / "args.json"
    try:
        if not args.is_file() or args.stat().st_size > 4 << 20:
            return None
        doc = json.loads(args.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in LIMIT_KEYS:
        value = doc.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def excerpt(text: str, limit: int, tail: bool = False) -> str:
    """``text`` on one line (newlines shown as ``⏎``), cut to ``limit`` characters with ``…``
    at its start (``tail``) or end."""
    flat = " ".join(text.replace("\n", " ⏎ ").split())
    if len(flat) <= limit:
        return flat
    return "…" + flat[-limit:] if tail else flat[:limit] + "…"


@dataclass
class _State:
    opts: AuditOptions
    files: list[FileInfo] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    steps: dict[int, Counts] = field(default_factory=dict)
    closure_measured: bool = False
    chars: Histogram = field(default_factory=Histogram)
    tiny_chars: Histogram = field(default_factory=Histogram)
    think: Histogram = field(default_factory=Histogram)
    answer_pos: Histogram = field(default_factory=Histogram)
    tokens: Histogram = field(default_factory=Histogram)
    examples: dict[str, list[Example]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    shortest: list[tuple[int, int, Example]] = field(default_factory=list)
    seq: Iterator[int] = field(default_factory=itertools.count)

    def add(self, sample: Sample, fmt: AnswerFormat, info: FileInfo, loop: bool) -> None:
        opts = self.opts
        text = sample.response
        flags: dict[str, bool] = {}
        got = extract(text, fmt, sample.stop_reason)
        closure = fmt.style.value != "none"
        flags["unclosed"] = closure and not got.closed
        flags["unparseable"] = closure and got.closed and got.value is None
        stripped = text.strip()
        flags["empty"] = not stripped
        ntokens = opts.tokenizer.count(text) if opts.tokenizer else None
        if ntokens is not None:
            flags["tiny"] = ntokens <= 1
        else:  # a word is rarely 64 characters long: longer texts are not one token
            flags["tiny"] = len(stripped) < 64 and count_words(stripped) <= 1
        flags["repetitive"] = loop
        gold = read_gold(sample.gold)
        flags["with_gold"] = gold is not None
        diag = last_number(text) if isinstance(gold, Fraction) else None
        flags["strict"] = gold is not None and got.closed and same_value(got.value, gold)
        flags["diagnostic"] = gold is not None and (same_value(diag, gold) or flags["strict"])
        limit_known, limit_hit = _limit(sample, ntokens, info.limit)
        flags["limit_known"], flags["limit_hit"] = limit_known, limit_hit
        nchars = len(text)
        targets = [self.counts]
        if sample.step is not None:
            per_step = self.steps.get(sample.step)
            if per_step is None:
                per_step = self.steps[sample.step] = Counts()
            targets.append(per_step)
        on = [INDEX[name] for name, value in flags.items() if value]
        tags = [(tag, tag_ok(text, tag)) for tag in opts.require_tags]
        for counts in targets:
            cells = counts.cells
            cells[_N] += 1
            cells[_CHARS] += nchars
            for i in on:
                cells[i] += 1
            if tags:
                table = counts.tags
                for tag, ok in tags:
                    table[tag] = table.get(tag, 0) + ok
        self.chars.add(nchars)
        if flags["tiny"]:
            self.tiny_chars.add(nchars)
        if got.think_chars is not None:
            self.think.add(got.think_chars)
        if got.answer_pos is not None:
            self.answer_pos.add(got.answer_pos)
        if ntokens is not None:
            self.tokens.add(ntokens)
        self._examples(sample, flags, got.region, gold, diag, info)

    def _examples(
        self,
        sample: Sample,
        flags: dict[str, bool],
        region: str | None,
        gold: Any,
        diag: Any,
        info: FileInfo,
    ) -> None:
        opts, text = self.opts, sample.response

        def keep(category: str, shown: str, detail: str = "", tail: bool = False) -> None:
            bucket = self.examples[category]
            if len(bucket) < opts.examples:
                bucket.append(
                    Example(
                        sample.id,
                        Path(info.path).name,
                        sample.line,
                        excerpt(shown, opts.excerpt_chars, tail),
                        detail,
                    )
                )

        if flags["unclosed"]:
            keep("unclosed", text, f"{len(text)} chars, ends without the answer closing", True)
        if flags["unparseable"]:
            keep("unparseable", region or "", "no single value inside the answer")
        if flags["diagnostic"] and not flags["strict"]:
            keep(
                "format_gap",
                text,
                f"last number {format_value(diag)} = gold {format_value(gold)}",
                True,
            )
        if flags["empty"] or flags["tiny"]:
            keep("degenerate", text or "(empty)", "empty" if flags["empty"] else "one token")
        elif len(self.examples["degenerate"]) < opts.examples and (
            len(self.shortest) < opts.examples or len(text) < -self.shortest[0][0]
        ):
            item = (len(text), next(self.seq))
            example = Example(
                sample.id,
                Path(info.path).name,
                sample.line,
                excerpt(text, opts.excerpt_chars),
                f"{len(text)} chars",
            )
            heapq.heappush(self.shortest, (-item[0], -item[1], example))
            if len(self.shortest) > opts.examples:
                heapq.heappop(self.shortest)
        if flags["repetitive"]:
            keep("repetitive", text, "a phrase repeats in a loop", True)

    def result(self, warnings: list[ReadWarning]) -> CompletionAudit:
        median = self.chars.quantile(0.5)
        far_short = 0
        examples = {k: list(v) for k, v in self.examples.items()}
        if median:
            limit = self.opts.short_ratio * median
            far_short = self.chars.below(limit) - self.tiny_chars.below(limit)
            bucket = examples["degenerate"]  # a copy: result() may be called again
            for neg_len, _, example in sorted(self.shortest, reverse=True):
                if -neg_len < limit and len(bucket) < self.opts.examples:
                    bucket.append(example)
        lengths = {
            "response_chars": self.chars.describe(),
            "think_chars": self.think.describe(),
            "answer_position_chars": self.answer_pos.describe(),
            "response_tokens": self.tokens.describe(),
        }
        return CompletionAudit(
            files=self.files,
            counts=self.counts,
            closure_measured=self.closure_measured,
            lengths=lengths,
            far_short=far_short,
            steps=self.steps,
            examples=examples,
            warnings=warnings,
            options=self.opts,
        )


def _limit(sample: Sample, ntokens: int | None, limit: int | None) -> tuple[bool, bool]:
    """(whether a generation-limit hit can be told for this sample, whether it hit it)."""
    if sample.finish_reason is not None:
        return True, sample.finish_reason == "length"
    if ntokens is not None and limit:
        return True, ntokens >= limit
    return False, False
