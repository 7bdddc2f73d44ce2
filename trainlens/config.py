"""Project configuration: ``trainlens.toml`` or ``[tool.trainlens]`` in ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.errors import TrainlensError

#: Report / message languages.
LANGS = ("en", "zh")

_KNOWN = {
    "lang",
    "aliases",
    "alias_files",
    "rules_dirs",
    "select",
    "ignore",
    "rules",
    "gate",
    "watch",
    "compare",
    "report",
    "audit",
}

#: Settings that make trainlens run code from a file (Jinja templates): honoured only from a
#: config file the user named (``--config``), never from one found by walking up the folders,
#: so that running trainlens inside an untrusted checkout never runs that checkout's code.
CODE_SETTINGS: dict[str, tuple[str, ...]] = {"report": ("templates",)}


@dataclass
class ProjectConfig:
    """Validated settings; paths inside are resolved relative to the config file."""

    path: Path | None = None
    explicit: bool = False  # named by the user (--config), not found by walking up
    #: config files passed by on the way up, settings ignored
    warnings: list[ReadWarning] = field(default_factory=list)
    lang: str | None = None
    aliases: dict[str, Any] = field(default_factory=dict)
    alias_files: list[Path] = field(default_factory=list)
    rules_dirs: list[Path] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # gate, watch, compare...

    def section(self, name: str) -> dict[str, Any]:
        """A command's own table (``[tool.trainlens.gate]``), empty when absent."""
        return dict(self.sections.get(name, {}))

    def checked_section(
        self, name: str, schema: dict[str, type | tuple[type, ...]]
    ) -> dict[str, Any]:
        """A command's table with unknown keys, wrong types and a bad ``lang`` rejected by a
        :class:`TrainlensError` naming the file (``object`` accepts any type)."""
        data = self.section(name)
        where = f"{self.path}: [{name}]" if self.path else f"[{name}]"
        unknown = set(data) - set(schema)
        if unknown:
            raise TrainlensError(
                f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(schema))})"
            )
        for key, kind in schema.items():
            kinds = kind if isinstance(kind, tuple) else (kind,)
            value = data.get(key)
            if key in data and (
                not isinstance(value, kinds)
                or (isinstance(value, bool) and bool not in kinds and object not in kinds)
            ):
                raise TrainlensError(f"{where}: {key} has the wrong type")
        if data.get("lang", "en") not in LANGS:
            raise TrainlensError(f"{where}: lang must be 'en' or 'zh'")
        return data


def find_config(
    start: Path | None = None, warnings: list[ReadWarning] | None = None
) -> Path | None:
    """The nearest ``trainlens.toml``, or ``pyproject.toml`` with ``[tool.trainlens]``, walking up
    from ``start`` (default: the working directory). A ``pyproject.toml`` that cannot be read
    or parsed is passed by with one warning added to ``warnings``: it belongs to some other
    project on the way up, not to trainlens."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "trainlens.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                tool = tomllib.loads(pyproject.read_text("utf-8")).get("tool")
                if isinstance(tool, dict) and "trainlens" in tool:
                    return pyproject
            except (OSError, UnicodeDecodeError, RecursionError, tomllib.TOMLDecodeError) as exc:
                if warnings is not None:
                    why = f"skipped while looking for a config: {_why(exc)}"
                    warnings.append(ReadWarning(str(pyproject), why))
                continue
    return None


def _why(exc: Exception) -> str:
    """A config file's read error in a few words."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError):
        return f"cannot read it ({exc.strerror or exc})"
    if isinstance(exc, RecursionError):
        return "invalid TOML: nested too deeply"
    return f"invalid TOML: {exc}"


def _list_of_str(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TrainlensError(f"{where}: expected a string or a list of strings")


def load_config(path: Path | None = None, *, search: bool = True) -> ProjectConfig:
    """Read and validate a project config (``path``, else the nearest one when ``search``).
    Any problem with the chosen file is a :class:`TrainlensError` naming it (exit 2)."""
    explicit = path is not None
    warnings: list[ReadWarning] = []
    path = path or (find_config(warnings=warnings) if search else None)
    if path is None:
        return ProjectConfig(warnings=warnings)
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, tomllib.TOMLDecodeError) as exc:
        raise TrainlensError(f"{path}: {_why(exc)}") from exc
    if path.name == "pyproject.toml":
        tool = doc.get("tool", {})
        data = tool.get("trainlens", {}) if isinstance(tool, dict) else None
    else:
        data = doc
    if not isinstance(data, dict):
        raise TrainlensError(f"{path}: [tool.trainlens] must be a table")
    unknown = set(data) - _KNOWN
    if unknown:
        raise TrainlensError(
            f"{path}: unknown setting(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KNOWN))})"
        )
    base = path.parent
    cfg = ProjectConfig(path=path, explicit=explicit, warnings=warnings)
    if "lang" in data:
        if data["lang"] not in LANGS:
            raise TrainlensError(f"{path}: lang must be 'en' or 'zh'")
        cfg.lang = data["lang"]
    if "aliases" in data:
        if not isinstance(data["aliases"], dict):
            raise TrainlensError(f"{path}: aliases must be a table of canonical = [keys]")
        cfg.aliases = data["aliases"]
    cfg.alias_files = [
        base / p for p in _list_of_str(data.get("alias_files", []), f"{path}: alias_files")
    ]
    cfg.rules_dirs = [
        base / p for p in _list_of_str(data.get("rules_dirs", []), f"{path}: rules_dirs")
    ]
    cfg.select = _list_of_str(data.get("select", []), f"{path}: select")
    cfg.ignore = _list_of_str(data.get("ignore", []), f"{path}: ignore")
    rules = data.get("rules", {})
    if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
        raise TrainlensError(f"{path}: [rules.<id>] tables of parameters expected")
    cfg.rule_params = {k: dict(v) for k, v in rules.items()}
    for name in ("gate", "watch", "compare", "report"):
        if name in data:
            if not isinstance(data[name], dict):
                raise TrainlensError(f"{path}: [{name}] must be a table")
            cfg.sections[name] = dict(data[name])
    if not explicit:
        _drop_code_settings(cfg)
    return cfg


def _drop_code_settings(cfg: ProjectConfig) -> None:
    """Leave out (with a warning) the :data:`CODE_SETTINGS` of a config found by walking up."""
    pyproject = cfg.path is not None and cfg.path.name == "pyproject.toml"
    for section, keys in CODE_SETTINGS.items():
        table = cfg.sections.get(section, {})
        shown = f"tool.trainlens.{section}" if pyproject else section
        for key in keys:
            if key in table:
                del table[key]
                cfg.warnings.append(
                    ReadWarning(
                        str(cfg.path),
                        f"[{shown}] {key} ignored: it runs code, so it is taken only from "
                        f"--{key} or a config named with --config, never from a config found "
                        "by walking up the folders",
                    )
                )
