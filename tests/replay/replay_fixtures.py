"""Tiny models and a tiny tokenizer, built from configs in the tests (random weights, fixed
seed, saved with ``save_pretrained``): nothing is downloaded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

WORDS = (
    "the a cat dog sat on mat rug is good bad answer yes no maybe very quite short long "
    "无性别偏向 这 是 回答 好 坏 hello world of and to"
).split()
PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
PAD_ID, EOS_ID = 0, 1
VOCAB = 64


def save_tokenizer(folder: Path) -> Path:
    """A whitespace WordLevel tokenizer (``<eos>`` is id 1) saved as a fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate([PAD, EOS, UNK, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(folder))
    return folder


def _config(arch: str, **extra: Any) -> Any:
    common = {"vocab_size": VOCAB, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID, **extra}
    if arch == "gpt2":
        return transformers.GPT2Config(
            n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=EOS_ID, **common
        )
    return transformers.Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        **common,
    )


def save_model(folder: Path, kind: str, arch: str = "qwen2", seed: int = 0) -> Path:
    """A 2-layer model with random weights: ``value`` (token classification, one label),
    ``reward`` (sequence classification, one label) or ``lm`` (causal LM)."""
    torch.manual_seed(seed)
    prefix = {"gpt2": "GPT2", "qwen2": "Qwen2"}[arch]
    if kind == "lm":
        model = getattr(
            transformers, f"{prefix}LMHeadModel" if arch == "gpt2" else f"{prefix}ForCausalLM"
        )(_config(arch))
    else:
        cls = "ForTokenClassification" if kind == "value" else "ForSequenceClassification"
        model = getattr(transformers, prefix + cls)(_config(arch, num_labels=1))
        with torch.no_grad():  # values of order 1, so gaps between scores are visible
            head = model.score if hasattr(model, "score") else model.classifier
            head.weight.mul_(20.0)
    model.save_pretrained(str(folder))
    return folder


def write_jsonl(path: Path, rows: Sequence[Any]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            fh.write("\n")
    return path
