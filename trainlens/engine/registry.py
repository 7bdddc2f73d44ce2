"""The detector registry: pure functions registered by name, with their inputs and parameters."""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np


class NotApplicable(Exception):
    """Raised by a detector when its input cannot be judged by it: the rule is then recorded as
    skipped (never as a finding or an error). ``code`` names the reason (texts in
    ``trainlens.engine.messages``); ``params`` fill its placeholders."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Range:
    """The values a numeric detector parameter accepts, declared with the parameter itself
    (``window: Annotated[int, Range(1)] = 50``, or one of the aliases below): bounds ``lo`` and
    ``hi`` (None: unbounded), each closed unless ``lo_open`` / ``hi_open``. NaN and ±Inf are
    never accepted."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        try:
            x = float(value)
        except OverflowError:  # an int beyond any float (10**400 from a --param)
            return False
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        return not (self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi))

    def __str__(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is None and hi is None:
            return "any finite number"
        if hi is None:
            return f"{'>' if self.lo_open else '≥'} {_bound(lo)}"
        if lo is None:
            return f"{'<' if self.hi_open else '≤'} {_bound(hi)}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"{left}{_bound(lo)}, {_bound(hi)}{right}"


def _bound(x: float | None) -> str:
    """A range bound as written: whole numbers in full (``1000000``, not ``1e+06``)."""
    assert x is not None
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class OneOf:
    """The values a text detector parameter accepts."""

    values: tuple[str, ...]

    def __contains__(self, value: object) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


# Parameter kinds the detectors annotate their keyword parameters with (the range is checked
# when a rule is loaded, with its file or the --param / config source in the message).
#: The most logged points an integer parameter may count: more than any run holds (DESIGN: up to
#: ~100k steps), small enough that a window of this size cannot exhaust memory.
MAX_COUNT = 1_000_000
#: A number of logged points (a window, a run length): at least 1.
Count = Annotated[int, Range(1, MAX_COUNT)]
#: A number of points or steps that may be 0 (a gap, a switch-off value).
Count0 = Annotated[int, Range(0, MAX_COUNT)]
#: A fraction of something that must be positive: (0, 1].
Fraction = Annotated[float, Range(0, 1, lo_open=True)]
#: A share or probability: [0, 1].
Share = Annotated[float, Range(0, 1)]
#: A factor, scale or threshold that must be positive: > 0.
Positive = Annotated[float, Range(0, lo_open=True)]
#: A threshold where 0 switches the test off: ≥ 0.
NonNegative = Annotated[float, Range(0)]
#: A value in the metric's own units (a bound, a limit): any finite number.
Real = Annotated[float, Range()]
#: A correlation coefficient: [−1, 1].
Correlation = Annotated[float, Range(-1, 1)]


def constraint(expected: Any) -> Range | OneOf | None:
    """The Range / OneOf declared in a parameter annotation (inside ``X | None`` too)."""
    if typing.get_origin(expected) is Annotated:
        return next((m for m in expected.__metadata__ if isinstance(m, (Range, OneOf))), None)
    for arg in typing.get_args(expected) if _is_union(expected) else ():
        found = constraint(arg)
        if found is not None:
            return found
    return None


def _is_union(expected: Any) -> bool:
    return typing.get_origin(expected) in (typing.Union, types.UnionType)


def _base(expected: Any) -> Any:
    """The annotation without its Annotated metadata."""
    return typing.get_args(expected)[0] if typing.get_origin(expected) is Annotated else expected


def _integral(expected: Any) -> bool:
    if _is_union(expected):
        return any(_integral(a) for a in typing.get_args(expected))
    return _base(expected) is int


def _numeric(expected: Any) -> bool:
    if _is_union(expected):
        return any(_numeric(a) for a in typing.get_args(expected))
    return _base(expected) in (int, float)


@dataclass(frozen=True)
class Trace:
    """One step-indexed series: increasing integer ``steps`` and float ``values``. ``offset``:
    points of the whole series before these (the end of a growing series), which shares of
    the whole series count."""

    steps: np.ndarray
    values: np.ndarray
    offset: int = 0

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Window:
    """What a detector found: a step window, its peak and baseline, the numbers its message
    needs, and (optionally) the evidence rows as indices into input ``series``."""

    start_step: int
    end_step: int
    peak_step: int | None = None
    peak_value: float | None = None
    baseline: float | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    series: int | None = 0  # the input this window is about (None: no series, e.g. a restart)
    start: int | None = None  # indices into that input, used to pick evidence rows
    end: int | None = None
    peak: int | None = None
    rows: tuple[int, ...] | None = None  # explicit evidence rows (None: picked around the window)


@dataclass(frozen=True)
class DetectorInfo:
    """A registered detector: its series inputs (positional), parameters (keyword-only) with
    defaults and types, the numbers every window carries, and the run facts it may receive."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[str, ...]
    optional: frozenset[str]
    defaults: dict[str, Any]
    types: dict[str, Any]
    outputs: tuple[str, ...]
    context: tuple[str, ...]
    raw: bool
    post: bool
    doc: str
    #: Trailing points the verdict on a point depends on, from the rule parameters (None: the
    #: detector reads the whole series). ``watch`` judges new points with only that much
    #: context between its full passes (:mod:`trainlens.engine.incremental`).
    lookback: Callable[[Mapping[str, Any]], int] | None = None

    @property
    def arity(self) -> int:
        return len(self.inputs)


#: Run facts the engine passes to a detector that declares a keyword parameter of that name.
CONTEXT = ("direction", "restarts", "interval", "kl_coef", "clip_threshold")

DETECTORS: dict[str, DetectorInfo] = {}


def detector(
    *,
    outputs: tuple[str, ...] = (),
    raw: bool = False,
    post: bool = False,
    lookback: Callable[[Mapping[str, Any]], int] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a detector. Positional parameters are its series inputs (a default of None
    makes one optional); keyword-only parameters are the rule parameters. ``outputs`` names
    the numbers each returned Window carries; ``raw`` detectors also see NaN/Inf values;
    ``post`` detectors run over other rules' findings instead of series. ``lookback`` (rule
    parameters → points): the detector judges a point from at most that many points before
    it, so new points can be judged on the end of a series (None: it needs the whole series)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        inputs, optional, defaults, types = [], set(), {}, {}
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                inputs.append(p.name)
                if p.default is None:
                    optional.add(p.name)
            elif p.kind is p.KEYWORD_ONLY:
                if p.default is p.empty:
                    raise TypeError(f"detector {fn.__name__}: parameter {p.name} needs a default")
                defaults[p.name] = p.default
                types[p.name] = hints.get(p.name, Any)
                _check_declaration(fn.__name__, p.name, p.default, types[p.name])
        if fn.__name__ in DETECTORS:
            raise TypeError(f"detector {fn.__name__} registered twice")
        DETECTORS[fn.__name__] = DetectorInfo(
            name=fn.__name__,
            fn=fn,
            inputs=tuple(inputs),
            optional=frozenset(optional),
            defaults=defaults,
            types=types,
            outputs=tuple(outputs),
            context=tuple(c for c in CONTEXT if c in defaults),
            raw=raw,
            post=post,
            lookback=lookback,
            doc=inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " "),
        )
        return fn

    return register


def _check_declaration(name: str, param: str, default: Any, expected: Any) -> None:
    """Every numeric rule parameter declares its valid range; every default lies inside it."""
    if param in CONTEXT:
        return
    rng = constraint(expected)
    if rng is None and _numeric(expected):
        raise TypeError(
            f"detector {name}: parameter {param} needs a declared range "
            "(annotate it with Count, Fraction, Positive, ... or Annotated[..., Range(...)])"
        )
    if isinstance(rng, Range) and rng.hi is None and _integral(expected):
        raise TypeError(
            f"detector {name}: integer parameter {param} needs an upper bound "
            "(Count, Count0 or Range(lo, hi)): a window of 10**20 points exhausts memory"
        )
    if rng is not None and default is not None and default not in rng:
        raise TypeError(f"detector {name}: default {param}={default!r} outside {rng}")


def check_type(value: Any, expected: Any) -> bool:
    """Whether a YAML/TOML value fits a detector parameter's annotation (int is a float)."""
    expected = _base(expected)
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if _is_union(expected):
        return any(check_type(value, arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        return isinstance(value, (list, tuple))
    return isinstance(value, expected) if isinstance(expected, type) else True


def type_name(expected: Any) -> str:
    """A readable name for a parameter annotation."""
    expected = _base(expected)
    if typing.get_origin(expected) is not None and typing.get_args(expected):
        return " | ".join(type_name(a) for a in typing.get_args(expected))
    return "none" if expected is type(None) else getattr(expected, "__name__", str(expected))


def window(
    s: Trace,
    start: int,
    end: int,
    peak: int,
    baseline: float | None,
    *,
    series: int = 0,
    rows: tuple[int, ...] | None = None,
    **numbers: Any,
) -> Window:
    """A Window over indices ``start..end`` of ``s`` with its peak at index ``peak``."""
    base = None if baseline is None or not np.isfinite(baseline) else float(baseline)
    return Window(
        start_step=int(s.steps[start]),
        end_step=int(s.steps[end]),
        peak_step=int(s.steps[peak]),
        peak_value=float(s.values[peak]),
        baseline=base,
        numbers={k: _plain(v) for k, v in numbers.items()},
        series=series,
        start=int(start),
        end=int(end),
        peak=int(peak),
        rows=rows,
    )


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v
