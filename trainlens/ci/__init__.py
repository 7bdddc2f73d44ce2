"""CI integration: ``action.sh``, the steps of the GitHub Action (``action.yml`` at the
repository root), kept here so they can be run and tested without GitHub."""

from __future__ import annotations

from pathlib import Path

#: The script the composite action runs (``gate``, ``link URL``, ``finish CODE``).
ACTION_SCRIPT = Path(__file__).with_name("action.sh")
