"""trainlens: read LLM training logs and explain what went wrong, where, and what to do about it."""

from trainlens._version import __version__

__all__ = ["__version__"]
