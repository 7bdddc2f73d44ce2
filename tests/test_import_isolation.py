"""torch and transformers stay out of everything but the replay harness and the Trainer
callback: ``trainlens --help``, ``trainlens replay --help`` and every other module import
without them."""

from __future__ import annotations

import subprocess
import sys

CHECK = r"""
import importlib, pkgutil, sys
import trainlens
from trainlens.cli import app
HELPS = (["--help"], ["replay", "--help"], ["replay", "score", "--help"],
         ["replay", "kl", "--help"])
for args in HELPS:
    try:
        app(args, standalone_mode=False)
    except SystemExit:
        pass
TORCH_FREE_REPLAY = {"batch", "encode", "scores", "findings", "estimators"}
for mod in pkgutil.walk_packages(trainlens.__path__, "trainlens."):
    parts = mod.name.split(".")
    if parts[1] == "replay" and len(parts) > 2 and parts[2] not in TORCH_FREE_REPLAY:
        continue
    if parts[1] in ("__main__",):
        continue
    if mod.name == "trainlens.live.callback":  # a TrainerCallback: runs where transformers is
        continue
    importlib.import_module(mod.name)
heavy = sorted(m for m in ("torch", "transformers", "tokenizers") if m in sys.modules)
print("HEAVY:" + ",".join(heavy))
"""


def test_cli_and_non_replay_modules_do_not_import_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY:\n" in out.stdout, out.stdout[-2000:]
    assert "replay" in out.stdout  # the group is registered and its help printed


def test_version_answers_before_any_heavy_import() -> None:
    """``trainlens --version`` (a CI step's first call) imports neither typer nor pandas."""
    code = (
        "import sys; sys.argv = ['trainlens', '--version']\n"
        "from trainlens.cli import main; main()\n"
        "print(sorted(m for m in ('typer', 'pandas', 'numpy', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    version, loaded = out.stdout.splitlines()
    assert version.startswith("trainlens ") and loaded == "[]"
