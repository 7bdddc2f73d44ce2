"""Imports every command module so each registers itself on the typer app."""

from importlib import import_module

# Modules are added as their commands land; a module not written yet is skipped.
_MODULES = ("metrics_cmd", "analyze_cmd", "rules_cmd", "report_cmd", "gate_cmd", "watch_cmd",
            "compare_cmd", "replay_cmd")
for _name in _MODULES:
    try:
        import_module(f"trainlens.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"trainlens.cli.{_name}":
            raise
