"""Live checks inside the training process: :class:`Monitor` for any loop, and
``TrainlensCallback`` for trainers built on ``transformers`` (imported only when used)."""

from __future__ import annotations

from typing import Any

from trainlens.live.monitor import POLICY_RULE, Monitor, policy_finding

__all__ = ["POLICY_RULE", "Monitor", "TrainlensCallback", "policy_finding"]


def __getattr__(name: str) -> Any:
    if name == "TrainlensCallback":
        from trainlens.live.callback import TrainlensCallback

        return TrainlensCallback
    raise AttributeError(f"module 'trainlens.live' has no attribute {name!r}")
