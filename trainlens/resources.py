"""Locate the data folders (``rules/``, ``templates/``) in a wheel or a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def _data_dir(name: str) -> Path:
    installed = _PACKAGE_DIR / "_data" / name  # wheel: force-included by pyproject.toml
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / name  # editable install / source checkout
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"trainlens data folder {name!r} not found (broken installation?)")


def rules_dir() -> Path:
    """The built-in ``rules/`` folder: ``metrics.yaml`` and one YAML file per rule."""
    return _data_dir("rules")


def templates_dir() -> Path:
    """The built-in Jinja2 ``templates/`` folder."""
    return _data_dir("templates")
