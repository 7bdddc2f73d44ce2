"""Batched forward passes: token sequences → one number per token (torch).

Sequences are sorted by length (longest first, so an out-of-memory error comes early) and
padded per batch on ``pad_side``; attention masks and position ids are built from the real
tokens, so a sample's numbers do not depend on its batch or the padding side. A batch that runs
out of GPU memory is split in halves; a single sequence that still does not fit is reported."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trainlens.replay.model import Head, LoadedModel

#: Elements of float32 log-softmax computed at once for a causal LM (64 MiB: bounds the extra
#: memory over the logits themselves, whatever the vocabulary and batch).
LOGPROB_CHUNK = 1 << 24

Progress = Callable[[int, int], None]


@dataclass
class ForwardResult:
    """Per sequence (input order): the numbers of its real tokens, or None when it could not
    be run (``failed`` says why)."""

    values: list[np.ndarray | None]
    failed: dict[int, str] = field(default_factory=dict)
    peak_gpu_mib: float | None = None


def run_forward(
    lm: LoadedModel,
    seqs: Sequence[Sequence[int]],
    *,
    batch_size: int,
    pad_side: str = "right",
    progress: Progress | None = None,
) -> ForwardResult:
    """For each sequence, one float64 array with a number per token: the value-head output
    (``value``), the reward-head output at every position (``reward``) or ``log p(token_t |
    tokens_<t)`` (``causal_lm``; NaN at position 0)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cuda = lm.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(lm.device)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    result = ForwardResult(values=[None] * len(seqs))
    done = 0
    pending = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode():
        while pending:
            chunk = pending.pop(0)
            try:
                outputs = batch_outputs(lm, [seqs[i] for i in chunk], pad_side)
            except torch.cuda.OutOfMemoryError:
                if cuda:
                    torch.cuda.empty_cache()
                if len(chunk) > 1:
                    half = len(chunk) // 2
                    pending[:0] = [chunk[:half], chunk[half:]]
                    continue
                result.failed[chunk[0]] = (
                    f"{len(seqs[chunk[0]])} tokens do not fit in {lm.device.type} memory"
                )
                outputs = []
            for i, out in zip(chunk, outputs):
                result.values[i] = out
            done += len(chunk)
            if progress is not None:
                progress(done, len(seqs))
    if cuda:
        result.peak_gpu_mib = torch.cuda.max_memory_allocated(lm.device) / 2**20
    return result


def pad_batch(
    seqs: Sequence[Sequence[int]], pad_side: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``position_ids`` (0 at each sequence's first real
    token, whatever the padding side)."""
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        start = width - len(s) if pad_side == "left" else 0
        ids[row, start : start + len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[row, start : start + len(s)] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


@torch.inference_mode()
def batch_outputs(
    lm: LoadedModel, seqs: Sequence[Sequence[int]], pad_side: str = "right"
) -> list[np.ndarray]:
    """The per-token numbers of one padded batch (see :func:`run_forward`)."""
    ids, mask, positions = pad_batch(seqs, pad_side, lm.device)
    body = lm.model.base_model if lm.head is Head.reward else lm.model
    kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
    if lm.takes_position_ids:
        kwargs["position_ids"] = positions
    if _accepts(body, "use_cache"):
        kwargs["use_cache"] = False
    if lm.head is Head.value:
        per_token = lm.model(**kwargs).logits[..., 0].float()
    elif lm.head is Head.reward:
        assert lm.scalar_head is not None
        hidden = body(**kwargs).last_hidden_state
        per_token = lm.scalar_head(hidden)[..., 0].float()
    else:
        per_token = token_logprobs(lm.model(**kwargs).logits, ids)
    rows = per_token.cpu().numpy().astype(np.float64)
    width = ids.shape[1]
    out = []
    for row, s in enumerate(seqs):
        start = width - len(s) if pad_side == "left" else 0
        values = rows[row, start : start + len(s)].copy()
        if lm.head is Head.causal_lm:
            values[0] = np.nan  # the first token has no prediction
        out.append(values)
    return out


def token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``out[b, t] = log softmax(logits[b, t-1])[ids[b, t]]`` in float32 (``out[:, 0]`` is NaN),
    computed a slice of positions at a time so a large vocabulary does not double the memory."""
    batch, width, vocab = logits.shape
    out = torch.full((batch, width), float("nan"), dtype=torch.float32, device=logits.device)
    step = max(1, LOGPROB_CHUNK // max(1, batch * vocab))
    for start in range(0, width - 1, step):
        stop = min(width - 1, start + step)
        lp = logits[:, start:stop].float().log_softmax(-1)
        target = ids[:, start + 1 : stop + 1].unsqueeze(-1)
        out[:, start + 1 : stop + 1] = lp.gather(-1, target).squeeze(-1)
    return out


def _accepts(module: Any, name: str) -> bool:
    params = inspect.signature(module.forward).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
