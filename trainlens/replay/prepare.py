"""What ``replay score`` and ``replay kl`` share before the forward passes: the tokenizer, the
EOS ids, and the batch as token sequences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainlens.diagnostics import ReadWarning
from trainlens.errors import TrainlensError
from trainlens.replay.batch import Batch
from trainlens.replay.encode import Encoded, encode_samples
from trainlens.replay.model import LoadedModel, load_tokenizer


@dataclass(frozen=True)
class RunOptions:
    """How a replay command loads and runs its model(s): the options ``score`` and ``kl`` share."""

    eos_id: int | None = None
    tokenizer: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    steps: tuple[int, int] | None = None
    trust_remote_code: bool = False


def find_tokenizer(
    model_dir: Path, tokenizer_dir: Path | None, *, trust_remote_code: bool = False
) -> Any | None:
    """``--tokenizer DIR`` when given (it must hold one), else the model directory's, else
    None (then only samples given as token ids can be scored)."""
    if tokenizer_dir is not None:
        tok = load_tokenizer(tokenizer_dir, trust_remote_code=trust_remote_code)
        if tok is None:
            raise TrainlensError(f"--tokenizer {tokenizer_dir}: no tokenizer files in it")
        return tok
    return load_tokenizer(model_dir, trust_remote_code=trust_remote_code)


def resolve_eos(
    eos_id: int | None,
    tokenizer: Any | None,
    models: list[LoadedModel],
    warnings: list[ReadWarning],
) -> frozenset[int]:
    """The EOS ids: ``--eos-id`` (checked against the vocabulary), else the tokenizer's, else
    the model config's. None known: a warning, and with/without-EOS scores are equal."""
    if eos_id is not None:
        sizes = [m.vocab_size for m in models if m.vocab_size is not None]
        if tokenizer is not None:
            sizes.append(len(tokenizer))
        if eos_id < 0 or (sizes and eos_id >= min(sizes)):
            raise TrainlensError(
                f"--eos-id {eos_id}: not a token of the tokenizer/model "
                f"(vocabulary of {min(sizes) if sizes else 0})"
            )
        return frozenset([eos_id])
    tok_eos = getattr(tokenizer, "eos_token_id", None) if tokenizer is not None else None
    if isinstance(tok_eos, int):
        return frozenset([tok_eos])
    config_eos = frozenset().union(*(m.eos_ids for m in models)) if models else frozenset()
    if config_eos:
        return config_eos
    warnings.append(
        ReadWarning(
            str(models[0].path) if models else "replay",
            "no EOS id known (give --eos-id N); scores with and without EOS are the same",
        )
    )
    return frozenset()


def encode_batch(
    batch: Batch,
    tokenizer: Any | None,
    models: list[LoadedModel],
    eos_ids: frozenset[int],
    warnings: list[ReadWarning],
) -> list[Encoded]:
    """The batch's samples as token sequences that every model can take (shortest context and
    vocabulary of ``models``)."""
    lens = [m.max_len for m in models if m.max_len is not None]
    vocab = [m.vocab_size for m in models if m.vocab_size is not None]
    return encode_samples(
        batch.samples,
        tokenizer,
        eos_ids=eos_ids,
        max_len=min(lens) if lens else None,
        vocab_size=min(vocab) if vocab else None,
        source=str(batch.path),
        warnings=warnings,
    )
