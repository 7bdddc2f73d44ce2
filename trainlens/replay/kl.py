"""``replay kl``: per-token log-ratio between a policy and its reference on a batch's response
tokens, the k1/k2/k3 estimators side by side, and the training–inference mismatch when the
batch carries the sampler's log-probs. The two models run one after the other (peak memory of
one model)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.diagnostics import ReadWarning
from trainlens.engine.spec import RuleSpec
from trainlens.errors import TrainlensError
from trainlens.findings import Finding
from trainlens.replay.batch import Batch, read_batch
from trainlens.replay.encode import Encoded
from trainlens.replay.estimators import (
    Estimates,
    Mismatch,
    blowup_mask,
    finite_mean,
    kl_estimates,
    mismatch,
)
from trainlens.replay.findings import Where, excerpt, replay_finding
from trainlens.replay.forward import Progress, run_forward
from trainlens.replay.model import Head, dtype_name, load_model, pick_device, pick_dtype
from trainlens.replay.prepare import RunOptions, encode_batch, find_tokenizer, resolve_eos

#: Tokens named in a ``kl_estimator_blowup`` finding.
MAX_NAMED_TOKENS = 5


@dataclass(frozen=True)
class KLOptions(RunOptions):
    """How to run (the CLI options of ``replay kl``)."""


@dataclass(frozen=True)
class SampleKL:
    """One sample: estimator means over its response tokens."""

    id: str
    role: str | None
    line: int
    step: int | None
    n_tokens: int  # response tokens with a log-ratio
    k1: float | None
    k2: float | None
    k3: float | None
    max_delta: float | None
    blowup_tokens: int
    sampler_mean_abs: float | None = None
    importance_ratio: float | None = None


@dataclass(frozen=True)
class KLSummary:
    """Token-level batch means of the estimators."""

    n_samples: int
    n_tokens: int
    k1_mean: float | None
    k2_mean: float | None
    k3_mean: float | None
    blowup_share: float | None
    max_delta: float | None


@dataclass
class KLResult:
    """Everything ``replay kl`` reports."""

    batch: Batch
    samples: list[SampleKL]
    summary: KLSummary
    mismatch: Mismatch | None
    findings: list[Finding]
    warnings: list[ReadWarning]
    device: str
    dtype: str
    eos_ids: tuple[int, ...]
    batch_size: int
    samples_skipped: int
    ratio: float
    peak_gpu_mib: float | None = None
    notes: list[str] = field(default_factory=list)


def response_logprobs(values: np.ndarray, enc: Encoded) -> np.ndarray:
    """The log-probs of the response tokens (the first is NaN when there is no prompt)."""
    return values[enc.prompt_len :]


def kl_batch(
    policy_dir: Path | str,
    ref_dir: Path | str,
    batch_path: Path | str,
    options: KLOptions = KLOptions(),
    *,
    rules: Sequence[RuleSpec] = (),
    progress: Progress | None = None,
) -> KLResult:
    """Compare ``policy_dir`` and ``ref_dir`` on the response tokens of ``batch_path`` and run
    the ``replay`` rules in ``rules``. Raises TrainlensError when nothing can be compared."""
    if options.batch_size < 1:
        raise TrainlensError("--batch-size must be at least 1")
    specs = {s.id: s for s in rules}
    ratio = (
        float(specs["kl_estimator_blowup"].params["ratio"])
        if "kl_estimator_blowup" in specs
        else 10.0
    )
    batch = read_batch(batch_path, options.steps)
    warnings = list(batch.warnings)
    if not batch.samples:
        raise TrainlensError(batch.nothing_read())
    device = pick_device(options.device)
    dtype = pick_dtype(options.dtype, device)
    remote = options.trust_remote_code
    tokenizer = find_tokenizer(Path(policy_dir), options.tokenizer, trust_remote_code=remote)
    if tokenizer is None and options.tokenizer is None:
        tokenizer = find_tokenizer(Path(ref_dir), None, trust_remote_code=remote)
    logps: list[list[np.ndarray | None]] = []
    encoded: list[Encoded] = []
    notes: list[str] = []
    peak: float | None = None
    eos_ids: frozenset[int] = frozenset()
    for n, folder in enumerate((policy_dir, ref_dir)):
        lm = load_model(
            folder, Head.causal_lm, device=device, dtype=dtype, trust_remote_code=remote
        )
        notes += lm.notes
        if n == 0:  # the policy decides the EOS ids and which samples fit
            eos_ids = resolve_eos(options.eos_id, tokenizer, [lm], warnings)
            encoded = encode_batch(batch, tokenizer, [lm], eos_ids, warnings)
        elif lm.vocab_size is not None and any(max(e.ids) >= lm.vocab_size for e in encoded):
            raise TrainlensError(
                f"{folder}: the reference's vocabulary is smaller than the batch's ids"
            )
        fwd = run_forward(
            lm, [e.ids for e in encoded], batch_size=options.batch_size, progress=progress
        )
        logps.append(fwd.values)
        for i, why in fwd.failed.items():
            warnings.append(
                ReadWarning(str(batch.path), f"line {encoded[i].sample.line}: {why}, skipped")
            )
        if fwd.peak_gpu_mib is not None:
            peak = max(peak or 0.0, fwd.peak_gpu_mib)
        del lm
        _free(device)
    samples: list[SampleKL] = []
    per_token: list[tuple[Encoded, Estimates]] = []
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    paired: list[int] = []
    for i, enc in enumerate(encoded):
        pol, ref = logps[0][i], logps[1][i]
        if pol is None or ref is None:
            continue
        lp_pol, lp_ref = response_logprobs(pol, enc), response_logprobs(ref, enc)
        scored = np.isfinite(lp_pol) & np.isfinite(lp_ref)
        if not scored.any():
            warnings.append(
                ReadWarning(
                    str(batch.path),
                    f"line {enc.sample.line} (id {enc.sample.id}): no response token has a "
                    "prediction (empty prompt and one token), skipped",
                )
            )
            continue
        est = kl_estimates(np.where(scored, lp_pol, 0.0), np.where(scored, lp_ref, 0.0))
        est = Estimates(*(np.where(scored, a, np.nan) for a in (est.delta, est.k1, est.k2, est.k3)))
        sampler = _sampler(enc, lp_pol, scored, str(batch.path), warnings)
        if sampler is not None:
            paired.append(len(samples))
            pairs.append(sampler)
        samples.append(_sample_kl(enc, est, ratio, sampler))
        per_token.append((enc, est))
    if not samples:
        raise TrainlensError(f"{batch.path}: nothing could be compared ({len(warnings)} problems)")
    mm = mismatch(pairs)
    if mm is not None:
        for k, i in enumerate(paired):
            s = samples[i]
            samples[i] = replace(s, importance_ratio=mm.ratios[k])
    result = KLResult(
        batch=batch,
        samples=samples,
        summary=_summary(per_token, ratio),
        mismatch=mm,
        findings=[],
        warnings=warnings,
        device=device.type,
        dtype=dtype_name(dtype),
        eos_ids=tuple(sorted(eos_ids)),
        batch_size=options.batch_size,
        samples_skipped=len(batch.samples) - len(samples),
        ratio=ratio,
        peak_gpu_mib=peak,
        notes=notes,
    )
    result.findings = kl_findings(
        result, specs, per_token, [paired[mm.worst]] if mm else [], tokenizer
    )
    return result


def _free(device: Any) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        import torch

        torch.cuda.empty_cache()


def _sampler(
    enc: Encoded, lp_pol: np.ndarray, scored: np.ndarray, source: str, warnings: list[ReadWarning]
) -> tuple[np.ndarray, np.ndarray] | None:
    given = enc.sample.sampler_logprobs
    if given is None:
        return None
    if len(given) != enc.n_response:
        warnings.append(
            ReadWarning(
                source,
                f"line {enc.sample.line} (id {enc.sample.id}): sampler_logprobs has {len(given)} "
                f"values for {enc.n_response} response tokens, ignored",
            )
        )
        return None
    sampler = np.asarray(given, dtype=float)
    return sampler[scored], lp_pol[scored]


def _sample_kl(
    enc: Encoded, est: Estimates, ratio: float, sampler: tuple[np.ndarray, np.ndarray] | None
) -> SampleKL:
    s = enc.sample
    scored = np.isfinite(est.delta)
    return SampleKL(
        id=s.id,
        role=s.role,
        line=s.line,
        step=s.step,
        n_tokens=int(scored.sum()),
        k1=finite_mean(est.k1),
        k2=finite_mean(est.k2),
        k3=finite_mean(est.k3),
        max_delta=float(np.nanmax(est.delta)),
        blowup_tokens=int(blowup_mask(est, ratio).sum()),
        sampler_mean_abs=None if sampler is None else float(np.abs(sampler[0] - sampler[1]).mean()),
    )


def _summary(per_token: Sequence[tuple[Encoded, Estimates]], ratio: float) -> KLSummary:
    def cat(name: str) -> np.ndarray:
        arrays = [getattr(e, name) for _, e in per_token]
        flat = np.concatenate(arrays) if arrays else np.array([])
        return flat[np.isfinite(flat) | np.isinf(flat)] if name == "k3" else flat[np.isfinite(flat)]

    delta = cat("delta")
    n_blowup = sum(int(blowup_mask(e, ratio).sum()) for _, e in per_token)
    return KLSummary(
        n_samples=len(per_token),
        n_tokens=len(delta),
        k1_mean=float(cat("k1").mean()) if len(delta) else None,
        k2_mean=float(cat("k2").mean()) if len(delta) else None,
        k3_mean=float(cat("k3").mean()) if len(delta) else None,
        blowup_share=n_blowup / len(delta) if len(delta) else None,
        max_delta=float(delta.max()) if len(delta) else None,
    )


def kl_findings(
    result: KLResult,
    specs: dict[str, RuleSpec],
    per_token: Sequence[tuple[Encoded, Estimates]],
    worst_mismatch: Sequence[int],
    tokenizer: Any | None,
) -> list[Finding]:
    """The findings of ``kl_estimator_blowup`` and ``train_inference_mismatch``."""
    where = Where(str(result.batch.path), result.batch.path.name, result.batch.step_span)
    out: list[Finding] = []
    s = result.summary
    spec = specs.get("kl_estimator_blowup")
    if spec is not None:
        hits = []  # (k3, sample index, response position)
        k3_total = 0.0
        for i, (_, est) in enumerate(per_token):
            mask = blowup_mask(est, result.ratio)
            k3_total += float(np.nansum(est.k3))
            hits += [(float(est.k3[p]), i, int(p)) for p in np.flatnonzero(mask)]
        if len(hits) >= int(spec.params["min_tokens"]):
            hits.sort(reverse=True)
            named = [_token(per_token[i], p, tokenizer) for _, i, p in hits[:MAX_NAMED_TOKENS]]
            part = sum(h[0] for h in hits) / k3_total if k3_total > 0 else 1.0
            first = per_token[hits[0][1]][0]
            out.append(
                replay_finding(
                    spec,
                    where,
                    metric="kl",
                    key="k3",
                    lines=[per_token[i][0].sample.line for _, i, _ in hits],
                    peak=s.k3_mean,
                    baseline=s.k2_mean,
                    count=len(hits),
                    first_line=first.sample.line,
                    share=s.blowup_share,
                    k1_mean=s.k1_mean,
                    k2_mean=s.k2_mean,
                    k3_mean=s.k3_mean,
                    blowup_part=part,
                    max_delta=s.max_delta,
                    tokens=named,
                    excerpt=excerpt(first.sample.response.text),
                )
            )
    spec = specs.get("train_inference_mismatch")
    m = result.mismatch
    if spec is not None and m is not None:
        low, high = float(spec.params["ratio_low"]), float(spec.params["ratio_high"])
        outside = [k for k, r in enumerate(m.ratios) if not low <= r <= high]
        mean_exceeded = m.mean_abs > float(spec.params["mean_abs_limit"])
        if outside or mean_exceeded:
            worst = result.samples[worst_mismatch[0]]
            with_logprobs = [x for x in result.samples if x.importance_ratio is not None]
            out.append(
                replay_finding(
                    spec,
                    where,
                    metric="sampler_logprob",
                    key="policy",
                    lines=[with_logprobs[k].line for k in outside] or [worst.line],
                    peak=m.mean_abs,
                    count=len(outside),
                    first_line=worst.line,
                    id=worst.id,
                    mean_abs=m.mean_abs,
                    max_abs=m.max_abs,
                    ratio_min=m.ratio_min,
                    ratio_max=m.ratio_max,
                    n_samples=m.n_samples,
                    n_tokens=m.n_tokens,
                    mean_exceeded=mean_exceeded,
                )
            )
    return out


def _token(item: tuple[Encoded, Estimates], pos: int, tokenizer: Any | None) -> str:
    enc, est = item
    tok_id = enc.ids[enc.prompt_len + pos]
    text = str(tok_id)
    if tokenizer is not None:
        try:
            text = repr(str(tokenizer.convert_ids_to_tokens(tok_id)))
        except (ValueError, TypeError, IndexError, KeyError):
            pass
    return (
        f"{enc.sample.id}@{pos} {text} (Δ={est.delta[pos]:.3g}, k3={est.k3[pos]:.3g}, "
        f"k2={est.k2[pos]:.3g})"
    )
