"""A run's configuration, from whichever file its framework left: ``args.json`` (ms-swift, HF),
LLaMA-Factory's train YAML or launch script, W&B's ``config.yaml`` (every key wrapped as
``{value: ...}``), Hydra's ``.hydra/config.yaml`` (verl), or the config dump a verl console log
printed. Every file is untrusted text: JSON and ``yaml.safe_load`` only, size-bounded; a file that
cannot be read is a warning, never an error.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from trainlens.diagnostics import ReadWarning
from trainlens.readers._files import open_regular
from trainlens.readers._json import JsonError, loads

#: Config files larger than this are not parsed.
MAX_CONFIG_BYTES = 16 << 20
_WANDB_RUN = re.compile(r"^(?:offline-)?run-(\d{8}_\d{6})-\w+$")
_HYDRA_TIME = "%Y-%m-%d/%H-%M-%S"
#: How long before a W&B run started its Hydra output dir may have been created.
HYDRA_WINDOW = timedelta(hours=6)
#: LLaMA-Factory train-YAML keys (one of them, with ``stage``, marks such a file).
_LLAMAFACTORY_KEYS = ("finetuning_type", "model_name_or_path", "template", "dataset")
_LAUNCHERS = re.compile(r"(?:\btrain\.py\b|llamafactory-cli\s+train|\bswift\s+(?:sft|rlhf|pt)\b)")


@dataclass
class RunConfig:
    """The config of a run, where it came from, and what was considered and rejected."""

    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    kind: str | None = None  # args_json, llamafactory_yaml, launch_script, wandb, hydra, console
    warnings: list[ReadWarning] = field(default_factory=list)


def _read_text(path: Path, warnings: list[ReadWarning]) -> str | None:
    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            warnings.append(ReadWarning(str(path), "config larger than 16 MiB; not read"))
            return None
    except OSError as exc:
        warnings.append(ReadWarning(str(path), f"run config not read: {exc.strerror or exc}"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warnings.append(
            ReadWarning(str(path), f"run config not read: not UTF-8 (byte {exc.start})")
        )
        return None


def load_json_config(path: Path, warnings: list[ReadWarning]) -> dict[str, Any]:
    """``args.json``: a JSON object."""
    text = _read_text(path, warnings)
    if text is None:
        return {}
    try:
        config = loads(text.encode("utf-8")).value  # depth-bounded; NaN accepted
    except JsonError as exc:
        warnings.append(ReadWarning(str(path), f"run config not read: {exc} (byte {exc.pos})"))
        return {}
    if not isinstance(config, dict):
        warnings.append(ReadWarning(str(path), "run config is not a JSON object; ignored"))
        return {}
    return config


def load_yaml_config(path: Path, warnings: list[ReadWarning]) -> dict[str, Any]:
    """A YAML mapping (``yaml.safe_load``)."""
    text = _read_text(path, warnings)
    if text is None:
        return {}
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.append(ReadWarning(str(path), f"run config not read: invalid YAML ({first})"))
        return {}
    if not isinstance(doc, dict):
        warnings.append(ReadWarning(str(path), "run config is not a YAML mapping; ignored"))
        return {}
    return {str(k): v for k, v in doc.items()}


def unwrap_wandb(doc: dict[str, Any]) -> dict[str, Any]:
    """W&B's ``config.yaml`` as the plain config: ``key: {value: x}`` → ``key: x``; W&B's own
    ``_wandb`` entry (CLI args, machine, the user's e-mail) and other ``_`` keys are dropped."""
    out: dict[str, Any] = {}
    for key, item in doc.items():
        if str(key).startswith("_"):
            continue
        out[str(key)] = item["value"] if isinstance(item, dict) and "value" in item else item
    return out


def _scalar(text: str) -> Any:
    """A command-line value as the program would parse it: int, float, bool, None or text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    return text


def parse_launch_script(text: str) -> dict[str, Any]:
    """``--key value`` arguments of the training command in a shell script (``train.py``,
    ``llamafactory-cli train``, ``swift sft``): ``--flag`` alone is ``True``."""
    joined = re.sub(r"\\\r?\n", " ", text)
    for line in joined.splitlines():
        if not _LAUNCHERS.search(line) or line.lstrip().startswith("#"):
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        args: dict[str, Any] = {}
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.startswith("--") and len(tok) > 2:
                name, eq, inline = tok[2:].partition("=")
                if eq:
                    args[name] = _scalar(inline)
                elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                    args[name] = _scalar(tokens[i + 1])
                    i += 1
                else:
                    args[name] = True
            i += 1
        if args:
            return args
    return {}


def _llamafactory_epochs(log_meta: dict[str, Any], last_epoch: float | None) -> float | None:
    """Epochs the logged run was set up for: total steps × (epoch / step) at its last row."""
    total = log_meta.get("max_steps")
    done = (log_meta.get("progress") or {}).get("done")
    if not total or not done or not last_epoch:
        return None
    return float(total) * float(last_epoch) / float(done)


def _consistent(
    config: dict[str, Any], epochs: float | None, max_steps: int | None
) -> tuple[bool, str]:
    """Whether a candidate config matches the logged run (epochs, or max_steps when set)."""
    cfg_steps = config.get("max_steps")
    if isinstance(cfg_steps, int) and cfg_steps > 0 and max_steps:
        return cfg_steps == max_steps, f"max_steps {cfg_steps}, but the log has {max_steps}"
    cfg_epochs = config.get("num_train_epochs")
    if isinstance(cfg_epochs, (int, float)) and not isinstance(cfg_epochs, bool) and epochs:
        ok = abs(float(cfg_epochs) - epochs) <= 0.02 * max(epochs, 1.0)
        return ok, f"num_train_epochs {cfg_epochs:g}, but the log covers {epochs:.3g} epochs"
    return True, ""


def llamafactory_config(
    root: Path, log_meta: dict[str, Any], last_epoch: float | None
) -> RunConfig:
    """LLaMA-Factory's config for the run logged in ``root``: ``training_args.yaml`` (written by
    LLaMA-Factory into the output dir), else a train YAML or a launch script in the same folder
    whose epochs (or max_steps) match the log; a candidate that contradicts the log is named in
    a warning and not used."""
    out = RunConfig()
    own = root / "training_args.yaml"
    if own.is_file():
        out.values, out.path, out.kind = load_yaml_config(own, out.warnings), own, "llamafactory"
        return out
    epochs = _llamafactory_epochs(log_meta, last_epoch)
    candidates: list[tuple[Path, str, dict[str, Any]]] = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if not path.is_file():
            continue
        if path.suffix in (".yaml", ".yml"):
            doc = load_yaml_config(path, [])
            if "stage" in doc and any(k in doc for k in _LLAMAFACTORY_KEYS):
                candidates.append((path, "llamafactory_yaml", doc))
        elif path.suffix == ".sh":
            text = _read_text(path, [])
            args = parse_launch_script(text or "")
            if "stage" in args:
                candidates.append((path, "launch_script", args))
    for path, kind, doc in candidates:
        ok, why = _consistent(doc, epochs, log_meta.get("max_steps"))
        if ok:
            out.values, out.path, out.kind = doc, path, kind
            return out
        out.warnings.append(ReadWarning(str(path), f"not this run's config ({why}); not used"))
    return out


def wandb_run_time(run_dir: Path) -> datetime | None:
    """The start time in a W&B run folder's name (``run-20251203_214315-<id>``)."""
    m = _WANDB_RUN.match(run_dir.name)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%d_%H%M%S")
    except ValueError:
        return None


def hydra_dir_for(run_dir: Path) -> Path | None:
    """The Hydra output dir (``outputs/<date>/<time>/.hydra``) of the job that started a W&B run:
    the latest one created at most :data:`HYDRA_WINDOW` before the run, beside its ``wandb/``."""
    started = wandb_run_time(run_dir)
    wandb_dir = run_dir.parent
    if started is None or wandb_dir.name != "wandb":
        return None
    outputs = wandb_dir.parent / "outputs"
    best: tuple[datetime, Path] | None = None
    try:
        days = [d for d in outputs.iterdir() if d.is_dir()]
    except OSError:
        return None
    for day in days:
        try:
            times = [t for t in day.iterdir() if (t / ".hydra" / "config.yaml").is_file()]
        except OSError:
            continue
        for t in times:
            try:
                created = datetime.strptime(f"{day.name}/{t.name}", _HYDRA_TIME)
            except ValueError:
                continue
            if started - HYDRA_WINDOW <= created <= started and (best is None or created > best[0]):
                best = (created, t / ".hydra")
    return best[1] if best else None


def hydra_config(hydra: Path, warnings: list[ReadWarning]) -> dict[str, Any]:
    """``.hydra/config.yaml`` (the resolved config) of a Hydra run."""
    return load_yaml_config(hydra / "config.yaml", warnings)
