"""``replay score``: re-score a batch with a value or reward model; scores with EOS included
and excluded, the batch summary, a padding self-check and the findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec
from trainlens.errors import TrainlensError
from trainlens.findings import Finding
from trainlens.replay.batch import Batch, read_batch
from trainlens.replay.encode import Encoded
from trainlens.replay.findings import Where, excerpt, replay_finding
from trainlens.replay.forward import Progress, batch_outputs, run_forward
from trainlens.replay.model import (
    Head,
    LoadedModel,
    dtype_name,
    load_model,
    pick_device,
    pick_dtype,
)
from trainlens.replay.prepare import RunOptions, encode_batch, find_tokenizer, resolve_eos
from trainlens.replay.scores import (
    Aggregate,
    IdenticalGroup,
    SampleScore,
    ScoreSummary,
    aggregate_scores,
    identical_groups,
    summarize,
    with_pair_gaps,
)


@dataclass(frozen=True)
class ScoreOptions(RunOptions):
    """How to score (the CLI options of ``replay score``)."""

    head: str = "value"  # value | reward
    aggregate: Aggregate = Aggregate.mean
    include_eos: bool = True


@dataclass(frozen=True)
class PaddingCheck:
    """Probed samples re-scored alone and with the other padding side."""

    n_checked: int
    tolerance: float
    max_diff: float
    worst: int  # index into the scored samples
    by_side: bool  # the worst difference came from the padding side, not from being alone
    differing: tuple[int, ...]


@dataclass
class ScoreResult:
    """Everything ``replay score`` reports."""

    batch: Batch
    samples: list[SampleScore]
    summary: ScoreSummary
    groups: list[IdenticalGroup]
    findings: list[Finding]
    warnings: list[ReadWarning]
    options: ScoreOptions
    device: str
    dtype: str
    eos_ids: tuple[int, ...]
    samples_skipped: int
    padding: PaddingCheck | None = None
    peak_gpu_mib: float | None = None
    notes: list[str] = field(default_factory=list)


def score_batch(
    model_dir: Path | str,
    batch_path: Path | str,
    options: ScoreOptions = ScoreOptions(),
    *,
    rules: Sequence[RuleSpec] = (),
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every readable sample of ``batch_path`` with the model in ``model_dir`` and run
    the ``replay`` rules in ``rules`` over the result. Raises TrainlensError when the inputs
    cannot be used at all or nothing could be scored."""
    if options.head not in ("value", "reward"):
        raise TrainlensError(f"--head {options.head!r}: expected value or reward")
    if options.batch_size < 1:
        raise TrainlensError("--batch-size must be at least 1")
    batch = read_batch(batch_path, options.steps)
    warnings = list(batch.warnings)
    if not batch.samples:
        raise TrainlensError(batch.nothing_read())
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device)
    head = Head(options.head)
    lm = load_model(
        model_dir, head, device=device, dtype=dtype, trust_remote_code=options.trust_remote_code
    )
    tokenizer = find_tokenizer(
        Path(model_dir), options.tokenizer, trust_remote_code=options.trust_remote_code
    )
    eos_ids = resolve_eos(options.eos_id, tokenizer, [lm], warnings)
    encoded = encode_batch(batch, tokenizer, [lm], eos_ids, warnings)
    fwd = run_forward(
        lm, [e.ids for e in encoded], batch_size=options.batch_size, progress=progress
    )
    kept: list[Encoded] = []
    samples: list[SampleScore] = []
    for i, enc in enumerate(encoded):
        values = fwd.values[i]
        if values is None:
            warnings.append(
                ReadWarning(str(batch.path), f"line {enc.sample.line}: {fwd.failed[i]}, skipped")
            )
            continue
        kept.append(enc)
        samples.append(_sample_score(values, enc, options))
    if not samples:
        raise TrainlensError(f"{batch.path}: nothing could be scored ({len(warnings)} problems)")
    samples = with_pair_gaps(samples)
    groups = identical_groups(samples, kept)
    specs = {s.id: s for s in rules}
    padding = None
    if "padding_sensitivity" in specs:
        padding = check_padding(lm, kept, samples, options, specs["padding_sensitivity"])
    result = ScoreResult(
        batch=batch,
        samples=samples,
        summary=summarize(samples, groups),
        groups=groups,
        findings=[],
        warnings=warnings,
        options=options,
        device=device.type,
        dtype=dtype_name(dtype),
        eos_ids=tuple(sorted(eos_ids)),
        samples_skipped=len(batch.samples) - len(samples),
        padding=padding,
        peak_gpu_mib=fwd.peak_gpu_mib,
        notes=list(lm.notes),
    )
    texts = {id(enc.sample): _text(enc, tokenizer) for enc in kept}
    result.findings = score_findings(result, specs, [texts[id(e.sample)] for e in kept])
    return result


def _sample_score(values: np.ndarray, enc: Encoded, options: ScoreOptions) -> SampleScore:
    with_eos, without_eos = aggregate_scores(values, enc, options.head, options.aggregate)
    s = enc.sample
    return SampleScore(
        id=s.id,
        role=s.role,
        line=s.line,
        step=s.step,
        n_tokens=enc.n_response,
        n_eos=enc.n_eos,
        score_with_eos=with_eos,
        score_without_eos=without_eos,
        score=with_eos if options.include_eos else without_eos,
    )


def _text(enc: Encoded, tokenizer: Any | None) -> str | None:
    if enc.sample.response.text is not None:
        return enc.sample.response.text
    if tokenizer is None:
        return None
    try:
        return str(tokenizer.decode(list(enc.ids[enc.prompt_len :])))
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def tolerance(spec: RuleSpec, dtype: str) -> float:
    """The padding check's tolerance for ``dtype`` (relative to max(1, |score|))."""
    return float(spec.params.get(f"tol_{dtype}", spec.params.get("tol_fp32", 1e-4)))


def check_padding(
    lm: LoadedModel,
    encoded: Sequence[Encoded],
    samples: Sequence[SampleScore],
    options: ScoreOptions,
    spec: RuleSpec,
) -> PaddingCheck | None:
    """Re-score the shortest samples (the most padded in their batch) alone, and together with
    the longest sample on the other padding side; compare with the batch scores."""
    if len(encoded) < 2:
        return None
    k = max(1, int(spec.params.get("probe_samples", 4)))
    by_len = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
    probes = by_len[:k]
    longest = by_len[-1]
    tol = tolerance(spec, dtype_name(lm.dtype))
    diffs: dict[int, tuple[float, bool]] = {}

    def compare(i: int, values: np.ndarray, by_side: bool) -> None:
        with_eos, without_eos = aggregate_scores(
            values, encoded[i], options.head, options.aggregate
        )
        ref = samples[i]
        d = _rel_diff(ref.score_with_eos, with_eos)
        if without_eos is not None and ref.score_without_eos is not None:
            d = max(d, _rel_diff(ref.score_without_eos, without_eos))
        if i not in diffs or d > diffs[i][0]:
            diffs[i] = (d, by_side)

    import torch

    with torch.inference_mode():
        for i in probes:
            compare(i, batch_outputs(lm, [encoded[i].ids], "right")[0], False)
        group = [*probes, longest] if longest not in probes else probes
        outs = batch_outputs(lm, [encoded[i].ids for i in group], "left")
        for i, values in zip(group, outs):
            compare(i, values, True)
    worst = max(diffs, key=lambda i: diffs[i][0])
    return PaddingCheck(
        n_checked=len(diffs),
        tolerance=tol,
        max_diff=diffs[worst][0],
        worst=worst,
        by_side=diffs[worst][1],
        differing=tuple(sorted(i for i, (d, _) in diffs.items() if d > tol)),
    )


def _rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a))


def score_findings(
    result: ScoreResult, specs: dict[str, RuleSpec], texts: Sequence[str | None]
) -> list[Finding]:
    """The findings of the ``replay`` rules in ``specs`` for a scored batch."""
    where = Where(str(result.batch.path), result.batch.path.name, result.batch.step_span)
    key = f"{result.options.head}:{result.options.aggregate.value}"
    samples = result.samples
    out: list[Finding] = []
    spec = specs.get("eos_mask_bias")
    if spec is not None and result.groups:
        g = result.groups[0]
        if g.gap_with_eos > float(spec.params["min_gap"]):
            members = [samples[i] for i in g.members]
            out.append(
                replay_finding(
                    spec,
                    where,
                    metric="score",
                    key=key,
                    lines=[s.line for s in members],
                    steps=[s.step for s in members],
                    peak=g.gap_with_eos,
                    baseline=g.gap_without_eos,
                    count=len(members),
                    ids=sorted({s.id for s in members}),
                    gap=g.gap_with_eos,
                    gap_without_eos=g.gap_without_eos,
                    fixed=g.gap_without_eos is not None
                    and g.gap_without_eos <= float(spec.params["min_gap"]),
                    excerpt=excerpt(texts[g.members[0]]),
                )
            )
    spec = specs.get("replay_length_bias")
    corr = result.summary.length_score_corr
    if (
        spec is not None
        and corr is not None
        and len(samples) >= int(spec.params["min_samples"])
        and abs(corr) > float(spec.params["limit"])
    ):
        out.append(
            replay_finding(
                spec,
                where,
                metric="score",
                key=key,
                peak=corr,
                count=len(samples),
                corr=corr,
                n_samples=len(samples),
            )
        )
    spec = specs.get("padding_sensitivity")
    pad = result.padding
    if spec is not None and pad is not None and pad.differing:
        worst = samples[pad.worst]
        out.append(
            replay_finding(
                spec,
                where,
                metric="score",
                key=key,
                lines=[worst.line, *(samples[i].line for i in pad.differing)],
                steps=[samples[i].step for i in pad.differing],
                peak=pad.max_diff,
                baseline=pad.tolerance,
                count=len(pad.differing),
                first_line=worst.line,
                id=worst.id,
                max_diff=pad.max_diff,
                tolerance=pad.tolerance,
                dtype=result.dtype,
                n_checked=pad.n_checked,
                by_side=pad.by_side,
                excerpt=excerpt(texts[pad.worst]),
            )
        )
    return out
