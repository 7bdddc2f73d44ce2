"""Exact JSON round trips for what the cache keeps besides columns (no pickle: a cache file is
data, never code).

Plain JSON types pass through; tuples, dicts with keys that are not plain strings, paths,
numpy scalars, the enums and the frozen dataclasses the run model and findings are made of are
tagged, so a decoded value compares equal to the original and has the same types. Anything else
raises :class:`Uncacheable` and the caller simply does not cache that result.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import numpy as np


class Uncacheable(TypeError):
    """A value the codec cannot round-trip exactly."""


def _classes() -> dict[str, type]:
    from trainlens.diagnostics import ReadWarning
    from trainlens.discover import Checkpoint
    from trainlens.findings import EvidenceRow, Finding, Severity, Skipped
    from trainlens.run import Restart, SourceInfo

    return {
        c.__name__: c
        for c in (ReadWarning, Checkpoint, EvidenceRow, Finding, Severity, Skipped, Restart)
        + (SourceInfo,)
    }


_CLASSES: dict[str, type] = {}


def _registry() -> dict[str, type]:
    if not _CLASSES:
        _CLASSES.update(_classes())
    return _CLASSES


def encode(value: Any) -> Any:
    """``value`` as JSON-able data (raises :class:`Uncacheable`)."""
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, Enum):
        name = type(value).__name__
        if _registry().get(name) is not type(value):
            raise Uncacheable(f"enum {name}")
        return {"__e": name, "v": value.value}
    if isinstance(value, (bool, str)):
        raise Uncacheable(type(value).__name__)
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, (bool, int, float)):
            return {"__np": value.dtype.str, "v": encode(item)}
        raise Uncacheable(f"numpy scalar {value.dtype}")
    if isinstance(value, int):
        return value if type(value) is int else {"__i": int(value)}
    if isinstance(value, float):
        if type(value) is not float:
            return {"__f": _float(float(value))}
        return value if math.isfinite(value) else {"__f": _float(value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        if type(value) is not tuple:
            raise Uncacheable(type(value).__name__)
        return {"__t": [encode(v) for v in value]}
    if isinstance(value, dict):
        if type(value) is dict and all(
            isinstance(k, str) and not k.startswith("__") for k in value
        ):
            return {k: encode(v) for k, v in value.items()}
        if type(value) is not dict:
            raise Uncacheable(type(value).__name__)
        return {"__d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, PurePath):
        if type(value) is not type(Path()):
            raise Uncacheable(type(value).__name__)
        return {"__p": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _registry().get(name) is not type(value):
            raise Uncacheable(f"dataclass {name}")
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dc": name, "f": fields}
    raise Uncacheable(type(value).__name__)


def _float(x: float) -> str:
    return float.__repr__(x)  # 'nan', 'inf', '-inf', or the exact repr of a float subclass' value


_PLAIN = (str, int, float, bool, type(None))


def decode(data: Any) -> Any:
    """The value :func:`encode` was given."""
    kind = type(data)
    if kind is list:
        return [v if type(v) in _PLAIN else decode(v) for v in data]
    if kind is not dict:
        return data
    if data:
        tag = next(iter(data))
        if tag.startswith("__"):  # encode puts the tag first; plain keys never start so
            return _DECODERS[tag](data)
    return {k: v if type(v) in _PLAIN else decode(v) for k, v in data.items()}


def _dataclass(data: dict[str, Any]) -> Any:
    cls = _registry()[data["__dc"]]
    return cls(**{k: decode(v) for k, v in data["f"].items()})


_DECODERS: dict[str, Any] = {
    "__t": lambda d: tuple(decode(v) for v in d["__t"]),
    "__d": lambda d: {decode(k): decode(v) for k, v in d["__d"]},
    "__f": lambda d: float(d["__f"]),
    "__i": lambda d: int(d["__i"]),
    "__p": lambda d: Path(d["__p"]),
    "__np": lambda d: np.dtype(d["__np"]).type(decode(d["v"])),
    "__e": lambda d: _registry()[d["__e"]](d["v"]),
    "__dc": _dataclass,
}
