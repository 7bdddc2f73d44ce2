"""Test helpers that write logs exactly as the frameworks do (no network, no real jobs)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def fmt_duration(seconds: float) -> str:
    """ms-swift's ``"{d}d {h}h {m}m {s}s"`` with leading zero units dropped."""
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts, started = [], False
    for value, unit in ((d, "d"), (h, "h"), (m, "m")):
        if value or started:
            parts.append(f"{value}{unit}")
            started = True
    parts.append(f"{s}s")
    return " ".join(parts)


def swift_line(
    step: int, max_steps: int, metrics: dict[str, float], *, elapsed: float = 10.0, version: int = 3
) -> str:
    """One ms-swift train line (v3: iter/s and percentage; v4: s/it, no percentage)."""
    row: dict[str, Any] = {
        k: (round(v, 8) if isinstance(v, float) and math.isfinite(v) else v)
        for k, v in metrics.items()
    }
    row["global_step/max_steps"] = f"{step}/{max_steps}"
    if version == 3:
        row["percentage"] = f"{100 * step / max_steps:.2f}%"
    row["elapsed_time"] = fmt_duration(elapsed)
    row["remaining_time"] = fmt_duration(elapsed * (max_steps - step) / max(step, 1))
    if version == 3:
        row["train_speed(iter/s)"] = round(step / elapsed, 6)
    else:
        row["train_speed(s/it)"] = round(elapsed / step, 6)
    return json.dumps(row)  # Python's json writes NaN / Infinity literals, as ms-swift does


def write_swift_run(
    out: Path,
    rows: Iterable[tuple[int, dict[str, float]]],
    max_steps: int,
    *,
    args: dict[str, Any] | None = None,
    summary: bool = True,
    version: int = 3,
) -> Path:
    """An ms-swift output dir: logging.jsonl (+ end-of-training line and summary record)."""
    out.mkdir(parents=True, exist_ok=True)
    lines, history = [], []
    for step, metrics in rows:
        lines.append(swift_line(step, max_steps, metrics, elapsed=5.0 * step, version=version))
        history.append({**metrics, "step": step})
    if summary:
        end = {
            "train_runtime": 123.4,
            "train_samples_per_second": 1.5,
            "train_steps_per_second": 0.2,
            "total_flos": 1.0e15,
            "train_loss": 0.5,
            "epoch": 1.0,
            "global_step/max_steps": f"{max_steps}/{max_steps}",
        }
        lines.append(json.dumps(end))
        lines.append(
            json.dumps(
                {
                    "last_model_checkpoint": str(out / f"checkpoint-{max_steps}"),
                    "best_model_checkpoint": None,
                    "best_metric": None,
                    "global_step": max_steps,
                    "log_history": history,
                    "memory": 12.5,
                }
            )
        )
    (out / "logging.jsonl").write_text("\n".join(lines) + "\n")
    if args is not None:
        (out / "args.json").write_text(json.dumps(args, indent=2))
    return out


def write_trainer_state(path: Path, history: list[dict[str, Any]], **fields: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "global_step": max((h.get("step", 0) for h in history), default=0),
        "max_steps": 100,
        "log_history": history,
        "best_metric": None,
        "best_model_checkpoint": None,
        **fields,
    }
    path.write_text(json.dumps(state, indent=2))
    return path
