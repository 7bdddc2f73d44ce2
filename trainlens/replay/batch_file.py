"""A saved training batch (``torch.save`` of a dict with ``input_ids`` and ``labels``, optional
``attention_mask``; or a list of such dicts), loaded with ``weights_only=True`` (tensors and
plain containers only, no pickled code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainlens.errors import TrainlensError

Row = tuple[list[int], list[int], list[int] | None]


def load_label_batch(path: Path | str) -> list[Row]:
    """Every sample of the batch file as (input_ids, labels, attention_mask) lists."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/runtime errors of many types
        raise TrainlensError(f"{path}: not a batch torch can load safely ({exc})") from exc
    batches = obj if isinstance(obj, list) else [obj]
    rows: list[Row] = []
    for batch in batches:
        if not isinstance(batch, dict) or "input_ids" not in batch or "labels" not in batch:
            raise TrainlensError(f"{path}: expected a dict with input_ids and labels")
        ids = _lists(batch["input_ids"])
        labels = _lists(batch["labels"])
        mask_raw = batch.get("attention_mask")
        masks = _lists(mask_raw) if mask_raw is not None else [None] * len(ids)
        if len(ids) != len(labels) or any(len(a) != len(b) for a, b in zip(ids, labels)):
            raise TrainlensError(f"{path}: input_ids and labels differ in shape")
        rows.extend(zip(ids, labels, masks))
    return rows


def _lists(value: Any) -> list[Any]:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, list) and value and not isinstance(value[0], list):
        value = [value]  # one sample
    if not isinstance(value, list):
        raise TrainlensError("input_ids/labels must be tensors or lists")
    return [list(map(int, v)) for v in value]
