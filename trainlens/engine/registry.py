"""The detector registry: pure functions registered by name, with their inputs and parameters."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
class Trace:
    """One step-indexed series: increasing integer ``steps`` and float ``values``."""

    steps: np.ndarray
    values: np.ndarray

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

    @property
    def arity(self) -> int:
        return len(self.inputs)


#: Run facts the engine passes to a detector that declares a keyword parameter of that name.
CONTEXT = ("direction", "restarts", "interval", "kl_coef")

DETECTORS: dict[str, DetectorInfo] = {}


def detector(
    *, outputs: tuple[str, ...] = (), raw: bool = False, post: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a detector. Positional parameters are its series inputs (a default of None
    makes one optional); keyword-only parameters are the rule parameters. ``outputs`` names
    the numbers each returned Window carries; ``raw`` detectors also see NaN/Inf values;
    ``post`` detectors run over other rules' findings instead of series."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
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
            doc=inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " "),
        )
        return fn

    return register


def check_type(value: Any, expected: Any) -> bool:
    """Whether a YAML/TOML value fits a detector parameter's annotation (int is a float)."""
    if expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
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
