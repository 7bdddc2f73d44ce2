"""Token counts with a tokenizer from a local directory (never downloaded, no remote code)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainlens.errors import TrainlensError


@dataclass(frozen=True)
class TokenCounter:
    """Counts the tokens of a text (special tokens not added)."""

    name: str
    _count: Callable[[str], int]
    _decode: Callable[[list[int]], str]

    def count(self, text: str) -> int:
        return self._count(text)

    def decode(self, ids: list[int]) -> str:
        """The text of token ids, special tokens left out."""
        return self._decode(list(ids))


def load_tokenizer(folder: Path | str) -> TokenCounter:
    """The tokenizer in ``folder``: its ``tokenizer.json`` through the ``tokenizers`` library,
    else ``transformers.AutoTokenizer`` with ``local_files_only`` and no remote code."""
    path = Path(folder)
    if not path.is_dir():
        raise TrainlensError(f"{path}: tokenizer directory not found")
    if (path / "tokenizer.json").is_file() and importlib.util.find_spec("tokenizers"):
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as exc:  # the library raises plain Exceptions on bad files
            raise TrainlensError(f"{path / 'tokenizer.json'}: cannot load: {exc}") from exc
        return TokenCounter(
            path.name,
            lambda text: len(tok.encode(text, add_special_tokens=False).ids),
            lambda ids: str(tok.decode(ids, skip_special_tokens=True)),
        )
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TrainlensError(
            f"{path}: reading a tokenizer needs the 'tokenizers' package "
            "(pip install 'trainlens[audit]') or transformers"
        ) from None
    try:
        hf = AutoTokenizer.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # transformers raises many types for a bad folder
        raise TrainlensError(f"{path}: cannot load the tokenizer: {exc}") from exc
    return TokenCounter(
        path.name,
        lambda text: len(hf(text, add_special_tokens=False)["input_ids"]),
        lambda ids: str(hf.decode(ids, skip_special_tokens=True)),
    )
