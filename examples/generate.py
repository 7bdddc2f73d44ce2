#!/usr/bin/env python3
"""Generate the example training runs shipped in ``examples/``.

Each scenario is written in the on-disk format of the framework that would have produced it:

* ms-swift output directories (``args.json``, ``logging.jsonl``,
  ``checkpoint-N/trainer_state.json``),
* ms-swift with ``--report_to tensorboard`` (HF TensorBoard callback tags ``train/...`` under
  ``runs/``),
* verl TensorBoard logdirs (``tensorboard_log/<project>/<experiment>/``) with ``global_step_N/``
  folders,
* a custom critic warm-up writing its own ``critic/...`` TensorBoard tags.

The script is deterministic: fixed seeds (``numpy.random.default_rng``), explicit wall times, fixed
event-file names and no hidden timestamps, so two runs give byte-identical files. It removes and
recreates only the scenario directories listed in ``SCENARIOS``; ``examples/README.md`` (hand
written) describes each scenario and what an analysis should find.

Usage::

    python examples/generate.py            # all scenarios
    python examples/generate.py sft_overfit critic_warmup
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent

# Fixed identity of every event file: events.out.tfevents.<EVENT_TIME>.<EVENT_HOST><EVENT_SUFFIX>
EVENT_TIME = 1700000000
EVENT_HOST = "examplehost"
EVENT_SUFFIX = ".1.0"


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------


def r8(x: float) -> float:
    """ms-swift rounds every float of a logging.jsonl line to 8 decimals."""
    return round(float(x), 8)


def f32(x: float) -> float:
    """A value that went through a float32 tensor and ``.item()`` (as HF logs loss / grad_norm)."""
    return float(np.float32(x))


def swift_time(seconds: float) -> str:
    """ms-swift ``format_time``: leading zero units are dropped ("2s", "1m 8s", "1d 2h 3m 4s")."""
    seconds = float(seconds)
    days = int(seconds // 86400)
    hours = int((seconds % 86400) // 3600)
    minutes = int((seconds % 3600) // 60)
    secs = int(seconds % 60)
    if days > 0:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours > 0:
        return f"{hours}h {minutes}m {secs}s"
    if minutes > 0:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def cosine_lr(step: int, max_steps: int, base: float, warmup_ratio: float) -> float:
    """HF ``get_cosine_schedule_with_warmup`` value after ``step`` scheduler steps."""
    warmup = math.ceil(max_steps * warmup_ratio)
    if step < warmup:
        return base * step / max(1, warmup)
    progress = (step - warmup) / max(1, max_steps - warmup)
    return base * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def constant_with_warmup_lr(step: int, max_steps: int, base: float, warmup_ratio: float) -> float:
    """HF ``get_constant_schedule_with_warmup`` value after ``step`` scheduler steps."""
    warmup = math.ceil(max_steps * warmup_ratio)
    if step < warmup:
        return base * step / max(1, warmup)
    return base


def logged_steps(max_steps: int, every: int) -> list[int]:
    """HF logs the first step (logging_first_step, on by default in ms-swift) and every N steps."""
    steps = [1] + list(range(every, max_steps + 1, every))
    return sorted(set(steps))


def write_json(path: Path, obj: Any, indent: int | None = 2, sort_keys: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=sort_keys)
    path.write_text(text + "\n", encoding="utf-8")


def quantize(x: float, n: int) -> float:
    """Mean of ``n`` discrete outcomes (a share such as k/n)."""
    return round(float(x) * n) / n


# ----------------------------------------------------------------------------------------------
# TensorBoard writing without hidden timestamps
# ----------------------------------------------------------------------------------------------


@contextmanager
def deterministic_summary_writer(logdir: Path) -> Iterator[Any]:
    """A tensorboardX SummaryWriter whose event file has a fixed name and a fixed file_version time.

    tensorboardX stamps the event file name and the first (file_version) event with time.time() and
    socket.gethostname(); both are patched while the file writer is created. Every scalar is then
    written with an explicit walltime by the caller.
    """
    from tensorboardX import SummaryWriter
    from tensorboardX import event_file_writer as efw

    logdir.mkdir(parents=True, exist_ok=True)
    fake_time = SimpleNamespace(time=lambda: float(EVENT_TIME))
    fake_socket = SimpleNamespace(gethostname=lambda: EVENT_HOST)
    # SummaryWriter creates its file writer (file name + file_version event) in the constructor.
    with mock.patch.object(efw, "time", fake_time), mock.patch.object(efw, "socket", fake_socket):
        writer = SummaryWriter(logdir=str(logdir), filename_suffix=EVENT_SUFFIX, flush_secs=3600)
    try:
        yield writer
    finally:
        writer.flush()
        writer.close()
    expected = logdir / f"events.out.tfevents.{EVENT_TIME}.{EVENT_HOST}{EVENT_SUFFIX}"
    if not expected.exists():  # pragma: no cover - guards against a tensorboardX API change
        raise RuntimeError(f"event file not written as {expected}")


def add_scalar(writer: Any, tag: str, value: float, step: int, walltime: float) -> None:
    """Write one scalar the way torch.utils.tensorboard does (``simple_value``, tag unchanged).

    tensorboardX's own ``add_scalar`` rewrites characters outside ``[-/\\w.]`` (``mean@1`` would
    become ``mean_1``); the frameworks log through torch's writer, which keeps the tag verbatim.
    """
    from tensorboardX.proto.summary_pb2 import Summary

    summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
    writer._get_file_writer().add_summary(summary, int(step), float(walltime))


# ----------------------------------------------------------------------------------------------
# ms-swift logging.jsonl / trainer_state.json writer
# ----------------------------------------------------------------------------------------------


class SwiftRun:
    """Accumulates what ms-swift writes: logging.jsonl lines, HF log_history, checkpoint states."""

    def __init__(
        self,
        out: Path,
        *,
        output_dir: str,
        max_steps: int,
        steps_per_epoch: float,
        logging_steps: int,
        save_steps: int,
        eval_steps: int,
        num_train_epochs: float,
        train_batch_size: int,
        seconds: Callable[[int], float],
        memory: Callable[[int], float],
    ) -> None:
        self.out = out
        self.output_dir = output_dir
        self.max_steps = max_steps
        self.steps_per_epoch = steps_per_epoch
        self.logging_steps = logging_steps
        self.save_steps = save_steps
        self.eval_steps = eval_steps
        self.num_train_epochs = num_train_epochs
        self.train_batch_size = train_batch_size
        self.seconds = seconds  # elapsed wall seconds at a step
        self.memory = memory  # reported memory(GiB) at a step
        self.lines: list[str] = []
        self.log_history: list[dict[str, Any]] = []
        self.best_metric: float | None = None
        self.best_global_step: int | None = None
        self.best_model_checkpoint: str | None = None
        self.saved: list[int] = []
        self.max_memory = 0.0

    def epoch(self, step: int) -> float:
        return step / self.steps_per_epoch

    def _progress(self, step: int, extra_seconds: float = 0.0) -> dict[str, Any]:
        elapsed = self.seconds(step) + extra_seconds
        mem = round(self.memory(step), 2)
        self.max_memory = max(self.max_memory, mem)
        remaining = elapsed / step * (self.max_steps - step)
        return {
            "global_step/max_steps": f"{step}/{self.max_steps}",
            "percentage": f"{step / self.max_steps * 100:.2f}%",
            "elapsed_time": swift_time(elapsed),
            "remaining_time": swift_time(remaining),
            "memory(GiB)": mem,
            "train_speed(iter/s)": round(step / elapsed, 6),
        }

    def _emit(self, step: int, logs: dict[str, Any], extra_seconds: float = 0.0) -> None:
        entry = dict(logs)
        entry["step"] = step
        self.log_history.append(entry)
        line = {k: (r8(v) if isinstance(v, float) else v) for k, v in logs.items()}
        line.update(self._progress(step, extra_seconds))
        self.lines.append(json.dumps(line, ensure_ascii=False))

    def train(self, step: int, metrics: dict[str, Any]) -> None:
        logs = dict(metrics)
        logs["epoch"] = self.epoch(step)
        self._emit(step, logs)

    def evaluate(
        self,
        step: int,
        metrics: dict[str, Any],
        eval_seconds: float,
        metric_for_best: str | None = None,
    ) -> None:
        logs = dict(metrics)
        logs["epoch"] = self.epoch(step)
        self._emit(step, logs, extra_seconds=eval_seconds)
        if metric_for_best is not None:
            value = r8(metrics[metric_for_best])
            if self.best_metric is None or value < self.best_metric:
                self.best_metric = value
                self.best_global_step = step

    def checkpoint(self, step: int, history_tail: int | None = None) -> None:
        """Write checkpoint-<step>/trainer_state.json (no weights) as HF does at save time.

        HF keeps the whole log_history up to ``step``; ``history_tail`` keeps only the last entries
        (used for the 6000-step run, whose full histories would be megabytes).
        """
        self.saved.append(step)
        if self.best_global_step is not None and self.best_global_step in self.saved:
            self.best_model_checkpoint = f"{self.output_dir}/checkpoint-{self.best_global_step}"
        history = [e for e in self.log_history if e["step"] <= step]
        if history_tail is not None:
            history = history[-history_tail:]
        state = {
            "best_global_step": self.best_global_step,
            "best_metric": self.best_metric,
            "best_model_checkpoint": self.best_model_checkpoint,
            "epoch": self.epoch(step),
            "eval_steps": self.eval_steps,
            "global_step": step,
            "is_hyper_param_search": False,
            "is_local_process_zero": True,
            "is_world_process_zero": True,
            "log_history": history,
            "logging_steps": self.logging_steps,
            "max_steps": self.max_steps,
            "num_input_tokens_seen": 0,
            "num_train_epochs": self.num_train_epochs,
            "save_steps": self.save_steps,
            "stateful_callbacks": {
                "TrainerControl": {
                    "args": {
                        "should_epoch_stop": False,
                        "should_evaluate": False,
                        "should_log": False,
                        "should_save": True,
                        "should_training_stop": step >= self.max_steps,
                    },
                    "attributes": {},
                }
            },
            "total_flos": self.total_flos(step),
            "train_batch_size": self.train_batch_size,
            "trial_name": None,
            "trial_params": None,
        }
        write_json(self.out / f"checkpoint-{step}" / "trainer_state.json", state, sort_keys=True)

    flops_per_step: float = 0.0

    def total_flos(self, step: int) -> float:
        return float(self.flops_per_step * step)

    def finish(
        self,
        train_loss: float,
        samples_per_step: int,
        summary_head: dict[str, Any],
        final_eval_seconds: float = 0.0,
    ) -> None:
        """HF's end-of-training line, then ms-swift's final summary record."""
        step = self.max_steps
        runtime = self.seconds(step) + final_eval_seconds + 3.2
        logs = {
            "train_runtime": round(runtime, 4),
            "train_samples_per_second": round(samples_per_step * step / runtime, 3),
            "train_steps_per_second": round(step / runtime, 3),
            "total_flos": self.total_flos(step),
            "train_loss": train_loss,
            "epoch": self.epoch(step),
        }
        self._emit(step, logs, extra_seconds=final_eval_seconds + 3.2)
        summary = dict(summary_head)
        summary.update(
            {
                "last_model_checkpoint": f"{self.output_dir}/checkpoint-{self.saved[-1]}",
                "best_model_checkpoint": self.best_model_checkpoint,
                "best_metric": self.best_metric,
                "global_step": step,
                "log_history": self.log_history,
                "memory": self.max_memory,
            }
        )
        self.lines.append(json.dumps(summary, ensure_ascii=False))
        (self.out / "logging.jsonl").write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def swift_args(overrides: dict[str, Any]) -> dict[str, Any]:
    """A realistic subset of an ms-swift 3.x args.json (the real file has ~350 keys)."""
    out_dir = overrides["output_dir"]
    args: dict[str, Any] = {
        "output_dir": out_dir,
        "overwrite_output_dir": False,
        "do_train": False,
        "do_eval": False,
        "do_predict": False,
        "eval_strategy": "no",
        "prediction_loss_only": False,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "gradient_accumulation_steps": 2,
        "eval_accumulation_steps": None,
        "learning_rate": 1e-06,
        "weight_decay": 0.1,
        "adam_beta1": 0.9,
        "adam_beta2": 0.95,
        "adam_epsilon": 1e-08,
        "max_grad_norm": 1.0,
        "num_train_epochs": 1.0,
        "max_steps": -1,
        "lr_scheduler_type": "cosine",
        "lr_scheduler_kwargs": None,
        "warmup_ratio": 0.05,
        "warmup_steps": 0,
        "log_level": "passive",
        "logging_dir": f"{out_dir}/runs",
        "logging_strategy": "steps",
        "logging_first_step": True,
        "logging_steps": 5,
        "logging_nan_inf_filter": True,
        "save_strategy": "steps",
        "save_steps": 500.0,
        "save_total_limit": None,
        "save_only_model": False,
        "seed": 42,
        "data_seed": 42,
        "bf16": True,
        "fp16": False,
        "eval_steps": 500.0,
        "dataloader_num_workers": 4,
        "run_name": out_dir,
        "disable_tqdm": None,
        "remove_unused_columns": False,
        "load_best_model_at_end": False,
        "metric_for_best_model": "reward",
        "greater_is_better": True,
        "optim": "adamw_torch",
        "report_to": ["wandb"],
        "gradient_checkpointing": True,
        "deepspeed": {"zero_optimization": {"stage": 3}},
        "ddp_timeout": 18000000,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "model_type": "qwen2_5",
        "model_revision": None,
        "task_type": "causal_lm",
        "torch_dtype": "bfloat16",
        "attn_impl": "flash_attn",
        "template": "qwen2_5",
        "system": None,
        "max_length": 2048,
        "truncation_strategy": "left",
        "dataset": ["AI-MO/NuminaMath-TIR#10000"],
        "val_dataset": [],
        "split_dataset_ratio": 0.0,
        "dataset_num_proc": 4,
        "streaming": False,
        "max_new_tokens": 64,
        "temperature": 1.0,
        "top_k": 50,
        "top_p": 0.9,
        "repetition_penalty": 1.0,
        "train_type": "full",
        "lora_rank": 8,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "target_modules": ["all-linear"],
        "rlhf_type": "grpo",
        "ref_model": None,
        "ref_model_type": None,
        "beta": 0.04,
        "reward_funcs": ["accuracy", "format"],
        "reward_weights": None,
        "reward_model": None,
        "num_generations": 8,
        "max_completion_length": 512,
        "num_iterations": 1,
        "epsilon": 0.2,
        "epsilon_high": None,
        "loss_type": "grpo",
        "scale_rewards": True,
        "log_completions": False,
        "log_entropy": False,
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": 0.5,
        "vllm_max_model_len": None,
        "sleep_level": 1,
        "async_generate": False,
        "dynamic_sample": False,
        "overlong_filter": False,
        "steps_per_generation": None,
        "swift_version": "3.5.3",
        "rank": 0,
        "local_rank": 0,
        "global_world_size": 8,
        "local_world_size": 8,
        "model_suffix": "Qwen2.5-7B-Instruct",
        "add_version": True,
        "create_checkpoint_symlink": False,
        "ckpt_dir": None,
        "resume_from_checkpoint": None,
    }
    for key, value in overrides.items():
        args[key] = value
    args["run_name"] = out_dir
    args["logging_dir"] = f"{out_dir}/runs"
    return args


# ----------------------------------------------------------------------------------------------
# GRPO metric synthesis shared by the ms-swift scenarios
# ----------------------------------------------------------------------------------------------

#: completions per logged micro-step across all ranks (8 GPUs x per_device_train_batch_size 8)
COMPLETIONS_PER_MICRO = 64
GROUPS_PER_MICRO = COMPLETIONS_PER_MICRO // 8


def grpo_metrics(
    rng: np.random.Generator,
    *,
    n_micro: int,
    acc_p: float,
    fmt_p: float,
    len_mean: float,
    clipped: float,
    max_len: int,
    kl: float | None,
    loss: float,
    grad_norm: float,
    lr: float,
    zero_std: float,
    entropy: Sequence[float] | None = None,
    reward_names: Sequence[str] = ("MathAccuracy", "Format"),
    legacy: bool = False,
) -> dict[str, Any]:
    """One ms-swift 3.x GRPO log record (before epoch / progress keys), in ms-swift's key order.

    ``legacy=True`` gives the ms-swift 3.3 key set: no ``frac_reward_zero_std`` and a single
    ``clip_ratio`` instead of ``clip_ratio/{low_mean,low_min,high_mean,high_max,region_mean}``.

    Metrics are means over ``n_micro`` micro-steps of COMPLETIONS_PER_MICRO completions each, so
    shares are multiples of 1/(n_micro*64), min/max lengths are means of per-micro-step extremes.
    """
    n = n_micro * COMPLETIONS_PER_MICRO
    acc = rng.binomial(n, min(max(acc_p, 0.0), 1.0)) / n
    fmt = rng.binomial(n, min(max(fmt_p, 0.0), 1.0)) / n
    clip_share = quantize(min(max(clipped, 0.0), 1.0), n)
    mean_len = quantize(len_mean, n)
    mins = [max(3.0, len_mean * (0.14 + 0.08 * rng.random())) for _ in range(n_micro)]
    maxs = []
    for _ in range(n_micro):
        has_clipped = rng.random() < 1.0 - (1.0 - clip_share) ** COMPLETIONS_PER_MICRO
        if has_clipped:
            maxs.append(float(max_len))
        else:
            maxs.append(min(max_len - 1.0, round(len_mean * (1.45 + 0.2 * rng.random()))))
    min_len = round(sum(round(m) for m in mins) / n_micro, 4)
    max_len_v = round(sum(maxs) / n_micro, 4)

    def std_binary(p: float) -> float:
        base = math.sqrt(max(p * (1.0 - p), 0.0) * 16.0 / 15.0)
        return float(base * (1.0 + rng.normal(0.0, 0.03))) if base > 0 else 0.0

    m: dict[str, Any] = {
        "loss": f32(loss),
        "grad_norm": f32(grad_norm),
        "learning_rate": lr,
        "completions/mean_length": mean_len,
        "completions/min_length": min_len,
        "completions/max_length": max_len_v,
        "completions/clipped_ratio": clip_share,
    }
    values = {"MathAccuracy": acc, "Format": fmt}
    for name in reward_names:
        m[f"rewards/{name}/mean"] = values[name]
        m[f"rewards/{name}/std"] = std_binary(values[name])
    reward = float(sum(values[name] for name in reward_names))
    m["reward"] = reward
    m["reward_std"] = float(
        max(0.0, 0.36 + 0.5 * math.sqrt(acc * (1 - acc)) * 0.3 + rng.normal(0.0, 0.025))
    )
    if not legacy:
        m["frac_reward_zero_std"] = quantize(
            min(max(zero_std, 0.0), 1.0), n_micro * GROUPS_PER_MICRO
        )
    if kl is not None:
        m["kl"] = float(kl)
    if legacy:
        m["clip_ratio"] = 0.0
        return m
    m["clip_ratio/low_mean"] = 0.0
    m["clip_ratio/low_min"] = 0.0
    m["clip_ratio/high_mean"] = 0.0
    m["clip_ratio/high_max"] = 0.0
    m["clip_ratio/region_mean"] = 0.0
    if entropy is not None:
        m["entropy/mean"] = float(entropy[0])
        m["entropy/max"] = float(entropy[1])
        m["entropy/min"] = float(entropy[2])
    return m


def elapsed_from(step_seconds: np.ndarray, startup: float) -> Callable[[int], float]:
    cum = np.concatenate([[0.0], np.cumsum(step_seconds)])

    def seconds(step: int) -> float:
        return float(startup + cum[step])

    return seconds


def monotone_memory(
    rng: np.random.Generator, max_steps: int, base: float, growth: float
) -> Callable[[int], float]:
    """max_memory_reserved-like value: non-decreasing, small bumps."""
    bumps = np.maximum(0.0, rng.normal(0.0, 1.0, max_steps + 1)) * growth
    bumps[:3] += growth * 6
    mem = base + np.maximum.accumulate(np.cumsum(bumps * (rng.random(max_steps + 1) < 0.01)))
    return lambda step: float(mem[step])


# ----------------------------------------------------------------------------------------------
# 1. critic_warmup
# ----------------------------------------------------------------------------------------------


def gen_critic_warmup(out: Path) -> None:
    rng = np.random.default_rng(1001)
    steps = np.arange(1, 61)
    n = len(steps)

    # d_acc in percent: 64.84 -> 95.21 in one step, then 95-99.
    d_acc = np.empty(n)
    d_acc[0], d_acc[1] = 64.84, 95.21
    trend = 95.9 + 2.4 * (1.0 - np.exp(-(steps[2:] - 2) / 15.0))
    d_acc[2:] = np.clip(trend + rng.normal(0.0, 0.45, n - 2), 95.3, 98.9)

    # teacher level ~2.6, student 1.03 -> -0.67 steadily.
    teacher = 2.60 + rng.normal(0.0, 0.035, n)
    student = np.linspace(1.03, -0.67, n) + rng.normal(0.0, 0.04, n)
    student[0], student[-1] = 1.03, -0.67
    teacher[0] = 2.60

    # score_diff: mean pairwise margin on the scored batch, ~1.6 and inside [1, 3] until ~44,
    # above 3 from step 45 on.
    score_diff = 1.6 + rng.normal(0.0, 0.11, n)
    score_diff[0] = 1.57
    ramp = {41: 1.92, 42: 2.21, 43: 2.48, 44: 2.79}
    for s, v in ramp.items():
        score_diff[s - 1] = v + rng.normal(0.0, 0.03)
    late = steps >= 45
    score_diff[late] = (
        3.04 + 0.27 * (steps[late] - 45) / 15.0 + np.abs(rng.normal(0.0, 0.04, late.sum()))
    )
    score_diff = np.clip(score_diff, 1.15, None)

    # hard_sample_ratio (percent of 1024 pairs): 17.19 -> 2.15, below 5 from step 20 on.
    hard = 2.0 + 15.19 * np.exp(-(steps - 1) / 11.5) + rng.normal(0.0, 0.18, n)
    hard = np.round(np.clip(hard, 1.6, None) * 1024 / 100) * 100 / 1024
    hard[:19] = np.maximum(hard[:19], 5.08)
    hard[19:] = np.minimum(hard[19:], 4.88)
    hard[0], hard[-1] = 17.19, 2.15

    # length_reward_corr: noisy, mean exactly -0.217.
    corr = rng.normal(-0.217, 0.085, n)
    corr += -0.217 - corr.mean()

    # grad norm before clipping: baseline ~1-3, one spike 39.18 at step 5.
    grad = np.exp(rng.normal(math.log(1.75), 0.22, n))
    grad = np.clip(grad, 1.05, 2.95)
    grad[0] = 2.86
    grad[4] = 39.18

    # BCE loss of the critic.
    loss = 0.085 + 0.11 * np.exp(-(steps - 2) / 20.0) + rng.normal(0.0, 0.008, n)
    loss[0] = 0.6241
    loss[4] += 0.035

    lr = np.minimum(steps / 5.0, 1.0) * 1e-5

    walltime = EVENT_TIME + 30.0 + np.cumsum(11.8 + rng.normal(0.0, 0.4, n))
    series = [
        ("critic/loss", loss, 4),
        ("critic/d_acc", d_acc, 2),
        ("critic/score_diff", score_diff, 4),
        ("critic/teacher_score_mean", teacher, 4),
        ("critic/student_score_mean", student, 4),
        ("critic/hard_sample_ratio", hard, 2),
        ("critic/length_reward_corr", corr, 4),
        ("critic/grad_norm_before_clip", grad, 2),
        ("critic/lr", lr, None),
    ]
    with deterministic_summary_writer(out) as w:
        for i, step in enumerate(steps):
            for tag, values, nd in series:
                v = float(values[i]) if nd is None else round(float(values[i]), nd)
                add_scalar(w, tag, v, int(step), walltime=float(walltime[i]))


# ----------------------------------------------------------------------------------------------
# 2. degrading_runs (verl TensorBoard)
# ----------------------------------------------------------------------------------------------

QWEN3_GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
    "transformers_version": "4.51.3",
}


def _val_curve(
    rng: np.random.Generator, knots: dict[int, float], best_step: int, best: float, noise: float
) -> dict[int, float]:
    """Validation every 5 steps (plus step 0): piecewise-linear through knots, noise, exact best."""
    xs = sorted(knots)
    out = {}
    for t in range(0, 201, 5):
        v = float(np.interp(t, xs, [knots[x] for x in xs])) + rng.normal(0.0, noise)
        out[t] = v
    for t in out:
        if t != best_step:
            out[t] = min(out[t], best - 0.012 - abs(rng.normal(0.0, 0.01)))
    out[best_step] = best
    return {t: round(v, 4) for t, v in out.items()}


def _verl_run(
    out: Path,
    rng: np.random.Generator,
    *,
    val_knots: dict[int, float],
    best_step: int,
    best: float,
    collapse: int | None,
    len_knots: dict[int, float],
    ent_knots: dict[int, float],
    kl_end: float,
    grad_med: float,
    thr: float,
    mfu: float,
    sec_per_step: float,
    val0: float,
    pins: dict[str, dict[int, float]] | None = None,
) -> None:
    steps = np.arange(1, 201)
    val = _val_curve(rng, val_knots, best_step, best, 0.018)
    val[0] = val0

    # training batch score follows validation, noisier, same best step and value.
    vx = sorted(val)
    base = np.interp(steps, vx, [val[t] for t in vx]) + 0.03
    score = base + rng.normal(0.0, 0.045, len(steps))
    ceiling = best - 0.015 - np.abs(rng.normal(0.0, 0.015, len(steps)))
    score = np.minimum(score, ceiling)
    score[best_step - 1] = best

    lx = sorted(len_knots)
    length = np.interp(steps, lx, [len_knots[t] for t in lx]) * np.exp(
        rng.normal(0.0, 0.03, len(steps))
    )
    ex = sorted(ent_knots)
    entropy = np.interp(steps, ex, [ent_knots[t] for t in ex]) * np.exp(
        rng.normal(0.0, 0.025, len(steps))
    )

    pins = pins or {}
    for step, value in pins.get("length", {}).items():
        length[step - 1] = value
    for step, value in pins.get("entropy", {}).items():
        entropy[step - 1] = value

    max_resp = 4096
    clip_ratio = np.clip(
        0.012 * np.minimum(1.0, length / 1500) ** 2
        + 0.08 * np.clip((length - 1500) / 1600, 0, None) ** 1.5
        + rng.normal(0.0, 0.006, len(steps)) * np.minimum(1.0, length / 1500) ** 2,
        0.0,
        0.2,
    )
    clip_ratio = np.round(clip_ratio * 1024) / 1024
    resp_max = np.where(
        clip_ratio > 0,
        max_resp,
        np.minimum(max_resp - 1, np.round(length * (2.4 + 0.4 * rng.random(len(steps))))),
    )

    kl = kl_end * (steps / 200.0) ** 1.1 * np.exp(rng.normal(0.0, 0.08, len(steps)))
    kl[0] = 0.00037
    grad = grad_med * np.exp(rng.normal(0.0, 0.15, len(steps)))
    if collapse is not None:
        after = np.clip((steps - collapse) / 15.0, 0.0, 1.0)
        kl = kl * (1.0 + 0.9 * after)
        grad = grad * (1.0 + 0.6 * after)
    pg_loss = rng.normal(0.0, 0.012, len(steps)) - 0.004
    clipfrac = 0.0028 * np.exp(rng.normal(0.0, 0.25, len(steps)))
    throughput = thr * np.exp(rng.normal(0.0, 0.035, len(steps)))
    mfu_v = mfu * np.exp(rng.normal(0.0, 0.03, len(steps)))
    wall = (
        EVENT_TIME
        + 600.0
        + np.cumsum(
            sec_per_step
            * (length / length.mean()) ** 0.5
            * np.exp(rng.normal(0.0, 0.05, len(steps)))
        )
    )
    val_tag = "val-core/math/reward/mean@1"

    with deterministic_summary_writer(out) as w:
        add_scalar(w, val_tag, val[0], 0, walltime=float(EVENT_TIME + 420.0))
        for i, step in enumerate(steps):
            s = int(step)
            wt = float(wall[i])
            record = {
                "actor/entropy": entropy[i],
                "actor/kl_loss": kl[i],
                "actor/pg_loss": pg_loss[i],
                "actor/pg_clipfrac": clipfrac[i],
                "actor/grad_norm": grad[i],
                "actor/lr": 1e-06,
                "critic/score/mean": score[i],
                "critic/score/max": 3.0,
                "critic/score/min": 0.0,
                "response_length/mean": length[i],
                "response_length/max": float(resp_max[i]),
                "response_length/clip_ratio": clip_ratio[i],
                "perf/mfu/actor": mfu_v[i],
                "perf/throughput": throughput[i],
                "training/global_step": float(s),
            }
            if s in val:
                record[val_tag] = val[s]
            for tag in sorted(record):
                add_scalar(w, tag, float(record[tag]), s, walltime=wt)

    for ck in range(25, 201, 25):
        write_json(
            out / f"global_step_{ck}" / "actor" / "huggingface" / "generation_config.json",
            QWEN3_GENERATION_CONFIG,
        )
    (out / "latest_checkpointed_iteration.txt").write_text("200", encoding="utf-8")


def gen_degrading_runs(out: Path) -> None:
    _verl_run(
        out / "qwen3_4b",
        np.random.default_rng(2004),
        val_knots={
            0: 1.12,
            25: 1.72,
            50: 2.02,
            75: 2.19,
            90: 2.12,
            105: 1.95,
            115: 1.82,
            120: 1.73,
            140: 1.62,
            170: 1.52,
            200: 1.45,
        },
        best_step=75,
        best=2.21,
        collapse=None,
        len_knots={1: 1450, 80: 1900, 200: 2080},
        ent_knots={1: 0.40, 200: 0.33},
        kl_end=0.035,
        grad_med=0.22,
        thr=2850.0,
        mfu=0.31,
        sec_per_step=212.0,
        val0=1.118,
    )
    _verl_run(
        out / "qwen3_8b",
        np.random.default_rng(2008),
        val_knots={
            0: 1.25,
            30: 1.82,
            60: 2.10,
            90: 2.25,
            115: 2.32,
            125: 2.29,
            130: 2.26,
            135: 1.71,
            140: 1.31,
            145: 1.05,
            155: 0.93,
            200: 0.88,
        },
        best_step=115,
        best=2.34,
        collapse=135,
        len_knots={
            1: 1800,
            60: 2350,
            130: 2960,
            134: 2950,
            138: 2100,
            142: 1150,
            146: 620,
            150: 400,
            155: 318,
            200: 312,
        },
        ent_knots={1: 0.24, 130: 0.182, 134: 0.180, 140: 0.150, 146: 0.122, 150: 0.115, 200: 0.114},
        kl_end=0.032,
        grad_med=0.16,
        thr=1650.0,
        mfu=0.42,
        sec_per_step=381.0,
        val0=1.247,
        pins={"length": {130: 2960.0, 200: 315.0}, "entropy": {130: 0.182, 200: 0.115}},
    )
    _verl_run(
        out / "qwen3_8b_n8",
        np.random.default_rng(2088),
        val_knots={
            0: 1.25,
            20: 1.86,
            40: 2.16,
            45: 2.19,
            60: 2.06,
            75: 1.92,
            85: 1.80,
            90: 1.72,
            120: 1.58,
            160: 1.48,
            200: 1.40,
        },
        best_step=45,
        best=2.20,
        collapse=None,
        len_knots={1: 1850, 60: 2300, 100: 2500, 200: 2380},
        ent_knots={1: 0.36, 200: 0.30},
        kl_end=0.045,
        grad_med=0.14,
        thr=1720.0,
        mfu=0.43,
        sec_per_step=722.0,
        val0=1.247,
    )


# ----------------------------------------------------------------------------------------------
# 3. grpo_kl_episodes (ms-swift logging.jsonl, 6000 steps)
# ----------------------------------------------------------------------------------------------

#: step -> (kl, grad_norm, clipped_ratio, Format mean probability, mean length) during episodes
EPISODES: dict[int, dict[str, float]] = {
    2800: dict(kl=19.6, grad=6.12, clipped=0.875, fmt=0.1, length=489.0),
    2855: dict(kl=8.4, grad=5.21, clipped=0.31, fmt=0.74, length=371.0),
    2860: dict(kl=14.7, grad=9.58, clipped=0.58, fmt=0.52, length=433.0),
    2865: dict(kl=11.2, grad=5.34, clipped=0.47, fmt=0.61, length=409.0),
    2870: dict(kl=9.1, grad=7.43, clipped=0.36, fmt=0.70, length=386.0),
    3145: dict(kl=12.8, grad=5.87, clipped=0.42, fmt=0.72, length=401.0),
    3695: dict(kl=0.41, grad=8.93, clipped=0.34, fmt=0.78, length=389.0),
    4155: dict(kl=16.3, grad=7.08, clipped=0.51, fmt=0.66, length=420.0),
    4655: dict(kl=11.4, grad=0.93, clipped=0.29, fmt=0.80, length=383.0),
    5145: dict(kl=13.9, grad=10.7, clipped=0.56, fmt=0.63, length=431.0),
}
#: logged points right after an episode: partial recovery of the Format reward
RECOVERY_FMT = {
    2805: 0.46,
    2810: 0.79,
    2815: 0.87,
    2875: 0.84,
    3150: 0.86,
    3700: 0.88,
    4160: 0.84,
    4660: 0.88,
    5150: 0.85,
}


def gen_grpo_kl_episodes(out: Path) -> None:
    rng = np.random.default_rng(3003)
    max_steps, every, per_epoch = 6000, 5, 2000
    out_dir = "/mnt/workspace/output/Qwen2.5-7B-Instruct/v3-20250614-221503"
    args = swift_args(
        {
            "output_dir": out_dir,
            "learning_rate": 1e-06,
            "beta": 0.04,
            "max_completion_length": 512,
            "num_generations": 8,
            "max_grad_norm": 1.0,
            "temperature": 1.0,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 2,
            "num_train_epochs": 3.0,
            "warmup_ratio": 0.01,
            "lr_scheduler_type": "constant_with_warmup",
            "logging_steps": every,
            "save_steps": 2000.0,
            "save_total_limit": 3,
            "eval_steps": 2000.0,
            "dataset": ["AI-MO/NuminaMath-TIR#32000"],
            "swift_version": "3.3.1",
        }
    )
    # ms-swift 3.3 GRPO arguments (vLLM on a dedicated device, no vllm_mode / log_entropy yet)
    for key in ("vllm_mode", "log_entropy", "steps_per_generation", "sleep_level"):
        args.pop(key, None)
    args.update(
        {
            "num_infer_workers": 1,
            "vllm_device": ["auto"],
            "tensor_parallel_size": 1,
            "mini_batch_size": None,
            "vllm_limit_mm_per_prompt": None,
        }
    )
    write_json(out / "args.json", args)

    step_secs = 21.5 * np.exp(rng.normal(0.0, 0.06, max_steps + 1))
    for s, ep in EPISODES.items():
        for k in range(s - 4, s + 1):
            step_secs[k] *= 1.0 + 0.8 * ep["clipped"]
    run = SwiftRun(
        out,
        output_dir=out_dir,
        max_steps=max_steps,
        steps_per_epoch=float(per_epoch),
        logging_steps=every,
        save_steps=2000,
        eval_steps=2000,
        num_train_epochs=3.0,
        train_batch_size=8,
        seconds=elapsed_from(step_secs, 8.0),
        memory=monotone_memory(rng, max_steps, 58.41, 0.35),
    )

    losses = []
    for step in logged_steps(max_steps, every):
        n_micro = 2 if step == 1 else 2 * every
        frac = step / max_steps
        kl_base = (0.02 + 0.26 * frac) * (1.0 - math.exp(-step / 60.0))
        kl = 0.0 if step == 1 else kl_base * math.exp(rng.normal(0.0, 0.13))
        grad = 0.43 * math.exp(rng.normal(0.0, 0.19))
        acc_p = 0.31 + 0.27 * (1.0 - math.exp(-step / 2200.0))
        fmt_p = 0.86 + 0.08 * (1.0 - math.exp(-step / 1500.0))
        length = 296.0 + 26.0 * frac + rng.normal(0.0, 7.0)
        clipped = float(np.clip(0.018 + 0.01 * frac + rng.normal(0.0, 0.007), 0.003, 0.045))
        if step in EPISODES:
            ep = EPISODES[step]
            kl, grad, clipped = ep["kl"], ep["grad"], ep["clipped"]
            fmt_p, length = ep["fmt"], ep["length"]
            length += rng.normal(0.0, 3.0)
            if step != 2800:  # 2800 keeps its reference values exactly (KL 19.6)
                kl = round(kl * math.exp(rng.normal(0.0, 0.02)), 6)
            acc_p *= 0.85
        elif step - 5 in EPISODES:
            kl *= 1.6
            grad *= 1.3
            clipped = 0.052 + 0.01 * rng.random()
            length += 18.0
        if step in RECOVERY_FMT:
            fmt_p = RECOVERY_FMT[step]
        loss = 0.04 * kl + rng.normal(0.0, 0.012) if step > 1 else -0.00213
        losses.append(loss)
        m = grpo_metrics(
            rng,
            n_micro=n_micro,
            acc_p=acc_p,
            fmt_p=fmt_p,
            len_mean=length,
            clipped=clipped,
            max_len=512,
            kl=kl,
            loss=loss,
            grad_norm=grad,
            lr=constant_with_warmup_lr(step, max_steps, 1e-6, 0.01),
            zero_std=0.0,
            legacy=True,
        )
        if step == 2800:
            m["rewards/Format/mean"] = 0.1
            m["reward"] = m["rewards/MathAccuracy/mean"] + 0.1
        run.train(step, m)
        if step % 2000 == 0:
            run.checkpoint(step, history_tail=1)
    run.finish(
        train_loss=float(np.mean(losses)),
        samples_per_step=128,
        summary_head={
            "model_parameter_info": "Qwen2ForCausalLM: 7615.6165M Params (7615.6165M Trainable "
            "[100.0000%]), 0.0001M Buffers.",
        },
    )


# ----------------------------------------------------------------------------------------------
# 4. grpo_kl_stuck (ms-swift --report_to tensorboard: HF callback tags under runs/)
# ----------------------------------------------------------------------------------------------


def gen_grpo_kl_stuck(out: Path) -> None:
    rng = np.random.default_rng(4004)
    max_steps, every = 300, 5
    out_dir = "/mnt/workspace/output/Qwen2.5-1.5B-Instruct/v0-20250702-140211"
    args = swift_args(
        {
            "output_dir": out_dir,
            "model": "Qwen/Qwen2.5-1.5B-Instruct",
            "model_suffix": "Qwen2.5-1.5B-Instruct",
            "learning_rate": 2e-06,
            "beta": 0.04,
            "max_completion_length": 1024,
            "num_generations": 8,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 16,
            "num_train_epochs": 1.0,
            "logging_steps": every,
            "save_steps": 100.0,
            "eval_steps": 100.0,
            "report_to": ["tensorboard"],
            "reward_funcs": ["format"],
            "global_world_size": 2,
            "local_world_size": 2,
            "vllm_mode": "server",
            "dataset": ["AI-MO/NuminaMath-TIR#2400"],
            "deepspeed": None,
            "swift_version": "3.6.0",
        }
    )
    write_json(out / "args.json", args)

    step_secs = 9.4 * np.exp(rng.normal(0.0, 0.05, max_steps + 1))
    wall = EVENT_TIME + 160.0 + np.concatenate([[0.0], np.cumsum(step_secs)])
    text_args = {
        k: args[k]
        for k in (
            "output_dir",
            "learning_rate",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "max_grad_norm",
            "num_train_epochs",
            "lr_scheduler_type",
            "warmup_ratio",
            "logging_steps",
            "save_steps",
            "seed",
            "bf16",
            "report_to",
        )
    }
    with deterministic_summary_writer(out / "runs") as w:
        w.add_text("args", json.dumps(text_args, indent=2), 0, walltime=float(EVENT_TIME + 150.0))
        for step in logged_steps(max_steps, every):
            n_micro = 16 if step == 1 else 16 * every
            max_len = 1.0 + quantize(0.05 + 0.06 * rng.random(), n_micro)
            logs = {
                "loss": 0.0,
                "grad_norm": 0.0,
                "learning_rate": cosine_lr(step, max_steps, 2e-6, 0.05),
                "completions/mean_length": 1.0,
                "completions/min_length": 1.0,
                "completions/max_length": max_len if rng.random() < 0.6 else 1.0,
                "completions/clipped_ratio": 0.0,
                "rewards/Format/mean": 0.0,
                "rewards/Format/std": 0.0,
                "reward": 0.0,
                "reward_std": 0.0,
                "frac_reward_zero_std": 1.0,
                "kl": 0.0,
                "clip_ratio/low_mean": 0.0,
                "clip_ratio/low_min": 0.0,
                "clip_ratio/high_mean": 0.0,
                "clip_ratio/high_max": 0.0,
                "clip_ratio/region_mean": 0.0,
                "epoch": step / max_steps,
            }
            for key, value in logs.items():
                add_scalar(w, f"train/{key}", float(value), step, walltime=float(wall[step]))
        runtime = float(wall[max_steps] - EVENT_TIME - 160.0 + 2.1)
        final = {
            "train_runtime": round(runtime, 4),
            "train_samples_per_second": round(max_steps * 128 / runtime, 3),
            "train_steps_per_second": round(max_steps / runtime, 3),
            "total_flos": 0.0,
            "train_loss": 0.0,
            "epoch": 1.0,
        }
        for key, value in final.items():
            add_scalar(
                w, f"train/{key}", float(value), max_steps, walltime=float(wall[max_steps] + 2.1)
            )


# ----------------------------------------------------------------------------------------------
# 5. healthy_grpo
# ----------------------------------------------------------------------------------------------


def gen_healthy_grpo(out: Path) -> None:
    rng = np.random.default_rng(5005)
    max_steps, every = 1000, 5
    out_dir = "/mnt/workspace/output/Qwen2.5-3B-Instruct/v1-20250620-083344"
    args = swift_args(
        {
            "output_dir": out_dir,
            "model": "Qwen/Qwen2.5-3B-Instruct",
            "model_suffix": "Qwen2.5-3B-Instruct",
            "learning_rate": 1e-06,
            "beta": 0.04,
            "max_completion_length": 1024,
            "num_generations": 8,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 2,
            "num_train_epochs": 2.0,
            "logging_steps": every,
            "save_steps": 500.0,
            "save_total_limit": 1,
            "eval_steps": 500.0,
            "log_entropy": True,
            "dataset": ["AI-MO/NuminaMath-TIR#8000"],
        }
    )
    write_json(out / "args.json", args)

    step_secs = 14.2 * np.exp(rng.normal(0.0, 0.05, max_steps + 1))
    run = SwiftRun(
        out,
        output_dir=out_dir,
        max_steps=max_steps,
        steps_per_epoch=500.0,
        logging_steps=every,
        save_steps=500,
        eval_steps=500,
        num_train_epochs=2.0,
        train_batch_size=8,
        seconds=elapsed_from(step_secs, 6.0),
        memory=monotone_memory(rng, max_steps, 41.87, 0.3),
    )
    warm_grad = {1: 2.4137, 5: 1.6291, 10: 0.9712}
    losses = []
    for step in logged_steps(max_steps, every):
        n_micro = 2 if step == 1 else 2 * every
        frac = step / max_steps
        kl = (
            0.0
            if step == 1
            else 0.21 * frac**0.8 * (1 - math.exp(-step / 40.0)) * math.exp(rng.normal(0.0, 0.14))
            + 0.004 * (1 - math.exp(-step / 20.0))
        )
        grad = warm_grad.get(step, 0.38 * math.exp(rng.normal(0.0, 0.18)))
        acc_p = 0.29 + 0.25 * (1.0 - math.exp(-step / 420.0))
        fmt_p = 0.95 - 0.27 * math.exp(-step / 70.0)
        length = 231.0 + 34.0 * frac + 9.0 * math.sin(step / 130.0) + rng.normal(0.0, 6.0)
        clipped = float(np.clip(0.014 + 0.008 * rng.standard_normal(), 0.002, 0.044))
        zero_std = 0.19 - 0.04 * frac + rng.normal(0.0, 0.02)
        ent_mean = 0.61 - 0.07 * frac + rng.normal(0.0, 0.012)
        entropy = (
            ent_mean,
            ent_mean * (1.9 + 0.1 * rng.random()),
            ent_mean * (0.28 + 0.06 * rng.random()),
        )
        loss = 0.04 * kl + rng.normal(0.0, 0.011) if step > 1 else 0.00087
        losses.append(loss)
        m = grpo_metrics(
            rng,
            n_micro=n_micro,
            acc_p=acc_p,
            fmt_p=fmt_p,
            len_mean=length,
            clipped=clipped,
            max_len=1024,
            kl=kl,
            loss=loss,
            grad_norm=grad,
            lr=cosine_lr(step, max_steps, 1e-6, 0.05),
            zero_std=zero_std,
            entropy=entropy,
        )
        run.train(step, m)
        if step == max_steps:  # save_total_limit 1: checkpoint-500 was rotated away
            run.checkpoint(step)
    run.finish(
        train_loss=float(np.mean(losses)),
        samples_per_step=128,
        summary_head={
            "model_parameter_info": "Qwen2ForCausalLM: 3085.9386M Params (3085.9386M Trainable "
            "[100.0000%]), 0.0001M Buffers.",
        },
    )


# ----------------------------------------------------------------------------------------------
# 6. sft_overfit (ms-swift SFT, LoRA, 3 epochs)
# ----------------------------------------------------------------------------------------------

EVAL_LOSS = {
    100: 1.781,
    200: 1.662,
    300: 1.604,
    400: 1.563,
    500: 1.5365,
    600: 1.52,
    700: 1.548,
    800: 1.597,
    900: 1.661,
    1000: 1.736,
    1100: 1.861,
    1200: 1.968,
    1300: 2.077,
    1400: 2.184,
    1500: 2.28,
}
EVAL_ACC = {
    100: 0.6003,
    200: 0.6091,
    300: 0.6138,
    400: 0.6176,
    500: 0.6197,
    600: 0.6219,
    700: 0.6201,
    800: 0.6172,
    900: 0.6148,
    1000: 0.6113,
    1100: 0.6079,
    1200: 0.6055,
    1300: 0.6031,
    1400: 0.6008,
    1500: 0.5984,
}


def gen_sft_overfit(out: Path) -> None:
    rng = np.random.default_rng(6006)
    max_steps, every = 1500, 10
    out_dir = "/mnt/workspace/output/Qwen2.5-7B-Instruct/v5-20250528-101722"
    args = swift_args(
        {
            "output_dir": out_dir,
            "eval_strategy": "steps",
            "per_device_train_batch_size": 2,
            "per_device_eval_batch_size": 2,
            "gradient_accumulation_steps": 4,
            "learning_rate": 0.0001,
            "num_train_epochs": 3.0,
            "warmup_ratio": 0.05,
            "logging_steps": every,
            "save_steps": 300.0,
            "eval_steps": 100.0,
            "metric_for_best_model": "loss",
            "greater_is_better": False,
            "train_type": "lora",
            "lora_rank": 16,
            "lora_alpha": 32,
            "max_length": 4096,
            "dataset": ["data/support_dialogues_train.jsonl"],
            "val_dataset": ["data/support_dialogues_val.jsonl"],
            "report_to": ["wandb"],
            "deepspeed": None,
            "global_world_size": 4,
            "local_world_size": 4,
        }
    )
    for key in list(args):
        if key in {
            "rlhf_type",
            "ref_model",
            "ref_model_type",
            "beta",
            "reward_funcs",
            "reward_weights",
            "reward_model",
            "num_generations",
            "max_completion_length",
            "num_iterations",
            "epsilon",
            "epsilon_high",
            "loss_type",
            "scale_rewards",
            "log_completions",
            "log_entropy",
            "use_vllm",
            "vllm_mode",
            "vllm_gpu_memory_utilization",
            "vllm_max_model_len",
            "sleep_level",
            "async_generate",
            "dynamic_sample",
            "overlong_filter",
            "steps_per_generation",
        }:
            del args[key]
    args["temperature"] = 0.0
    write_json(out / "args.json", args)

    step_secs = 2.31 * np.exp(rng.normal(0.0, 0.04, max_steps + 1))
    eval_secs = 41.3
    cum = np.concatenate([[0.0], np.cumsum(step_secs)])

    def seconds(step: int) -> float:
        # evaluations run after the train log of steps 100, 200, ...: count those already done
        return float(12.0 + cum[step] + eval_secs * ((step - 1) // 100))

    run = SwiftRun(
        out,
        output_dir=out_dir,
        max_steps=max_steps,
        steps_per_epoch=500.0,
        logging_steps=every,
        save_steps=300,
        eval_steps=100,
        num_train_epochs=3.0,
        train_batch_size=2,
        seconds=seconds,
        memory=monotone_memory(rng, max_steps, 21.63, 0.2),
    )
    run.flops_per_step = 6 * 7.6160e9 * 32 * 1243.1  # 6 * params * tokens per step

    losses = []
    for step in logged_steps(max_steps, every):
        epoch_idx = min((step - 1) // 500, 2)
        within = ((step - 1) % 500) / 500.0
        start = (1.98, 1.27, 0.79)[epoch_idx]
        end = (1.52, 1.01, 0.53)[epoch_idx]
        loss = start + (end - start) * (1.0 - math.exp(-3.0 * within)) / (1.0 - math.exp(-3.0))
        if step < 60:
            loss += 0.35 * math.exp(-step / 20.0)
        loss *= math.exp(rng.normal(0.0, 0.035))
        acc = float(np.clip(0.97 - 0.2 * loss + rng.normal(0.0, 0.006), 0.0, 1.0))
        acc = round(acc * 2048) / 2048
        grad = (
            2.9127
            if step == 1
            else 1.05 * math.exp(rng.normal(0.0, 0.16)) * (1.0 + 0.1 * epoch_idx)
        )
        losses.append(loss)
        run.train(
            step,
            {
                "loss": f32(loss),
                "grad_norm": f32(grad),
                "learning_rate": cosine_lr(step, max_steps, 1e-4, 0.05),
                "token_acc": acc,
            },
        )
        if step in EVAL_LOSS:
            runtime = round(eval_secs + rng.normal(0.0, 0.3), 4)
            run.evaluate(
                step,
                {
                    "eval_loss": EVAL_LOSS[step]
                    if step in (600, 1500)
                    else EVAL_LOSS[step] + float(rng.normal(0.0, 0.002)),
                    "eval_runtime": runtime,
                    "eval_samples_per_second": round(500 / runtime, 3),
                    "eval_steps_per_second": round(63 / runtime, 3),
                    "eval_token_acc": EVAL_ACC[step] + float(rng.normal(0.0, 0.0004)),
                },
                eval_seconds=eval_secs,
                metric_for_best="eval_loss",
            )
        if step % 300 == 0:
            run.checkpoint(step)
    run.finish(
        train_loss=float(np.mean(losses)),
        samples_per_step=32,
        final_eval_seconds=eval_secs,
        summary_head={
            "train_dataset": "1243.118750±611.402188, min=96.000000, max=4096.000000, size=16000",
            "val_dataset": "1251.362000±598.115227, min=131.000000, max=4096.000000, size=500",
            "model_parameter_info": "PeftModelForCausalLM: 7655.9795M Params (40.3702M Trainable "
            "[0.5273%]), 0.0001M Buffers.",
        },
    )


# ----------------------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Path], None]] = {
    "critic_warmup": gen_critic_warmup,
    "degrading_runs": gen_degrading_runs,
    "grpo_kl_episodes": gen_grpo_kl_episodes,
    "grpo_kl_stuck": gen_grpo_kl_stuck,
    "healthy_grpo": gen_healthy_grpo,
    "sft_overfit": gen_sft_overfit,
}


def main(argv: Sequence[str]) -> int:
    names = list(argv) or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(
            f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    for name in names:
        target = ROOT / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        SCENARIOS[name](target)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        print(f"{name:18s} {size / 1024:8.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
