"""Audit label masks: which tokens a fine-tuning batch supervises (labels ≠ -100).

Reads JSONL with ``input_ids`` and ``labels`` (one sample per line, or a batch: lists of
lists), optional ``attention_mask``; a torch ``.pt`` batch through the replay extra. Reports
the supervised share per sample and overall, samples with no supervised token, samples that
supervise from their first (prompt) token, labels that are not the input tokens, and, with a
tokenizer and ``answer_only``, samples that supervise text outside ``<answer>…</answer>``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from trainlens.audit.completions import Example, excerpt
from trainlens.audit.stats import Histogram
from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec
from trainlens.errors import TrainlensError
from trainlens.findings import Finding
from trainlens.readers.completions import MAX_LINE_BYTES, iter_lines

IGNORE = -100


class Decoder(Protocol):
    def decode(self, ids: list[int]) -> str: ...


@dataclass
class LabelAudit:
    """Totals of a label audit; ``shares`` holds per-sample supervised shares in ‰."""

    path: str
    n: int = 0
    tokens: int = 0
    supervised: int = 0
    no_supervised: int = 0
    prompt_supervised: int = 0
    all_supervised: int = 0
    mismatched: int = 0  # samples whose supervised labels are not their own tokens
    shifted: int = 0  # ... that are their next tokens (labels already shifted by one)
    beyond_answer: int | None = None
    skipped: int = 0
    shares: Histogram = field(default_factory=Histogram)
    examples: dict[str, list[Example]] = field(default_factory=dict)
    warnings: list[ReadWarning] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def share(x: int | None) -> float | None:
            return None if x is None or not self.n else x / self.n

        per_sample = self.shares.describe()
        return {
            "n": self.n,
            "tokens": self.tokens,
            "supervised_tokens": self.supervised,
            "supervised_share": self.supervised / self.tokens if self.tokens else None,
            "per_sample_share": (
                {k: v if k == "n" else v / 1000 for k, v in per_sample.items()}
                if per_sample
                else None
            ),
            "no_supervised": self.no_supervised,
            "no_supervised_rate": share(self.no_supervised),
            "prompt_supervised": self.prompt_supervised,
            "prompt_supervised_rate": share(self.prompt_supervised),
            "all_supervised": self.all_supervised,
            "mismatched": self.mismatched,
            "shifted": self.shifted,
            "beyond_answer": self.beyond_answer,
            "beyond_answer_rate": share(self.beyond_answer),
        }


def audit_labels(
    path: Path | str,
    *,
    tokenizer: Decoder | None = None,
    answer_only: bool = False,
    examples: int = 3,
) -> LabelAudit:
    """Audit the label masks of ``path`` (JSONL, or ``.pt`` with the replay extra)."""
    file = Path(path)
    out = LabelAudit(str(file))
    out.examples = {k: [] for k in ("no_supervised", "prompt_supervised", "beyond_answer")}
    if answer_only and tokenizer is not None:
        out.beyond_answer = 0
    for where, ids, labels, mask in _samples(file, out):
        _add(out, where, ids, labels, mask, tokenizer if answer_only else None, examples)
    return out


def _samples(
    path: Path, out: LabelAudit
) -> Iterator[tuple[str, list[int], list[int], list[int] | None]]:
    if path.suffix in {".pt", ".pth", ".bin"}:
        try:
            from trainlens.replay.batch_file import load_label_batch
        except ImportError:
            raise TrainlensError(
                f"{path}: reading a .pt batch needs torch (pip install 'trainlens[replay]')"
            ) from None
        for i, (ids, labels, mask) in enumerate(load_label_batch(path)):
            yield f"#{i}", ids, labels, mask
        return
    first_bad = None
    try:
        fh = open(path, "rb")  # noqa: SIM115  (closed below; a generator holds it)
    except OSError as exc:
        raise TrainlensError(f"{path}: cannot read ({exc.strerror})") from exc
    with fh:
        for line_no, raw in enumerate(iter_lines(fh), start=1):
            if not raw.strip():
                continue
            obj = None
            if len(raw) <= MAX_LINE_BYTES:
                try:
                    obj = orjson.loads(raw)
                except (orjson.JSONDecodeError, RecursionError):
                    obj = None
            rows = _rows(obj)
            if rows is None:
                out.skipped += 1
                first_bad = first_bad or line_no
                continue
            for j, (ids, labels, mask) in enumerate(rows):
                where = f"line {line_no}" if len(rows) == 1 else f"line {line_no}#{j}"
                yield where, ids, labels, mask
    if out.skipped:
        out.warnings.append(
            ReadWarning(
                str(path),
                f"{out.skipped} line(s) without int lists input_ids/labels of one length "
                f"skipped (first: line {first_bad})",
            )
        )


def _rows(obj: Any) -> list[tuple[list[int], list[int], list[int] | None]] | None:
    if not isinstance(obj, dict):
        return None
    ids, labels, mask = obj.get("input_ids"), obj.get("labels"), obj.get("attention_mask")
    if not isinstance(ids, list) or not isinstance(labels, list) or not ids:
        return None
    if all(isinstance(x, list) for x in ids):  # a batch
        masks = mask if isinstance(mask, list) and len(mask) == len(ids) else [None] * len(ids)
        if len(labels) != len(ids):
            return None
        rows = [_row(i, lab, m) for i, lab, m in zip(ids, labels, masks)]
        return None if any(r is None for r in rows) else rows  # type: ignore[return-value]
    row = _row(ids, labels, mask)
    return None if row is None else [row]


def _row(ids: Any, labels: Any, mask: Any) -> tuple[list[int], list[int], list[int] | None] | None:
    if not isinstance(ids, list) or not isinstance(labels, list) or len(ids) != len(labels):
        return None
    if not all(isinstance(x, int) for x in ids) or not all(isinstance(x, int) for x in labels):
        return None
    if not (isinstance(mask, list) and len(mask) == len(ids)):
        mask = None
    return ids, labels, mask


def _add(
    out: LabelAudit,
    where: str,
    ids: list[int],
    labels: list[int],
    mask: list[int] | None,
    decoder: Decoder | None,
    limit: int,
) -> None:
    real = [i for i in range(len(ids)) if mask is None or mask[i]]
    sup = [i for i in real if labels[i] != IGNORE]
    out.n += 1
    out.tokens += len(real)
    out.supervised += len(sup)
    out.shares.add(round(1000 * len(sup) / len(real)) if real else 0)

    def keep(kind: str, detail: str, shown: str = "") -> None:
        if len(out.examples[kind]) < limit:
            name = Path(out.path).name
            out.examples[kind].append(Example(where, name, _line(where), shown, detail))

    if not sup:
        out.no_supervised += 1
        keep("no_supervised", f"{len(real)} tokens, none supervised")
        return
    if real and sup[0] == real[0]:
        out.prompt_supervised += 1
        keep("prompt_supervised", f"{len(sup)} of {len(real)} tokens supervised from the first")
    if len(sup) == len(real):
        out.all_supervised += 1
    if any(labels[i] != ids[i] for i in sup):
        out.mismatched += 1
        if all(i + 1 < len(ids) and labels[i] == ids[i + 1] for i in sup):
            out.shifted += 1
    if decoder is not None and out.beyond_answer is not None:
        text = decoder.decode([ids[i] for i in real])
        span = text[text.find("<answer>") : text.rfind("</answer>") + len("</answer>")]
        supervised_text = decoder.decode([ids[i] for i in sup]).strip()
        if "<answer>" not in text or supervised_text not in span:
            out.beyond_answer += 1
            keep("beyond_answer", "supervised text outside <answer>", excerpt(supervised_text, 80))


def _line(where: str) -> int:
    head = where.split("#")[0]
    return int(head[5:]) if head.startswith("line ") else 0


def label_findings(audit: LabelAudit, specs: Sequence[RuleSpec], run: str) -> list[Finding]:
    """``label_mask_suspect`` when samples supervise nothing, supervise from their first
    (prompt) token in at least ``prompt_share`` of samples, carry labels that are not their
    tokens (nor the next ones), or supervise text outside the answer when only it should be."""
    spec = next((s for s in specs if s.id == "label_mask_suspect"), None)
    if spec is None or not audit.n:
        return []
    prompt_share = float(spec.params.get("prompt_share", 0.5))
    wrong = audit.mismatched - audit.shifted
    problems = [
        audit.no_supervised > 0,
        audit.prompt_supervised / audit.n >= prompt_share,
        wrong > 0,
        bool(audit.beyond_answer),
    ]
    if not any(problems):
        return []
    shown = [
        e
        for kind in ("no_supervised", "prompt_supervised", "beyond_answer")
        for e in audit.examples.get(kind, [])
    ][:3]
    s = audit.summary()
    params: dict[str, Any] = {name: "" for name in spec.outputs}
    params.update(
        n=audit.n,
        supervised_pct=round(100 * (s["supervised_share"] or 0.0), 2),
        no_supervised=audit.no_supervised,
        prompt_supervised=audit.prompt_supervised,
        mismatched=wrong,
        beyond_answer=audit.beyond_answer if audit.beyond_answer is not None else "—",
        example_ids=", ".join(e.id for e in shown) or "—",
        file=audit.path,
        file_name=Path(audit.path).name,
        first_line=shown[0].line if shown and shown[0].line else None,
        lines=[e.line for e in shown if e.line],
        excerpt=shown[0].excerpt or shown[0].detail if shown else "",
        count=sum((audit.no_supervised, audit.prompt_supervised, wrong, audit.beyond_answer or 0)),
        examples=[e.to_dict() for e in shown],
    )
    return [
        Finding(
            rule=spec.id,
            severity=spec.severity,
            run=run,
            metric="supervised_share",
            key="supervised_share",
            start_step=0,
            end_step=0,
            peak_value=s["supervised_share"],
            params=params,
        )
    ]
