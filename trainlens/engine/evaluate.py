"""Run the rules over one run: resolve each rule's metrics, call its detector, build Findings."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlens.checkpoints import recommend_checkpoint
from trainlens.diagnostics import ReadWarning
from trainlens.engine.episodes import Watched, episode_findings, jumps
from trainlens.engine.messages import make_skipped
from trainlens.engine.registry import NotApplicable, Trace, Window
from trainlens.engine.spec import RuleSpec
from trainlens.findings import EvidenceRow, Finding, Severity, Skipped
from trainlens.run import Run
from trainlens.settings import RunSettings

MAX_EVIDENCE_ROWS = 12
#: Findings one rule may report on one series; past that the series is anomalous throughout
#: and a warning says how many more windows there were.
MAX_WINDOWS = 50
_GLOB = frozenset("*?[")


@dataclass
class RunOutcome:
    """Everything the rules said about one run."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)
    crashed: bool = False  # a detector or the episode pass raised (its warning says which)


@dataclass(frozen=True)
class Input:
    """One resolved detector input: the metric's display name, raw key and finite points."""

    metric: str
    key: str
    trace: Trace


def display_name(run: Run, key: str) -> str:
    """The canonical name when ``key`` is the run's preferred key for it, else the raw key."""
    canonical = run.canonical(key)
    return canonical if canonical and run.resolve(canonical) == key else key


def expand(run: Run, selector: str) -> list[tuple[str, str]]:
    """``(metric, key)`` pairs a metric selector names in ``run``: a canonical or raw name
    (its preferred key), or a glob over canonical names and raw keys."""
    if not _GLOB & set(selector):
        key = run.resolve(selector)
        if key is None:
            return []
        return [(selector if run.keys_for(selector) else display_name(run, key), key)]
    found: dict[str, str] = {}
    for c in run.canonical_names:
        key = run.resolve(c)
        if key is not None and fnmatch.fnmatchcase(c, selector):
            found.setdefault(key, c)
    for key in run.keys:
        if fnmatch.fnmatchcase(key, selector):
            found.setdefault(key, display_name(run, key))
    return [(m, k) for k, m in found.items()]


def _trace(run: Run, key: str, raw: bool) -> Trace:
    arrays = run.key_arrays(key)
    assert arrays is not None
    steps, values = arrays
    values = values.astype(np.float64, copy=False)
    head = run.head_points.get(key, 0)
    if not raw:
        ok = np.isfinite(values)
        if not ok.all():
            steps, values = steps[ok], values[ok]
    return Trace(steps, values, head)


def _jobs(run: Run, spec: RuleSpec) -> list[list[Input | None]]:
    """The detector calls a rule needs on ``run``: one per metric for one-series detectors; for
    multi-series detectors one per series of the first input (all its ``|`` alternatives and
    glob matches) with the other inputs resolved to their first matching alternative (None for
    an absent optional input)."""
    info = spec.info
    if info.arity == 0:
        return [[]]
    if info.arity == 1:
        seen: dict[str, str] = {}
        for selector in spec.metrics:  # ``a|b``: b only when the run logs no a
            for alt in selector.split("|"):
                hits = expand(run, alt.strip())
                for metric, key in hits:
                    seen.setdefault(key, metric)
                if hits:
                    break
        return [[Input(m, k, _trace(run, k, info.raw))] for k, m in seen.items()]
    rest: list[Input | None] = []
    for name, selector in zip(info.inputs[1:], spec.metrics[1:]):
        found = None
        for alt in selector.split("|"):
            hits = expand(run, alt.strip())
            if hits:
                found = Input(hits[0][0], hits[0][1], _trace(run, hits[0][1], info.raw))
                break
        if found is None and name not in info.optional:
            return []
        rest.append(found)
    firsts: dict[str, str] = {}  # the first input: every alternative, globs expanded
    for alt in spec.metrics[0].split("|"):
        for metric, key in expand(run, alt.strip()):
            firsts.setdefault(key, metric)
    if not firsts:
        if info.inputs[0] not in info.optional or not any(i is not None for i in rest):
            return []
        return [[None, *rest]]
    return [[Input(m, k, _trace(run, k, info.raw)), *rest] for k, m in firsts.items()]


def skip_record(run: Run, spec: RuleSpec) -> Skipped:
    """Why ``spec`` has nothing to look at in ``run``."""
    selectors: tuple[str, ...] = spec.metrics
    if spec.info.arity > 1:
        missing = tuple(
            sel
            for name, sel in zip(spec.info.inputs, spec.metrics)
            if name not in spec.info.optional
            and not any(expand(run, a.strip()) for a in sel.split("|"))
        )
        selectors = missing or spec.metrics
    if spec.metrics and spec.metrics[0].split("|")[0] == "kl":
        settings = run.meta.settings
        if settings.kl_coef == 0:
            return make_skipped(spec.id, run.name, "kl_beta_zero", how=kl_off_how(settings))
        llm_rl = (
            run.meta.framework in ("trl", "ms-swift", "verl", "openrlhf")
            or "response_length_mean" in run.canonical_names
        )
        if llm_rl and any(c == "reward" or c.startswith("reward/") for c in run.canonical_names):
            return make_skipped(spec.id, run.name, "kl_absent_rl", how=kl_off_how(settings))
    return make_skipped(spec.id, run.name, "not_logged", selectors=selectors)


def _context(run: Run, spec: RuleSpec, inputs: Sequence[Input | None]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for name in spec.info.context:
        if name in spec.params:
            continue
        if name == "direction" and inputs and inputs[0] is not None:
            ctx[name] = run.info(inputs[0].metric).direction
        elif name == "restarts":
            ctx[name] = tuple(r.to_dict() for r in run.meta.restarts)
        elif name == "interval":
            ctx[name] = logging_interval(run)
        elif name == "kl_coef":
            ctx[name] = run.meta.settings.kl_coef
        elif name == "clip_threshold":
            ctx[name] = clip_threshold(run)
    return ctx


#: How each framework turns the KL penalty off by default (others: their KL key set to 0).
_KL_OFF_DEFAULT = {
    "verl": "actor_rollout_ref.actor.use_kl_loss: false and algorithm.use_kl_in_reward: false, "
    "verl's defaults",
    "trl": "beta: 0, TRL's default",
}


def kl_off_how(settings: RunSettings) -> str:
    """How this run turns (or would turn) its KL penalty off, in its own config spelling."""
    key = settings.key("beta")
    if key is not None and settings.kl_coef == 0:
        return key if ":" in key else f"{key}: 0"
    framework = settings.framework or ""
    if framework in _KL_OFF_DEFAULT:
        return _KL_OFF_DEFAULT[framework]
    return f"{settings.spelling('beta') or 'beta'}: 0"


def kl_coef(config: dict[str, Any], framework: str | None = None) -> float | None:
    """The KL penalty coefficient of a run config (``beta``, verl's ``kl_loss_coef`` when
    ``use_kl_loss``, ...; 0 when every KL term is off), or None: see ``rules/settings.yaml``."""
    return RunSettings(config, framework).kl_coef


def max_grad_norm(config: dict[str, Any], framework: str | None = None) -> float | None:
    """The gradient-clipping threshold a run config sets (``max_grad_norm``, verl's
    ``actor_rollout_ref.actor.grad_clip``, ...: see ``rules/settings.yaml``), or None when the
    config does not say. 0 or less: clipping is off."""
    return RunSettings(config, framework).number("max_grad_norm")


def clip_threshold(run: Run) -> float | None:
    """The norm at which the run's gradients are clipped: the config's (:func:`max_grad_norm`),
    else the cap a logged post-clip norm shows (``grad_norm_clipped`` equal to one value at every
    logged step where the pre-clip ``grad_norm`` is above it). None: not known; 0 or less: off."""
    configured = run.meta.settings.number("max_grad_norm")  # = max_grad_norm(config, framework)
    if configured is not None:
        return configured
    pre_key, post_key = run.resolve("grad_norm"), run.resolve("grad_norm_clipped")
    if pre_key is None or post_key is None:
        return None
    pre, post = run.key_arrays(pre_key), run.key_arrays(post_key)
    if pre is None or post is None:
        return None
    _, ia, ib = np.intersect1d(pre[0], post[0], return_indices=True)
    a, b = pre[1][ia].astype(np.float64), post[1][ib].astype(np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    cut = a > b * (1 + 1e-3)
    if not len(a) or not cut.any() or (b > a * (1 + 1e-3)).any():
        return None
    cap = float(np.max(b))
    return cap if np.allclose(b[cut], cap, rtol=1e-3) else None


def logging_interval(run: Run) -> float:
    """The typical step distance between two logged points of the run's most-logged metric."""
    best: np.ndarray | None = None
    for key in run.keys:
        arrays = run.key_arrays(key)
        if arrays is not None and (best is None or len(arrays[0]) > len(best)):
            best = arrays[0]
    if best is None or len(best) < 2:
        return 1.0
    return float(max(1.0, np.median(np.diff(best))))


def value_at(run: Run, key: str, step: int) -> float | None:
    """The value ``key`` logged at ``step`` (None when it logged nothing there)."""
    arrays = run.key_arrays(key) if key else None
    if arrays is None:
        return None
    steps, values = arrays
    i = int(np.searchsorted(steps, step))
    return float(values[i]) if i < len(steps) and steps[i] == step else None


def evidence(trace: Trace, w: Window) -> tuple[EvidenceRow, ...]:
    """The informative rows of a window: a little context before it, its start, peak and end."""
    n = len(trace)
    if w.rows is not None:
        idx = sorted({i for i in w.rows if 0 <= i < n})
    elif w.start is None or w.end is None:
        return ()
    else:
        a, b = w.start, w.end
        p = w.peak if w.peak is not None else a
        cand = {a - 2, a - 1, a, a + 1, p - 1, p, p + 1, b, b + 1}
        if b - a <= 6:
            cand |= set(range(a, b + 1))
        else:  # a long window: a few evenly spaced rows show its course
            cand |= {int(i) for i in np.linspace(a, b, 6)[1:-1]}
        idx = sorted(i for i in cand if 0 <= i < n)
    if len(idx) > MAX_EVIDENCE_ROWS:
        idx = idx[: MAX_EVIDENCE_ROWS - 2] + idx[-2:]
    v = trace.values
    rows = []
    for i in idx:
        change = (
            float(v[i] - v[i - 1])
            if i > 0 and np.isfinite(v[i]) and np.isfinite(v[i - 1])
            else None
        )
        rows.append(EvidenceRow(step=int(trace.steps[i]), value=float(v[i]), change=change))
    return tuple(rows)


def _checkpoint_name(run: Run, best_step: int, onset: int | None) -> str | None:
    ckpt = recommend_checkpoint(run.meta.checkpoints, best_step, onset)
    if ckpt is None:
        return None
    path, root = Path(ckpt.path), Path(run.path)
    for base in (root, root.parent):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name


def _finding(run: Run, spec: RuleSpec, w: Window, inputs: Sequence[Input | None]) -> Finding:
    src = inputs[w.series] if w.series is not None and w.series < len(inputs) else None
    if src is None:
        src = next((i for i in inputs if i is not None), None)
    numbers = dict(w.numbers)
    best_step = numbers.get("best_step")
    ckpt = None
    if best_step is not None:
        ckpt = _checkpoint_name(run, int(best_step), numbers.get("onset_step"))
    return Finding(
        rule=spec.id,
        severity=spec.severity_for({**numbers, "peak_value": w.peak_value}),
        run=run.name,
        metric=src.metric if src else "",
        key=src.key if src else "",
        start_step=w.start_step,
        end_step=w.end_step,
        peak_step=w.peak_step,
        peak_value=w.peak_value,
        baseline=w.baseline,
        evidence=evidence(src.trace, w) if src is not None and w.series is not None else (),
        params={**spec.params, **numbers},
        best_step=int(best_step) if best_step is not None else None,
        best_value=numbers.get("best_value"),
        recommended_checkpoint=ckpt,
    )


def evaluate_rule(run: Run, spec: RuleSpec, out: RunOutcome) -> None:
    """Run one series rule on one run, adding findings, skips or a warning to ``out``."""
    jobs = _jobs(run, spec)
    if not jobs:
        out.skipped.append(skip_record(run, spec))
        return
    reasons: list[Skipped] = []
    for inputs in jobs:
        traces = [i.trace if i is not None else None for i in inputs]
        label = ", ".join(i.key for i in inputs if i is not None) or "run metadata"
        try:
            windows = spec.info.fn(*traces, **spec.params, **_context(run, spec, inputs))
        except NotApplicable as exc:
            reasons.append(make_skipped(spec.id, run.name, exc.code, key=label, **exc.params))
            continue
        except Exception as exc:  # noqa: BLE001 - a broken rule must not kill the analysis
            out.crashed = True
            out.warnings.append(
                ReadWarning(
                    f"rule {spec.id}",
                    f"detector {spec.detector} failed on {run.name} ({label}): "
                    f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        if len(windows) > MAX_WINDOWS:
            out.warnings.append(
                ReadWarning(
                    f"rule {spec.id}",
                    f"{run.name} ({label}): {len(windows)} anomalous windows; "
                    f"the first {MAX_WINDOWS} are reported",
                )
            )
            windows = windows[:MAX_WINDOWS]
        out.findings.extend(_finding(run, spec, w, inputs) for w in windows)
    if reasons and len(reasons) == len(jobs):
        out.skipped.append(reasons[0])


def _watched(run: Run, specs: Sequence[RuleSpec], reported: set[str]) -> list[Watched]:
    """The series the episodic rules read (a multi-series rule: its first input; not the
    rules that read every value for NaN) that no finding is about: where an episode's
    unreported point members may be."""
    out: dict[str, Watched] = {}
    for spec in specs:
        if spec.info.raw:
            continue
        selectors = spec.metrics[:1] if spec.info.arity > 1 else spec.metrics
        for selector in selectors:
            for alt in selector.split("|"):
                for metric, key in expand(run, alt.strip()):
                    arrays = run.key_arrays(key)
                    if key in reported or key in out or arrays is None:
                        continue
                    steps, values = arrays
                    out[key] = Watched(
                        spec.family,
                        metric,
                        key,
                        steps,
                        values.astype(np.float64),
                        run.info(metric).direction,
                    )
    return list(out.values())


def evaluate_run(run: Run, specs: Sequence[RuleSpec]) -> RunOutcome:
    """All ``specs`` over ``run``: series rules first, then the episode pass over their findings.
    Rules of other kinds (log patterns, audits, replay) are produced elsewhere and ignored here."""
    out = RunOutcome()
    specs = [s for s in specs if s.kind == "series"]
    for spec in specs:
        if not spec.info.post:
            evaluate_rule(run, spec, out)
    families = {s.id: s.family for s in specs}
    episodic = {s.id for s in specs if s.episode}
    for spec in specs:
        if not spec.info.post:
            continue
        # an instability is made of warnings and errors; information (a length budget, isolated
        # empty updates) is no member
        members = [
            f for f in out.findings if f.rule in episodic and f.severity is not Severity.INFO
        ]
        try:
            interval = logging_interval(run)
            span = max(float(spec.params.get("window", 0)), spec.params.get("points", 0) * interval)
            extras = jumps(
                run.name,
                _watched(run, [s for s in specs if s.episode], {f.key for f in out.findings}),
                [f.start_step for f in members],
                span,
            )
            out.findings.extend(
                episode_findings(
                    members,
                    families,
                    spec.id,
                    spec.severity,
                    spec.params,
                    interval,
                    [value_at(run, f.key, f.start_step) for f in members],
                    extras,
                )
            )
        except Exception as exc:  # noqa: BLE001
            out.crashed = True
            out.warnings.append(
                ReadWarning(
                    f"rule {spec.id}",
                    f"episode pass failed on {run.name}: {type(exc).__name__}: {exc}",
                )
            )
    return out
