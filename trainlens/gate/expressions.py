"""The policy grammar: a hand-written tokenizer and recursive-descent parser (no ``eval``).

::

    policy     := test modifier*
    test       := metric cmp                      kl>10           (at any logged point)
                | AGG "(" metric ")" cmp          max(kl)>10, mean(reward)<0.5, last(eval_score)<1.8
                | "count" "(" metric cmp ")" cmp  count(kl>10)>3
    cmp        := (">" | ">=" | "<" | "<=" | "==" | "!=") number
    modifier   := "for" INT                       3 consecutive logged points (point tests only)
                | "after" INT | "before" INT      only steps > / < INT
    metric     := NAME | '"' any '"' | "'" any "'"

``NAME`` is a canonical or raw metric key (letters, digits and ``_ . / - @``; quote keys with
other characters, e.g. ``'"memory(GiB)">70'``). Numbers may be ``1e-3``, ``inf`` or ``nan``
(``nan`` only with ``==`` / ``!=``: ``loss==nan`` fails on a NaN loss). A bad policy raises
:class:`PolicyError`, whose message points at the offending character.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from trainlens.errors import TrainlensError
from trainlens.findings import Severity


class Op(str, Enum):
    """A comparison operator."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    def __str__(self) -> str:
        return self.value

    @property
    def upward(self) -> bool | None:
        """True when larger values are worse (``>``, ``>=``), False for ``<``, ``<=``, else None."""
        return True if self in (Op.GT, Op.GE) else False if self in (Op.LT, Op.LE) else None


class Aggregate(str, Enum):
    """Functions over a metric's logged points (``count`` takes a comparison instead)."""

    MAX = "max"
    MIN = "min"
    MEAN = "mean"
    MEDIAN = "median"
    STD = "std"
    SUM = "sum"
    FIRST = "first"
    LAST = "last"
    COUNT = "count"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Comparison:
    """``op threshold``; a NaN threshold tests for NaN (``==nan``) or not-NaN (``!=nan``)."""

    op: Op
    threshold: float

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Element-wise truth over ``values`` (NaN values never satisfy a numeric comparison)."""
        t = self.threshold
        if math.isnan(t):
            nan = np.isnan(values)
            return nan if self.op is Op.EQ else ~nan
        with np.errstate(invalid="ignore"):
            if self.op is Op.GT:
                return values > t
            if self.op is Op.GE:
                return values >= t
            if self.op is Op.LT:
                return values < t
            if self.op is Op.LE:
                return values <= t
            if self.op is Op.EQ:
                return values == t
            return (values != t) & ~np.isnan(values)

    def holds(self, value: float) -> bool:
        return bool(self.mask(np.asarray([value], dtype=np.float64))[0])

    def __str__(self) -> str:
        return f"{self.op.value}{format_number(self.threshold)}"

    def spaced(self) -> str:
        return f"{self.op.value} {format_number(self.threshold)}"


@dataclass(frozen=True)
class MetricPolicy:
    """A fail condition on one metric. ``text`` is the policy as the user wrote it."""

    text: str
    metric: str
    compare: Comparison  # the point test, or the test applied to the aggregate
    aggregate: Aggregate | None = None
    count_of: Comparison | None = None  # count(metric <count_of>) <compare>
    sustained: int = 1  # "for N": N consecutive logged points
    after: int | None = None  # only steps > after
    before: int | None = None  # only steps < before

    @property
    def kind(self) -> str:
        return "metric"

    def canonical_text(self) -> str:
        """A normalised spelling that parses back to an equal policy."""
        name = quote_metric(self.metric)
        if self.aggregate is Aggregate.COUNT:
            assert self.count_of is not None
            head = f"count({name}{self.count_of}){self.compare}"
        elif self.aggregate is not None:
            head = f"{self.aggregate.value}({name}){self.compare}"
        else:
            head = f"{name}{self.compare}"
        if self.sustained > 1:
            head += f" for {self.sustained}"
        if self.after is not None:
            head += f" after {self.after}"
        if self.before is not None:
            head += f" before {self.before}"
        return head

    def describe(self) -> str:
        """Plain-English meaning, for reports."""
        name = self.metric
        if self.aggregate is Aggregate.COUNT:
            assert self.count_of is not None
            what = (
                f"number of points with {name} {self.count_of.spaced()} is {self.compare.spaced()}"
            )
        elif self.aggregate is not None:
            what = f"{self.aggregate.value} of {name} is {self.compare.spaced()}"
        elif self.sustained > 1:
            what = f"{name} {self.compare.spaced()} for {self.sustained} consecutive logged points"
        else:
            what = f"{name} {self.compare.spaced()} at any logged point"
        return what + self.range_text()

    def range_text(self) -> str:
        parts = []
        if self.after is not None:
            parts.append(f"after step {self.after}")
        if self.before is not None:
            parts.append(f"before step {self.before}")
        return (" (" + ", ".join(parts) + ")") if parts else ""


@dataclass(frozen=True)
class RulePolicy:
    """Fails when the analysis has a finding of rule ``rule``."""

    rule: str

    @property
    def kind(self) -> str:
        return "rule"

    @property
    def text(self) -> str:
        return f"rule {self.rule}"

    def describe(self) -> str:
        return f"a {self.rule} finding"


@dataclass(frozen=True)
class SeverityPolicy:
    """Fails when the analysis has a finding at or above ``severity``."""

    severity: Severity

    @property
    def kind(self) -> str:
        return "severity"

    @property
    def text(self) -> str:
        return f"severity>={self.severity.value}"

    def describe(self) -> str:
        return f"a finding of severity {self.severity.value} or worse"


Policy = MetricPolicy | RulePolicy | SeverityPolicy


class PolicyError(TrainlensError):
    """A malformed policy; the message names the column and a caret line points at it."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column  # 1-based; len(text) + 1 means "at the end"
        self.reason = reason
        where = f"column {column}" + (" (end of policy)" if column > len(text) else "")
        shown = text.replace("\t", " ").replace("\n", " ")
        super().__init__(
            f'bad policy "{text}": {reason} at {where}\n  {shown}\n  {" " * (column - 1)}^'
        )


# ---------------------------------------------------------------------------------------- tokens

_NAME, _NUMBER, _OP, _LPAREN, _RPAREN, _END = "name", "number", "op", "(", ")", "end"
_NUMBER_RE = re.compile(
    r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_./@\-]*")
_OPS = (">=", "<=", "==", "!=", ">", "<")
_MODIFIERS = ("for", "after", "before")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int  # 0-based offset into the policy
    quoted: bool = False


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(_Token(c, c, i))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token(_OP, op, i))
            i += len(op)
            continue
        if c in "=!":
            hint = "did you mean '=='?" if c == "=" else "did you mean '!='?"
            if text.startswith("=>", i) or text.startswith("=<", i):
                hint = f"did you mean '{text[i + 1]}='?"
            raise PolicyError(text, i + 1, f"unexpected '{c}' ({hint})")
        if c in "\"'`":
            end = text.find(c, i + 1)
            if end == -1:
                raise PolicyError(text, i + 1, "unterminated quoted metric name")
            if end == i + 1:
                raise PolicyError(text, i + 1, "empty quoted metric name")
            tokens.append(_Token(_NAME, text[i + 1 : end], i, quoted=True))
            i = end + 1
            continue
        m = _NUMBER_RE.match(text, i)
        if m and (c.isdigit() or c in "+-."):
            after = text[m.end()] if m.end() < n else " "
            if after.isalnum() or after in "_./@-":  # "10x", "1.2.3": not a number
                raise PolicyError(text, m.end() + 1, f"unexpected '{after}' in a number")
            tokens.append(_Token(_NUMBER, m.group(), i))
            i = m.end()
            continue
        m = _NAME_RE.match(text, i)
        if m:
            tokens.append(_Token(_NAME, m.group(), i))
            i = m.end()
            continue
        raise PolicyError(text, i + 1, f"unexpected character '{c}'")
    tokens.append(_Token(_END, "", n))
    return tokens


# ---------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, reason: str, tok: _Token | None = None) -> PolicyError:
        return PolicyError(self.text, (tok or self.tok).pos + 1, reason)

    def take(self) -> _Token:
        tok = self.tok
        if tok.kind != _END:
            self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> _Token:
        if self.tok.kind != kind:
            raise self.error(f"expected {what}")
        return self.take()

    def metric(self) -> str:
        tok = self.tok
        if tok.kind != _NAME or (not tok.quoted and tok.text in _MODIFIERS):
            raise self.error("expected a metric name")
        return self.take().text

    def number(self) -> float:
        tok = self.tok
        if tok.kind == _NUMBER or (
            tok.kind == _NAME and not tok.quoted and tok.text.lower() in ("inf", "infinity", "nan")
        ):
            self.take()
            return float(tok.text)
        raise self.error("expected a number")

    def comparison(self) -> Comparison:
        tok = self.tok
        if tok.kind != _OP:
            raise self.error("expected a comparison (>, >=, <, <=, ==, !=)")
        self.take()
        num_tok = self.tok
        value = self.number()
        if math.isnan(value) and tok.text not in ("==", "!="):
            raise self.error("nan compares only with == or !=", num_tok)
        return Comparison(Op(tok.text), value)

    def whole_number(self, keyword: str, minimum: int) -> int:
        tok = self.tok
        if tok.kind != _NUMBER:
            raise self.error(f"expected a whole number after '{keyword}'")
        value = float(tok.text)
        if not math.isfinite(value) or not value.is_integer() or value < minimum:
            raise self.error(f"'{keyword}' needs a whole number >= {minimum}")
        self.take()
        return int(value)

    def parse(self) -> MetricPolicy:
        if (
            self.tok.kind == _NAME
            and not self.tok.quoted
            and self.tokens[self.i + 1].kind == _LPAREN
        ):
            policy = self.aggregate()
        else:
            name = self.metric()
            policy = MetricPolicy(self.text, name, self.comparison())
        return self.modifiers(policy)

    def aggregate(self) -> MetricPolicy:
        fn_tok = self.take()
        try:
            fn = Aggregate(fn_tok.text.lower())
        except ValueError:
            known = ", ".join(a.value for a in Aggregate)
            raise self.error(
                f"unknown function '{fn_tok.text}' (known: {known}; quote a metric "
                "name that has parentheses)",
                fn_tok,
            ) from None
        self.take()  # "("
        name = self.metric()
        if fn is Aggregate.COUNT and self.tok.kind != _OP:
            raise self.error("expected a comparison inside count(), as in count(kl>10)>3")
        inner = self.comparison() if fn is Aggregate.COUNT else None
        if fn is not Aggregate.COUNT and self.tok.kind == _OP:
            raise self.error(
                f"expected ')' ({fn.value}() takes a metric; only count() takes a comparison)"
            )
        self.expect(_RPAREN, "')'")
        return MetricPolicy(self.text, name, self.comparison(), aggregate=fn, count_of=inner)

    def modifiers(self, policy: MetricPolicy) -> MetricPolicy:
        seen: set[str] = set()
        fields: dict[str, int] = {}
        while self.tok.kind != _END:
            tok = self.tok
            if tok.kind != _NAME or tok.quoted or tok.text not in _MODIFIERS:
                raise self.error("expected 'for N', 'after STEP', 'before STEP' or the end")
            if tok.text in seen:
                raise self.error(f"'{tok.text}' given twice")
            seen.add(tok.text)
            self.take()
            if tok.text == "for":
                if policy.aggregate is not None:
                    raise self.error(
                        "'for N' applies to a point test like kl>10, not to an aggregate", tok
                    )
                fields["sustained"] = self.whole_number("for", 1)
            else:
                fields[tok.text] = self.whole_number(tok.text, 0)
        after, before = fields.get("after"), fields.get("before")
        if after is not None and before is not None and before <= after + 1:
            raise PolicyError(
                self.text, len(self.text) + 1, f"no step is after {after} and before {before}"
            )
        return MetricPolicy(
            policy.text,
            policy.metric,
            policy.compare,
            policy.aggregate,
            policy.count_of,
            fields.get("sustained", 1),
            after,
            before,
        )


def parse_policy(text: str) -> MetricPolicy:
    """Parse one ``--fail-on`` expression; raises :class:`PolicyError` (exit 2) when malformed."""
    if not text.strip():
        raise PolicyError(text, 1, "empty policy; expected a metric name")
    return _Parser(text).parse()


def parse_severity(text: str) -> SeverityPolicy:
    """``--fail-on-severity`` value (info, warning, error)."""
    try:
        return SeverityPolicy(Severity(text.strip().lower()))
    except ValueError:
        raise TrainlensError(f"bad severity {text!r}: expected info, warning or error") from None


def format_number(x: float) -> str:
    """Short, round-trippable number text (``10``, ``0.3``, ``1e-05``, ``inf``, ``nan``)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def quote_metric(name: str) -> str:
    """``name`` as a policy spells it: bare, or quoted when it has other characters."""
    if _NAME_RE.fullmatch(name) and name not in _MODIFIERS:
        return name
    return f"'{name}'" if "'" not in name else f'"{name}"'
