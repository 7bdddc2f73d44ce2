"""Replay results → Findings of the ``kind: replay`` rules (same shape and renderers as
``analyze``). No torch here. A finding's ``run`` is the batch file's name; ``file``,
``first_line`` and ``lines`` say where in the batch the samples it is about are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainlens.engine.spec import RuleSpec
from trainlens.findings import Finding

EXCERPT_CHARS = 80


@dataclass(frozen=True)
class Where:
    """The batch a finding is about: its path and step window (0, 0 for a plain batch)."""

    file: str
    name: str
    steps: tuple[int, int]


def replay_finding(
    spec: RuleSpec,
    where: Where,
    *,
    metric: str,
    key: str,
    lines: Sequence[int] = (),
    steps: Sequence[int | None] = (),
    peak: float | None = None,
    baseline: float | None = None,
    **numbers: Any,
) -> Finding:
    """A finding of ``spec`` with the rule's params and ``numbers`` as its message fields; its
    step window is that of ``steps`` (the samples it is about) when they have steps, else the
    batch's."""
    unique = sorted(set(lines))
    known = [s for s in steps if s is not None]
    span = (min(known), max(known)) if known else where.steps
    params: dict[str, Any] = {
        **spec.params,
        "file": where.file,
        "file_name": where.name,
        "first_line": unique[0] if unique else None,
        "lines": unique[:20],
        **numbers,
    }
    params.setdefault("count", len(unique))
    params.setdefault("excerpt", None)
    return Finding(
        rule=spec.id,
        severity=spec.severity,
        run=where.name,
        metric=metric,
        key=key,
        start_step=span[0],
        end_step=span[1],
        peak_value=peak,
        baseline=baseline,
        params=params,
    )


def excerpt(text: str | None) -> str | None:
    """A one-line excerpt of a sample's text."""
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"
