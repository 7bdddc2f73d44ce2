"""trainlens: read LLM training logs and explain what went wrong, where, and what to do about it.

The library API (the CLI is a thin layer over it)::

    import trainlens
    result = trainlens.load_runs("output/")      # runs + warnings; never raises on bad records
    analysis = trainlens.analyze("output/")      # findings, skipped rules, warnings
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainlens._version import __version__

if TYPE_CHECKING:
    from trainlens.analysis import Analysis, analyze, analyze_runs
    from trainlens.load import LoadResult, load_runs

__all__ = ["Analysis", "LoadResult", "__version__", "analyze", "analyze_runs", "load_runs"]

_LAZY = {
    "load_runs": "trainlens.load",
    "LoadResult": "trainlens.load",
    "analyze": "trainlens.analysis",
    "analyze_runs": "trainlens.analysis",
    "Analysis": "trainlens.analysis",
}


def __getattr__(name: str) -> Any:
    """Import the heavy modules (pandas, scipy) only when their API is used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trainlens' has no attribute {name!r}")
