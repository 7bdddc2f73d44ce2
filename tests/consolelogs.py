"""Writers of console logs in the exact shapes the frameworks print them (see the comments), for
the reader, discovery and command tests."""

from __future__ import annotations

import json
import pprint
from pathlib import Path
from typing import Any

ESC = "\x1b"


def tqdm_line(done: int, total: int, rate: float = 2.5) -> str:
    """One tqdm redraw as tqdm writes it: ``\\r 20%|██        | 40/200 [02:18<07:14, 2.72s/it]``."""
    pct = int(100 * done / total)
    bar = "█" * (pct // 10)
    return f"\r{pct:3d}%|{bar:<10}| {done}/{total} [00:{done % 60:02d}<00:10,  {rate:.2f}s/it]"


def hf_dict(values: dict[str, Any], *, strings: bool = False) -> str:
    """``ProgressCallback.on_log``: ``str(shallow_logs)``; transformers >= 5 formats every float
    with ``f"{v:.4g}"`` (checked in transformers 5.0.0 ``trainer_callback.py``)."""
    if strings:
        values = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in values.items()}
    return str(values)


def write_hf_console(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    total: int,
    interval: int,
    strings: bool = False,
    buffered: int = 0,
    summary: bool = True,
    ansi: bool = False,
    markdown: bool = False,
) -> Path:
    """A Trainer's console: a tqdm bar on stderr and one dict per logging step on stdout.
    ``buffered``: stdout flushed every that many dicts (block buffering when redirected), so the
    dicts arrive after the bar has moved on; 0: each dict right after its step's redraw."""
    out: list[str] = [
        "loading configuration file config.json",
        "{'bos_token_id': None, 'pad_token_id': 151643}",
    ]
    pending: list[str] = []
    bar = ""
    row = iter(rows)
    for step in range(1, total + 1):
        bar += tqdm_line(step, total)
        if step % interval == 0:
            values = next(row, None)
            if values is None:
                continue
            text = hf_dict(values, strings=strings)
            if buffered:
                pending.append(text)
                if len(pending) == buffered:
                    out.append(bar + "\r" + " " * 48 + "\r" + "\n".join(pending))
                    bar, pending = "", []
            else:
                out.append(bar + "\r" + " " * 48 + "\r" + text)
                bar = ""
    if bar:
        out.append(bar)
    out.extend(pending)
    if summary:
        out.append(
            hf_dict(
                {
                    "train_runtime": 12.5,
                    "train_samples_per_second": 3.2,
                    "train_loss": 0.5,
                    "epoch": 1.0,
                },
                strings=strings,
            )
        )
    text = "\n".join(out) + "\n"
    if ansi:
        text = text.replace("loading", f"{ESC}[32mloading{ESC}[0m")
    if markdown:
        text = (
            "# run notes\n\n```text\n"
            + "\n".join("    " + ln for ln in text.splitlines())
            + "\n```\n"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def verl_step_line(step: int, values: dict[str, float], *, old: bool = False) -> str:
    """verl ``concat_dict_to_str``: ``step:N - k:v - ...``; older verl ``f'{v:.3f}'``, newer
    ``pprint.pformat(v)`` (numpy 2 scalars print as ``np.float64(...)``)."""
    parts = [f"step:{step}"]
    for k, v in values.items():
        parts.append(f"{k}:{v:.3f}" if old else f"{k}:np.float64({v!r})")
    return " - ".join(parts)


def ray(line: str, worker: str = "TaskRunner pid=14640") -> str:
    """A Ray worker's stdout line: ``\\x1b[36m(TaskRunner pid=N)\\x1b[0m ...``."""
    return f"{ESC}[36m({worker}){ESC}[0m {line}"


def write_verl_console(
    path: Path,
    steps: list[tuple[int, dict[str, float]]],
    *,
    config: dict[str, Any] | None = None,
    old: bool = False,
    prefixed: bool = True,
) -> Path:
    """A verl ``main_ppo`` console: the pprint'ed config dump (``pprint(OmegaConf.to_container
    (config))`` in ``main_ppo.py``) then the step lines, Ray-prefixed, interleaved with a worker."""
    lines: list[str] = []
    if config is not None:
        for text in pprint.pformat(config).splitlines():
            lines.append(ray(text) if prefixed else text)
            lines.append(ray("INFO loading weights", "WorkerDict pid=99"))
    for step, values in steps:
        text = verl_step_line(step, values, old=old)
        lines.append(ray(text) if prefixed else text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_llamafactory_log(path: Path, rows: list[dict[str, Any]]) -> Path:
    """LLaMA-Factory ``LogCallback``: ``f.write(json.dumps(logs) + "\\n")`` per log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path
