"""The failures a job printed: ``log_pattern`` rules (regexes in ``rules/``) over console logs.

One pass per file over 8 MiB blocks: the literals every match of a rule's pattern must hold
(:mod:`trainlens.regex_literals`) are looked for with ``bytes.find`` at memory speed, and only
the lines that hold one are matched with the rules' regexes (patterns without such a literal are
joined into one regex searched over the block). A Python
traceback (or Ray's ``Unhandled error`` with frames and no header) is followed to its
exception line: each distinct (exception, message, innermost frame) is one finding with a count.
Identical lines are summarised once with a count and the first line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec, load_rules
from trainlens.findings import Finding, Severity
from trainlens.readers._files import open_regular
from trainlens.readers._text import clean
from trainlens.regex_literals import Literals, first_match, required_literals

BLOCK = 8 << 20
EXCERPT_CHARS = 300
MAX_LINES_LISTED = 5
TRACEBACK_RULE = "python_traceback"
DIED_RULE = "job_died_before_training"
_TB_READ = 256 << 10
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_EXCEPTION = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Fault))(?::\s?(?P<message>.*))?$"
)
#: Frames in installed packages or the standard library: the innermost frame *outside* them is
#: where the user's code (or the framework's own source checkout) failed.
_LIBRARY = re.compile(r"[/\\](?:site-packages|dist-packages|lib[/\\]python\d[\d.]*)[/\\]|^<frozen ")
#: Exceptions that are a person stopping the job, not a failure.
BENIGN_EXCEPTIONS = ("KeyboardInterrupt",)
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _bytes_pattern(pattern: re.Pattern[str]) -> bytes:
    """A rule pattern for the joined prefilter: named groups made anonymous, leading global
    flags (``(?i)``) scoped to the pattern (``(?i:...)``)."""
    text = re.sub(r"\(\?P<\w+>", "(?:", pattern.pattern)
    m = _GLOBAL_FLAGS.match(text)
    if m:
        text = f"(?{m.group(1)}:{text[m.end() :]})"
    return text.encode()


@dataclass
class _Hits:
    rule: str
    count: int = 0
    lines: list[int] = field(default_factory=list)
    excerpt: str = ""
    groups: dict[str, str] = field(default_factory=dict)


@dataclass
class _Traceback:
    exc_type: str
    message: str
    frame: str
    count: int = 0
    lines: list[int] = field(default_factory=list)
    excerpt: str = ""


@dataclass
class LogScan:
    """What one file printed: per rule its hits, and the distinct tracebacks."""

    path: Path
    hits: dict[str, _Hits] = field(default_factory=dict)
    tracebacks: dict[tuple[str, str, str], _Traceback] = field(default_factory=dict)
    warnings: list[ReadWarning] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        crashed = any(k[0] not in BENIGN_EXCEPTIONS for k in self.tracebacks)
        return crashed or any(
            r in self.hits for r in ("cuda_oom", "process_killed", "nccl_timeout")
        )


@lru_cache(maxsize=1)
def _builtin_patterns() -> re.Pattern[bytes]:
    specs = load_rules().of_kind("log_pattern")
    return _joined(tuple(specs))


def _joined(specs: Sequence[RuleSpec]) -> re.Pattern[bytes]:
    parts = [_bytes_pattern(p) for s in specs for p in s.patterns]
    return re.compile(b"|".join(b"(?:" + p + b")" for p in parts) or b"(?!)", re.MULTILINE)


@dataclass
class _Plan:
    """How one set of rules is searched: per rule its patterns (each with the literals one of
    which any match holds, when it has some), the literals to look for with ``bytes.find``
    (exactly or lower-cased) and which rules each one points to, and one joined regex for the
    patterns without a usable literal."""

    rules: list[tuple[RuleSpec, list[tuple[re.Pattern[bytes], Literals | None]]]]
    exact: dict[bytes, set[int]]
    folded: dict[bytes, set[int]]
    fallback: re.Pattern[bytes] | None
    fallback_rules: list[int]


def _plan(rules: Sequence[RuleSpec]) -> _Plan:
    plan = _Plan([], {}, {}, None, [])
    loose: list[bytes] = []
    for i, spec in enumerate(rules):
        compiled = []
        for p in spec.patterns:
            lits = required_literals(p.pattern)
            compiled.append((re.compile(_bytes_pattern_named(p)), lits))
            if lits is None:
                loose.append(_bytes_pattern(p))
                if i not in plan.fallback_rules:
                    plan.fallback_rules.append(i)
                continue
            table = plan.folded if lits.folded else plan.exact
            for option in lits.options:
                table.setdefault(option, set()).add(i)
        plan.rules.append((spec, compiled))
    if loose:
        plan.fallback = re.compile(b"|".join(b"(?:" + p + b")" for p in loose), re.MULTILINE)
    _fold_implied(plan)
    return plan


def _fold_implied(plan: _Plan) -> None:
    """Drop each literal that holds another one (every line with it has the shorter one too):
    fewer passes over each block. An exact literal whose lower case holds a folded one goes to
    that one."""
    for table in (plan.exact, plan.folded):
        for literal in sorted(table, key=len, reverse=True):
            shorter = next((o for o in table if o != literal and o in literal), None)
            if shorter is not None:
                table[shorter] |= table.pop(literal)
    for literal in list(plan.exact):
        folded = next((o for o in plan.folded if o in literal.lower()), None)
        if folded is not None:
            plan.folded[folded] |= plan.exact.pop(literal)


def _candidates(chunk: bytes, plan: _Plan) -> dict[int, set[int]]:
    """Start offsets of the lines of ``chunk`` that may match, with the rules to try there."""
    found: dict[int, set[int]] = {}
    for haystack, table in ((chunk, plan.exact), (None, plan.folded)):
        if not table:
            continue
        if haystack is None:
            haystack = chunk.lower()  # ASCII case folding keeps every offset
        for literal, rule_ids in table.items():
            pos = haystack.find(literal)
            while pos >= 0:
                start = haystack.rfind(b"\n", 0, pos) + 1
                found.setdefault(start, set()).update(rule_ids)
                end = haystack.find(b"\n", pos)
                if end < 0:
                    break
                pos = haystack.find(literal, end + 1)
    if plan.fallback is not None:
        for m in plan.fallback.finditer(chunk):
            start = chunk.rfind(b"\n", 0, m.start()) + 1
            found.setdefault(start, set()).update(plan.fallback_rules)
    return found


def looks_like_failure(head: bytes) -> bool:
    """True when a text sample holds a failure message a ``log_pattern`` rule knows."""
    return _builtin_patterns().search(head) is not None


def _text(line: bytes) -> str:
    return clean(line).decode("utf-8", "replace").strip()


def _short(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def scan_file(path: Path, specs: Sequence[RuleSpec]) -> LogScan:
    """Scan one text file with the ``log_pattern`` rules ``specs``; never raises for bad input."""
    out = LogScan(path)
    rules = [s for s in specs if s.kind == "log_pattern"]
    if not rules:
        return out
    plan = _plan(rules)
    try:
        fh = open_regular(path)  # noqa: SIM115
    except OSError as exc:
        out.warnings.append(ReadWarning(str(path), f"cannot read file: {exc.strerror}"))
        return out
    with fh, open_regular(path) as side:
        line_no = 1
        offset = 0
        carry = b""
        while True:
            block = fh.read(BLOCK)
            data = carry + block
            if not block:
                if not data:
                    break
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    if len(data) <= 2 * BLOCK:
                        carry = data
                        continue
                    cut = len(data)  # one enormous line: scanned in pieces, memory bounded
            chunk = data[:cut]
            pos = 0
            for start, rule_ids in sorted(_candidates(chunk, plan).items()):
                line_no += chunk.count(b"\n", pos, start)
                pos = start
                end = chunk.find(b"\n", start)
                line = chunk[start : end if end >= 0 else len(chunk)]
                _match_line(out, plan, rule_ids, line, line_no, side, offset + start)
            line_no += chunk.count(b"\n", pos)
            offset += cut
            carry = data[cut:]
            if not block:
                break
    return out


def _bytes_pattern_named(pattern: re.Pattern[str]) -> bytes:
    return pattern.pattern.encode()


def _match_line(
    out: LogScan,
    plan: _Plan,
    rule_ids: set[int],
    line: bytes,
    line_no: int,
    side: Any,
    line_offset: int,
) -> None:
    lower: bytes | None = None
    for index in sorted(rule_ids):
        spec, patterns = plan.rules[index]
        for pattern, lits in patterns:
            if lits is None:
                m = pattern.search(line)
            else:
                if lits.folded and lower is None:
                    lower = line.lower()
                text = lower if lits.folded and lower is not None else line
                if not any(o in text for o in lits.options):
                    continue
                m = first_match(pattern, lits, line, text)
            if not m:
                continue
            if spec.id == TRACEBACK_RULE:
                _traceback(out, side, line_offset, line_no, line)
            else:
                hits = out.hits.setdefault(spec.id, _Hits(spec.id))
                hits.count += 1
                if len(hits.lines) < MAX_LINES_LISTED:
                    hits.lines.append(line_no)
                if not hits.excerpt:
                    hits.excerpt = _short(_text(line))
                    hits.groups = {
                        k: v.decode("utf-8", "replace")
                        for k, v in m.groupdict().items()
                        if v is not None
                    }
                else:
                    for k, v in m.groupdict().items():  # fill what the first match lacked
                        if v is not None and k not in hits.groups:
                            hits.groups[k] = v.decode("utf-8", "replace")
            break


def _traceback(out: LogScan, side: Any, offset: int, line_no: int, header: bytes) -> None:
    """Follow a traceback from its header to the exception line."""
    side.seek(offset)
    data = side.read(_TB_READ)
    lines = data.split(b"\n")[1:]
    frame = user_frame = ""
    exc_type, message = "", ""
    for raw in lines:
        text = clean(raw).decode("utf-8", "replace").rstrip()
        if not text.strip():
            continue
        fm = _FRAME.match(text)
        if fm:
            frame = f"{fm.group('func')} ({fm.group('file').rsplit('/', 1)[-1]}:{fm.group('line')})"
            if not _LIBRARY.search(fm.group("file")):
                user_frame = frame
            continue
        if text.startswith((" ", "\t")) or text.lstrip().startswith(("^", "~")):
            continue  # source line under a frame, or the caret marker
        if text.startswith(_CHAINED) or text.startswith("Traceback (most recent call last)"):
            continue
        em = _EXCEPTION.match(text.strip())
        if em:
            exc_type, message = em.group("type"), (em.group("message") or "").strip()
        break
    if not exc_type:
        exc_type = "unknown exception"
    frame = user_frame or frame
    key = (exc_type, message[:200], frame)
    tb = out.tracebacks.get(key)
    if tb is None:
        tb = out.tracebacks[key] = _Traceback(exc_type, _short(message), frame)
        tb.excerpt = _short(f"{exc_type}: {message}" if message else exc_type)
    tb.count += 1
    if len(tb.lines) < MAX_LINES_LISTED:
        tb.lines.append(line_no)


def log_findings(
    scans: Sequence[LogScan],
    specs: Sequence[RuleSpec],
    run: str,
    *,
    step: int,
    has_metrics: bool,
) -> list[Finding]:
    """Findings of a run's scanned logs. ``step``: the run's last logged step (0 when none);
    ``has_metrics``: whether any metric was read (a fatal log without is a job that died)."""
    by_id = {s.id: s for s in specs if s.kind == "log_pattern"}
    out: list[Finding] = []
    for scan in scans:
        for rule_id, hits in scan.hits.items():
            spec = by_id.get(rule_id)
            if spec is None or rule_id == DIED_RULE:
                continue
            params = _params(spec, scan.path, hits.count, hits.lines, hits.excerpt)
            params.update(hits.groups)
            out.append(_finding(spec, run, step, params))
        tb_spec = by_id.get(TRACEBACK_RULE)
        if tb_spec is not None:
            for tb in scan.tracebacks.values():
                params = _params(tb_spec, scan.path, tb.count, tb.lines, tb.excerpt)
                params.update(exc_type=tb.exc_type, exc_message=tb.message, frame=tb.frame or "—")
                finding = _finding(tb_spec, run, step, params)
                if tb.exc_type in BENIGN_EXCEPTIONS:  # Ctrl-C: said, but not as a failure
                    finding = replace(finding, severity=Severity.INFO)
                out.append(finding)
    died = by_id.get(DIED_RULE)
    if died is not None and not has_metrics:
        fatal = [s for s in scans if s.fatal]
        if fatal:
            scan = fatal[0]
            first_tb = next(
                (t for t in scan.tracebacks.values() if t.exc_type not in BENIGN_EXCEPTIONS), None
            )
            cause = (
                first_tb.excerpt
                if first_tb
                else next((h.excerpt for h in scan.hits.values()), "an error")
            )
            where = f" in {first_tb.frame}" if first_tb and first_tb.frame else ""
            lines = sorted({n for h in scan.hits.values() for n in h.lines})[:MAX_LINES_LISTED]
            if first_tb:
                lines = first_tb.lines
            count = sum(t.count for t in scan.tracebacks.values()) or sum(
                h.count for h in scan.hits.values()
            )
            params = _params(died, scan.path, count, lines, cause)
            params.update(cause=cause, where=where)
            out.append(_finding(died, run, step, params))
    return out


def _params(
    spec: RuleSpec, path: Path, count: int, lines: list[int], excerpt: str
) -> dict[str, Any]:
    params: dict[str, Any] = {name: "" for name in spec.outputs}
    params.update(
        file=str(path),
        file_name=path.name,
        count=count,
        first_line=lines[0] if lines else None,
        lines=list(lines),
        excerpt=excerpt,
    )
    return params


def _finding(spec: RuleSpec, run: str, step: int, params: dict[str, Any]) -> Finding:
    return Finding(
        rule=spec.id,
        severity=spec.severity,
        run=run,
        metric="",
        key="",
        start_step=step,
        end_step=step,
        params=params,
    )


def scan_logs(
    paths: Sequence[Path], specs: Sequence[RuleSpec] | None = None
) -> tuple[list[LogScan], list[ReadWarning]]:
    """Scan several files (``specs``: the built-in ``log_pattern`` rules by default)."""
    rules = list(specs) if specs is not None else load_rules().of_kind("log_pattern")
    scans = [scan_file(p, rules) for p in paths]
    return scans, [w for s in scans for w in s.warnings]
