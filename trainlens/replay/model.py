"""Load a local Hugging Face checkpoint and its tokenizer for replay (torch + transformers).

Local files only (``local_files_only``), ``trust_remote_code`` off unless asked; a checkpoint
without the head the command needs, an unreadable directory or a model that does not fit in
memory become a :class:`TrainlensError` with one clear sentence."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from trainlens.errors import TrainlensError


class Head(str, Enum):
    """What the model computes: a per-token value, a sequence reward, or next-token log-probs."""

    value = "value"
    reward = "reward"
    causal_lm = "causal_lm"


_AUTO = {
    Head.value: "AutoModelForTokenClassification",
    Head.reward: "AutoModelForSequenceClassification",
    Head.causal_lm: "AutoModelForCausalLM",
}
_ARCH_SUFFIX = {
    Head.value: "ForTokenClassification",
    Head.reward: "ForSequenceClassification",
    Head.causal_lm: "ForCausalLM",
}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class LoadedModel:
    """A model in eval mode on its device, with what forward passes need to know."""

    model: Any
    head: Head
    path: Path
    device: torch.device
    dtype: torch.dtype
    max_len: int | None
    vocab_size: int | None
    eos_ids: frozenset[int]  # from the model config
    takes_position_ids: bool
    scalar_head: Any | None  # the Linear score head of a reward model (applied per token)
    notes: list[str]


def pick_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainlensError("--device cuda: no CUDA device is available (use --device cpu)")
    if device not in ("cuda", "cpu"):
        raise TrainlensError(f"--device {device!r}: expected auto, cuda or cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto`` → bf16 on a GPU that supports it (fp16 otherwise), fp32 on CPU."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise TrainlensError(f"--dtype {dtype!r}: expected auto, bf16, fp16 or fp32") from None


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in _DTYPES.items()}.get(dtype, str(dtype))


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or load reports from transformers on our stderr."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    bars = getattr(hf_logging, "is_progress_bar_enabled", lambda: True)()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_model(
    path: Path | str,
    head: Head,
    *,
    device: torch.device,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """The checkpoint at ``path`` with ``head``, in eval mode on ``device``."""
    import transformers

    path = Path(path)
    if not (path / "config.json").is_file():
        raise TrainlensError(f"{path}: not a Hugging Face model directory (no config.json)")
    auto = getattr(transformers, _AUTO[head])
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "trust_remote_code": trust_remote_code,
        "output_loading_info": True,
    }
    kwargs["dtype" if _new_dtype_kwarg(transformers.__version__) else "torch_dtype"] = dtype
    try:
        with quiet_transformers():
            model, info = auto.from_pretrained(str(path), **kwargs)
            model = model.to(device)
    except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
        raise TrainlensError(
            f"{path}: the model does not fit in memory on {device.type} "
            f"({exc.__class__.__name__}); "
            "try --dtype bf16, --device cpu or a machine with more memory"
        ) from None
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainlensError(f"{path}: cannot load the model for {head.value}: {first}") from None
    model.eval()
    notes: list[str] = []
    missing = sorted(info.get("missing_keys") or [])
    if head is not Head.causal_lm:
        head_missing = [k for k in missing if k.split(".")[0] in ("score", "classifier")]
        if head_missing:
            raise TrainlensError(
                f"{path}: no {head.value} head in this checkpoint ({', '.join(head_missing)} "
                f"missing: its weights would be random); a {head.value} model is saved as "
                f"...{_ARCH_SUFFIX[head]}"
            )
        labels = int(getattr(model.config, "num_labels", 1))
        if labels != 1:
            raise TrainlensError(
                f"{path}: the {head.value} head has {labels} outputs; replay scores a head with "
                "one (num_labels=1)"
            )
    elif missing:
        raise TrainlensError(
            f"{path}: the checkpoint lacks weights of the language model ({missing[0]}, ...)"
        )
    archs = getattr(model.config, "architectures", None) or []
    if archs and not any(str(a).endswith(_ARCH_SUFFIX[head]) for a in archs):
        notes.append(
            f"{path}: saved as {archs[0]}, loaded as ...{_ARCH_SUFFIX[head]} "
            f"(--head {head.value}); check the head is the one you mean"
        )
    scalar_head = None
    if head is Head.reward:
        scalar_head = getattr(model, "score", None)
        if not isinstance(scalar_head, torch.nn.Linear):
            raise TrainlensError(
                f"{path}: replay reads reward models whose head is a linear `score` layer "
                f"applied per token (decoder models); {type(model).__name__} has none"
            )
    body = model.base_model if head is Head.reward else model
    return LoadedModel(
        model=model,
        head=head,
        path=path,
        device=device,
        dtype=dtype,
        max_len=_max_len(model.config),
        vocab_size=_vocab_size(model),
        eos_ids=_config_eos(model.config),
        takes_position_ids="position_ids" in inspect.signature(body.forward).parameters,
        scalar_head=scalar_head,
        notes=notes,
    )


def load_tokenizer(path: Path | str, *, trust_remote_code: bool = False) -> Any | None:
    """The tokenizer saved in ``path``, or None when it holds none."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        return None
    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=trust_remote_code
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainlensError(f"{path}: cannot load the tokenizer: {first}") from None


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def _new_dtype_kwarg(version: str) -> bool:
    """transformers ≥ 4.56 takes ``dtype=``; older versions ``torch_dtype=``."""
    parts = [int(p) for p in version.split(".")[:2] if p.isdigit()]
    return tuple(parts) >= (4, 56)


def _max_len(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _vocab_size(model: Any) -> int | None:
    try:
        return int(model.get_input_embeddings().num_embeddings)
    except (AttributeError, NotImplementedError, TypeError):
        value = getattr(model.config, "vocab_size", None)
        return value if isinstance(value, int) else None


def _config_eos(config: Any) -> frozenset[int]:
    value = getattr(config, "eos_token_id", None)
    if isinstance(value, int):
        return frozenset([value])
    if isinstance(value, (list, tuple)):
        return frozenset(v for v in value if isinstance(v, int))
    return frozenset()
