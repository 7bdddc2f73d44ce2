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


#: What ``--help``, shell completion and building the app must never import.
HEAVY = ("numpy", "pandas", "scipy", "matplotlib", "torch", "transformers", "tbparse", "jinja2")

HELP_EVERYWHERE = r"""
import contextlib, io, os, sys
import typer.main
from trainlens.cli import app

def paths(cmd, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from paths(sub, (*prefix, name))

helped = []
for path in paths(typer.main.get_command(app)):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            app([*path, "--help"], prog_name="trainlens", standalone_mode=False)
        except SystemExit:
            pass
    assert "Usage: trainlens" in out.getvalue(), (path, out.getvalue())
    helped.append(" ".join(path))
os.environ.update(_TRAINLENS_COMPLETE="complete_bash", COMP_WORDS="trainlens gate --fail-o",
                  COMP_CWORD="2")
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        app(prog_name="trainlens")
    except SystemExit:
        pass
assert "--fail-on-severity" in out.getvalue(), out.getvalue()
print("HELPED:" + ",".join(helped))
print("LOADED:" + ",".join(sorted(m for m in sys.argv[1:] if m in sys.modules)))
"""


def test_help_of_every_command_and_completion_import_nothing_heavy() -> None:
    """``trainlens --help``, ``trainlens <cmd> [<sub>] --help`` and shell completion build the
    app and print without numpy, pandas, scipy, matplotlib, torch or tbparse: every command
    imports what it needs when it runs."""
    out = subprocess.run(
        [sys.executable, "-c", HELP_EVERYWHERE, *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    helped = out.stdout.split("HELPED:", 1)[1].splitlines()[0].split(",")
    assert {"", "gate", "analyze", "audit log", "replay kl", "rules show"} <= set(helped)
    assert "LOADED:\n" in out.stdout, out.stdout[-2000:]


def test_the_check_sees_a_heavy_import() -> None:
    """The check above can fail: a command module that imports pandas is caught."""
    code = HELP_EVERYWHERE.replace("import typer.main", "import typer.main, pandas")
    out = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LOADED:numpy,pandas" in out.stdout
