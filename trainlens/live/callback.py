"""``TrainlensCallback``: a :class:`transformers.TrainerCallback` (HF Trainer, TRL, ms-swift)
that feeds every ``on_log`` dict to a :class:`~trainlens.live.Monitor`, prints each new finding
once, and when a policy fails asks the trainer to save a checkpoint and stop. transformers is
imported here only (the ``live`` extra)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "TrainlensCallback needs transformers: pip install 'trainlens[live]'"
    ) from exc

from trainlens.live.monitor import Monitor
from trainlens.live.output import write_findings, write_postmortem

FINDINGS_FILE = "trainlens_findings.json"
ON_FAIL = ("stop", "warn")


class TrainlensCallback(TrainerCallback):  # type: ignore[misc]
    """Watch a training run from inside the trainer.

    ``fail_on``: policies in the ``trainlens gate`` grammar (``"kl>10 for 3"``);
    ``on_fail="stop"`` stops training at the failing step (``"warn"`` only reports);
    ``save_on_fail`` saves a checkpoint at that step; ``rules`` runs the rule engine too;
    ``report_dir``: where the findings JSON and a postmortem go (default: the findings JSON
    only, in the trainer's ``output_dir``). Other keyword arguments go to :class:`Monitor`
    (``fail_on_severity``, ``fail_on_rule``, ``config``, ``lang``, ``rules_every`` ...).
    Every rank evaluates the same logs (so all stop together); only the main process prints
    and writes files."""

    def __init__(
        self,
        fail_on: Sequence[str] = (),
        *,
        on_fail: str = "stop",
        save_on_fail: bool = True,
        rules: bool = True,
        report_dir: str | Path | None = None,
        stream: Any = None,
        **monitor: Any,
    ) -> None:
        if on_fail not in ON_FAIL:
            raise ValueError(f"on_fail must be one of {', '.join(ON_FAIL)}, not {on_fail!r}")
        self.monitor = Monitor(fail_on, rules=rules, **monitor)
        self.on_fail = on_fail
        self.save_on_fail = save_on_fail
        self.report_dir = Path(report_dir) if report_dir is not None else None
        self.stream = stream
        self.written: list[Path] = []

    # -------------------------------------------------------------------------- events

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        try:
            mon = self.monitor
            mon.path = Path(args.output_dir)
            if mon.name == "live":
                mon.name = mon.path.name or "live"
            mon.framework = mon.framework or "hf-trainer"
            mon.max_steps = int(state.max_steps) if state.max_steps else None
            if not mon.run_config:
                mon.run_config = {k: v for k, v in args.to_dict().items() if _plain(v)}
        except Exception as exc:  # noqa: BLE001
            self.monitor.disable(exc)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step not in self.monitor.checkpoints:
            self.monitor.checkpoints.append(int(state.global_step))

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not logs or self.monitor.disabled:
            return
        was_failed = bool(self.monitor.failed)
        found = self.monitor.log(state.global_step, logs)
        self._say(state, found)
        if self.monitor.failed and not was_failed:
            self._on_failure(args, state, control)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._say(state, self.monitor.check())
        self._write(args, state)

    # ------------------------------------------------------------------------- helpers

    def _on_failure(self, args: Any, state: Any, control: Any) -> None:
        try:
            if self.save_on_fail:
                control.should_save = True
            if self.on_fail == "stop":
                control.should_training_stop = True
            if state.is_world_process_zero:
                verb = "stopping training" if self.on_fail == "stop" else "training goes on"
                saved = " after saving a checkpoint" if self.save_on_fail else ""
                self._print(f"trainlens: policy failed at step {state.global_step}; {verb}{saved}")
            self._say(state, self.monitor.check())
            self._write(args, state)
        except Exception as exc:  # noqa: BLE001
            self.monitor.disable(exc)

    def _say(self, state: Any, findings: list[Any]) -> None:
        if not getattr(state, "is_world_process_zero", True):
            self.monitor.pop_notes()
            return
        for f in findings:
            self._print(self.monitor.describe(f))
        for note in self.monitor.pop_notes():
            self._print(f"trainlens: warning: {note}")

    def _write(self, args: Any, state: Any) -> None:
        if not getattr(state, "is_world_process_zero", True):
            return
        try:
            folder = self.report_dir or Path(args.output_dir)
            paths: list[Path | None] = [write_findings(self.monitor, folder / FINDINGS_FILE)]
            if self.report_dir is not None:
                paths.append(write_postmortem(self.monitor, self.report_dir))
            self.written += [p for p in paths if p is not None and p not in self.written]
        except Exception as exc:  # noqa: BLE001 - a full disk must not kill the run
            self._print(f"trainlens: warning: could not write the findings ({exc})")

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))
