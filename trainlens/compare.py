"""Compare several runs on one score metric and pick the checkpoint to keep in each.

``compare_runs(runs)`` → :class:`Comparison`: per run the best value and step of the score metric,
the degradation onset (first sustained drop beyond ``drop`` below the best), the final value, the
recommended checkpoint, the trends that explain the difference (entropy, response length, grad
norm, KL, throughput, MFU) and the run-config keys that differ. Nothing here formats text: every
explanation is a :class:`Note` (a code plus parameters) that the renderers phrase in English or
Chinese.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlens.checkpoints import Degradation, best_then_degrade, recommend_checkpoint, smooth
from trainlens.errors import TrainlensError
from trainlens.run import Run

#: Score metrics tried in order when ``metric`` is not given: validation score (verl val-core,
#: ms-swift eval_reward...), training reward / raw score, eval loss, training loss.
SCORE_CANDIDATES = ("eval_score", "reward", "eval_loss", "loss")
#: Metrics whose first → last trend explains why runs differ.
TREND_METRICS = ("entropy", "response_length_mean", "grad_norm", "kl", "throughput", "mfu")
#: In a degraded run, a trend moving at least this much (relative) from the best step to the end
#: is called out as part of the explanation.
CHANGE_THRESHOLD = 0.25
#: Runs whose score step ranges differ by this factor or more are on different step scales.
STEP_SCALE_RATIO = 5.0

#: Config concepts shown by name, whatever framework key holds them (first key found wins).
CONFIG_CONCEPTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "model",
        (
            "model",
            "model_id_or_path",
            "model_name_or_path",
            "actor_rollout_ref.model.path",
            "pretrain",
            "model.path",
            "model_name",
        ),
    ),
    (
        "rollout_n",
        ("num_generations", "actor_rollout_ref.rollout.n", "n_samples_per_prompt", "rollout.n"),
    ),
    (
        "learning_rate",
        (
            "learning_rate",
            "actor_rollout_ref.actor.optim.lr",
            "actor_learning_rate",
            "optim.lr",
            "lr",
        ),
    ),
    (
        "kl_coef",
        (
            "beta",
            "actor_rollout_ref.actor.kl_loss_coef",
            "algorithm.kl_ctrl.kl_coef",
            "init_kl_coef",
            "kl_coef",
        ),
    ),
    ("use_kl_loss", ("actor_rollout_ref.actor.use_kl_loss", "use_kl_loss")),
    ("use_kl_in_reward", ("algorithm.use_kl_in_reward", "use_kl_in_reward")),
    ("kl_loss_type", ("actor_rollout_ref.actor.kl_loss_type", "kl_loss_type", "kl_estimator")),
    ("epochs", ("num_train_epochs", "trainer.total_epochs", "max_epochs", "epochs")),
    (
        "max_completion_length",
        ("max_completion_length", "data.max_response_length", "generate_max_len"),
    ),
    ("temperature", ("temperature", "actor_rollout_ref.rollout.temperature")),
)
#: Config keys that differ between any two runs without meaning anything (paths, names, hosts).
_NOISE_TAILS = {
    "output_dir",
    "logging_dir",
    "run_name",
    "experiment_name",
    "project_name",
    "add_version",
    "local_rank",
    "hub_model_id",
    "hub_token",
    "hub_strategy",
    "push_to_hub",
    "report_to",
    "resume_from_checkpoint",
    "default_local_dir",
    "default_hdfs_dir",
    "save_dir",
    "ckpt_dir",
    "logging_steps",
    "logging_first_step",
    "ignore_data_skip",
    "deepspeed",
    "wandb_project",
    "wandb_run_name",
    "swanlab_project",
    "swanlab_exp_name",
    "output",
    "time",
    "timestamp",
    "date",
    "hostname",
    "master_addr",
    "master_port",
    "device_map",
    "local_world_size",
    "dataloader_num_workers",
}
_NOISE_SUFFIXES = ("_dir", "_path", "_file", "_time", "_timestamp", "_token", "_url")


@dataclass(frozen=True)
class Note:
    """One explanation, phrased at render time: ``code`` names the message, ``params`` fill it."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True)
class RecommendedCheckpoint:
    """The checkpoint to keep: a saved folder (``source="checkpoint"``) or, when none qualifies,
    the best step itself (``source="best_step"``, ``path`` None)."""

    step: int
    path: str | None  # relative to the run directory
    source: str  # "checkpoint" | "best_step"
    value: float | None  # the score logged at (or last before) that step
    value_step: int | None
    reason: Note


@dataclass(frozen=True)
class Trend:
    """How one explanatory metric moved: medians of the first / last few points (2.5% of them,
    1 to 5) and of as many points at the best step of the score (``at_best``)."""

    metric: str
    key: str
    points: int
    first: float | None
    last: float | None
    minimum: float | None
    maximum: float | None
    at_best: float | None

    @property
    def change(self) -> float | None:
        """Relative change first → last (None when undefined)."""
        return _rel(self.first, self.last)

    @property
    def change_after_best(self) -> float | None:
        """Relative change from the best step of the score to the end."""
        return _rel(self.at_best, self.last)


@dataclass(frozen=True)
class RunComparison:
    """One run's row of the comparison."""

    name: str
    status: str  # "ok" | "missing" (no such metric) | "empty" (no finite value)
    metric: str | None  # the name compared on (canonical when it has one)
    key: str | None  # the raw key read for it in this run
    higher_is_better: bool
    window: int  # rolling-median window used before finding best and onset (1 = none)
    points: int
    first_step: int | None
    last_step: int | None
    degradation: Degradation | None
    recommended: RecommendedCheckpoint | None
    checkpoints: tuple[int, ...]
    trends: tuple[Trend, ...]
    notes: tuple[Note, ...]
    other_keys: tuple[str, ...] = ()
    steps: np.ndarray = field(default_factory=lambda: np.empty(0), compare=False, repr=False)
    values: np.ndarray = field(default_factory=lambda: np.empty(0), compare=False, repr=False)

    @property
    def drop_from_best(self) -> float | None:
        """Relative worsening from the best to the final value (positive = worse)."""
        d = self.degradation
        if d is None:
            return None
        scale = abs(d.best_value) or 1.0
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (d.best_value - d.final_value) / scale

    @property
    def best_fraction(self) -> float | None:
        """Where the best lies within the score's step range (0 = first point, 1 = last)."""
        d = self.degradation
        if d is None or self.first_step is None or self.last_step is None:
            return None
        span = self.last_step - self.first_step
        return (d.best_step - self.first_step) / span if span > 0 else 1.0

    @property
    def smoothed_values(self) -> np.ndarray:
        """The series the best and onset were found on (the raw values when ``window`` is 1)."""
        return smooth(self.values, self.window)


@dataclass(frozen=True)
class ConfigDiff:
    """Run-config keys that differ among the runs that have a config (plus the model)."""

    keys: tuple[str, ...]
    values: dict[str, dict[str, Any]]  # run name -> key -> value (None when absent)
    with_config: tuple[str, ...]
    without_config: tuple[str, ...]

    def for_run(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))


@dataclass(frozen=True)
class Comparison:
    """Everything ``trainlens compare`` reports."""

    metric: str | None
    higher_is_better: bool
    drop: float
    rows: tuple[RunComparison, ...]
    config: ConfigDiff
    notes: tuple[Note, ...]
    steps_comparable: bool

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]


def compare_runs(
    runs: Sequence[Run],
    *,
    metric: str | None = None,
    drop: float = 0.2,
    window: int | None = None,
    sustain: int = 2,
) -> Comparison:
    """Compare ``runs`` on ``metric`` (canonical or raw name; default: the first of
    :data:`SCORE_CANDIDATES` that the runs have).

    ``drop`` is the relative worsening below the best that counts as degradation when it lasts
    ``sustain`` points. ``window`` smooths the score with a rolling median first; None picks it
    per run: none for evaluation metrics (sparse), about 5% of the points for dense training
    series. Raises :class:`TrainlensError` for bad parameters or a ``metric`` no run has.
    """
    if not runs:
        raise TrainlensError("compare: no runs to compare")
    if not (0 < drop < 10) or not math.isfinite(drop):
        raise TrainlensError(f"compare: drop must be a fraction above 0 (got {drop})")
    if window is not None and window < 0:
        raise TrainlensError(
            f"compare: window must be 0 (auto) or a positive number of points (got {window})"
        )
    if sustain < 1:
        raise TrainlensError(f"compare: sustain must be at least 1 (got {sustain})")
    window = window or None
    notes: list[Note] = []
    if metric is not None:
        if not any(_resolve_score(run, metric)[0] for run in runs):
            available = sorted({c for run in runs for c in run.canonical_names})
            raise TrainlensError(
                f"no run has a metric named {metric!r} (canonical or raw); "
                f"canonical metrics found: {', '.join(available) or 'none'}"
            )
        chosen: str | None = metric
        notes.append(Note("metric_user", {"metric": metric}))
    else:
        chosen, count = _choose_metric(runs)
        partial = (
            [
                c
                for c in SCORE_CANDIDATES[: SCORE_CANDIDATES.index(chosen)]
                if any(run.resolve(c) is not None for run in runs)
            ]
            if chosen
            else []
        )
        if chosen is None:
            notes.append(Note("metric_none", {"candidates": list(SCORE_CANDIDATES)}))
        else:
            notes.append(
                Note(
                    "metric_default",
                    {
                        "metric": chosen,
                        "runs": count,
                        "total": len(runs),
                        "candidates": list(SCORE_CANDIDATES),
                    },
                )
            )
        if partial:
            notes.append(Note("metric_partial", {"metrics": partial, "chosen": chosen}))
    higher, assumed = _direction(runs, chosen)
    if chosen is not None and not higher:
        notes.append(Note("lower_is_better", {"metric": chosen}))
    if assumed and chosen is not None:
        notes.append(Note("direction_assumed", {"metric": chosen}))
    rows = tuple(_compare_one(run, chosen, higher, drop, window, sustain) for run in runs)
    comparable = _steps_comparable(rows)
    if not comparable:
        notes.append(
            Note(
                "step_scales_differ",
                {
                    "ranges": {
                        r.name: [r.first_step, r.last_step] for r in rows if r.last_step is not None
                    }
                },
            )
        )
    if len(runs) == 1:
        notes.append(Note("single_run", {}))
    best = _best_row(rows, higher)
    if best is not None and best.degradation is not None:
        notes.append(
            Note(
                "best_run",
                {
                    "run": best.name,
                    "value": best.degradation.best_value,
                    "step": best.degradation.best_step,
                },
            )
        )
    return Comparison(
        metric=chosen,
        higher_is_better=higher,
        drop=drop,
        rows=rows,
        config=config_differences(runs),
        notes=tuple(notes),
        steps_comparable=comparable,
    )


# --- the score metric -------------------------------------------------------------------------


def _resolve_score(run: Run, name: str) -> tuple[str | None, Note | None]:
    """The raw key to read for ``name`` in ``run``; a raw key missing from this run falls back to
    its canonical name (another framework's key for the same thing), with a note."""
    key = run.resolve(name)
    if key is not None:
        return key, None
    canonical = run.canonical(name)
    if canonical is not None and canonical != name:
        key = run.resolve(canonical)
        if key is not None:
            return key, Note(
                "metric_key_fallback", {"requested": name, "key": key, "canonical": canonical}
            )
    return None, None


def _choose_metric(runs: Sequence[Run]) -> tuple[str | None, int]:
    """The first candidate every run has; else the one most runs have (earlier wins ties)."""
    best: tuple[str | None, int] = (None, 0)
    for cand in SCORE_CANDIDATES:
        count = sum(run.resolve(cand) is not None for run in runs)
        if count == len(runs):
            return cand, count
        if count > best[1]:
            best = (cand, count)
    return best


def _canonical_of(runs: Sequence[Run], name: str) -> str:
    for run in runs:
        if name in run.canonical_names:
            return name
        key = run.resolve(name)
        if key is not None:
            return run.canonical(key) or name
    return runs[0].canonical(name) or name


def _direction(runs: Sequence[Run], name: str | None) -> tuple[bool, bool]:
    """(higher_is_better, assumed): from the alias table, else guessed from the name."""
    if name is None:
        return True, False
    canonical = _canonical_of(runs, name)
    direction = runs[0].info(canonical).direction
    if direction is not None:
        return direction != "down", False
    lowered = name.lower()
    if any(w in lowered for w in ("loss", "perplexity", "ppl", "error", "wer")):
        return False, False
    return True, True


def _auto_window(family: str, points: int) -> int:
    """No smoothing for evaluation series (sparse, already averaged); ~5% of the points (odd,
    5..51) for dense training series."""
    if family == "eval" or points < 30:
        return 1
    return max(5, min(51, points // 20)) | 1


def _compare_one(
    run: Run, metric: str | None, higher: bool, drop: float, window: int | None, sustain: int
) -> RunComparison:
    ckpts = tuple(c.step for c in run.meta.checkpoints)
    notes: list[Note] = []
    if not run.meta.config:
        notes.append(Note("no_config", {}))

    def empty(status: str, key: str | None = None) -> RunComparison:
        return RunComparison(
            name=run.name,
            status=status,
            metric=metric,
            key=key,
            higher_is_better=higher,
            window=1,
            points=0,
            first_step=None,
            last_step=None,
            degradation=None,
            recommended=None,
            checkpoints=ckpts,
            trends=_trends(run, None),
            notes=tuple(notes),
        )

    if metric is None:
        return empty("missing")
    key, fallback = _resolve_score(run, metric)
    if key is None:
        score_like = [c for c in SCORE_CANDIDATES if c in run.canonical_names]
        notes.insert(0, Note("metric_missing", {"metric": metric, "available": score_like}))
        return empty("missing")
    if fallback is not None:
        notes.append(fallback)
    arrays = run.arrays(key)
    assert arrays is not None
    steps_all, values_all = arrays
    finite = np.isfinite(values_all)
    steps, values = steps_all[finite].astype(np.int64), values_all[finite].astype(np.float64)
    if len(steps_all) > len(steps):
        notes.append(Note("non_finite_skipped", {"key": key, "count": int((~finite).sum())}))
    if not len(steps):
        notes.insert(0, Note("metric_empty", {"key": key}))
        return empty("empty", key)
    canonical = run.canonical(key)
    family = run.info(canonical).family if canonical else "other"
    win = window if window is not None else _auto_window(family, len(steps))
    win = min(win, len(steps)) if win > 1 else 1
    if win > 1:
        notes.append(Note("smoothed", {"key": key, "window": win, "points": len(steps)}))
    deg = best_then_degrade(
        steps, values, higher_is_better=higher, drop=drop, sustain=sustain, window=win
    )
    assert deg is not None  # finite values exist
    other = tuple(k for k in run.keys_for(canonical) if k != key) if canonical else ()
    if other:
        notes.append(
            Note("other_keys", {"key": key, "canonical": canonical, "others": list(other)})
        )
    if len(steps) == 1:
        notes.append(Note("single_point", {"step": int(steps[0])}))
    elif deg.onset_step is not None:
        notes.append(
            Note(
                "degraded",
                {
                    "onset": deg.onset_step,
                    "onset_value": deg.onset_value,
                    "best": deg.best_step,
                    "best_value": deg.best_value,
                    "drop": drop,
                    "worst": deg.worst_step,
                    "worst_value": deg.worst_value,
                },
            )
        )
    elif deg.best_step == deg.final_step:
        notes.append(Note("still_improving", {"step": deg.best_step}))
    else:
        notes.append(Note("no_degradation", {"drop": drop}))
    trends = _trends(run, deg.best_step)
    for t in trends if deg.onset_step is not None else ():
        change = t.change_after_best
        if change is not None and abs(change) >= CHANGE_THRESHOLD:
            notes.append(
                Note(
                    "changed_after_best",
                    {
                        "metric": t.metric,
                        "best": deg.best_step,
                        "from": t.at_best,
                        "to": t.last,
                        "change": change,
                    },
                )
            )
    rec = _recommend(run, key, deg, steps, values)
    return RunComparison(
        name=run.name,
        status="ok",
        metric=metric,
        key=key,
        higher_is_better=higher,
        window=win,
        points=len(steps),
        first_step=int(steps[0]),
        last_step=int(steps[-1]),
        degradation=deg,
        recommended=rec,
        checkpoints=ckpts,
        trends=trends,
        notes=tuple(notes),
        other_keys=other,
        steps=steps,
        values=values,
    )


def _best_row(rows: Sequence[RunComparison], higher: bool) -> RunComparison | None:
    """The run with the best best value (None with fewer than two scored runs)."""
    scored = [r for r in rows if r.degradation is not None]
    if len(scored) < 2:
        return None
    sign = 1.0 if higher else -1.0
    return max(scored, key=lambda r: sign * r.degradation.best_value)  # type: ignore[union-attr]


def _steps_comparable(rows: Sequence[RunComparison]) -> bool:
    spans = [r.last_step for r in rows if r.last_step is not None and r.last_step > 0]
    return len(spans) < 2 or max(spans) / min(spans) < STEP_SCALE_RATIO


# --- checkpoints ------------------------------------------------------------------------------


def _value_at(steps: np.ndarray, values: np.ndarray, step: int) -> tuple[float | None, int | None]:
    """The score logged at ``step`` or last before it (None when logging started later)."""
    i = int(np.searchsorted(steps, step, side="right")) - 1
    if i < 0:
        return None, None
    return float(values[i]), int(steps[i])


def _relpath(path: os.PathLike[str] | str, start: os.PathLike[str] | str) -> str:
    return os.path.relpath(os.fspath(path), os.fspath(start)).replace(os.sep, "/")


def _recommend(
    run: Run, key: str, deg: Degradation, steps: np.ndarray, values: np.ndarray
) -> RecommendedCheckpoint:
    ckpts = run.meta.checkpoints
    chosen = recommend_checkpoint(ckpts, deg.best_step, deg.onset_step)
    if chosen is not None:
        value, at = _value_at(steps, values, chosen.step)
        code = "ckpt_at_best" if chosen.step == deg.best_step else "ckpt_nearest_best"
        reason = Note(
            code,
            {
                "step": chosen.step,
                "best": deg.best_step,
                "offset": chosen.step - deg.best_step,
                "onset": deg.onset_step,
                "saved": len(ckpts),
                "key": key,
                "value": value,
                "value_step": at,
            },
        )
        return RecommendedCheckpoint(
            step=chosen.step,
            path=_relpath(chosen.path, run.path),
            source="checkpoint",
            value=value,
            value_step=at,
            reason=reason,
        )
    if ckpts:
        reason = Note(
            "no_ckpt_before_onset",
            {"best": deg.best_step, "onset": deg.onset_step, "saved": [c.step for c in ckpts]},
        )
    else:
        reason = Note("no_ckpt_visible", {"best": deg.best_step})
    return RecommendedCheckpoint(
        step=deg.best_step,
        path=None,
        source="best_step",
        value=deg.best_value,
        value_step=deg.best_step,
        reason=reason,
    )


# --- trends -----------------------------------------------------------------------------------


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def _trends(run: Run, best_step: int | None) -> tuple[Trend, ...]:
    out = []
    for name in TREND_METRICS:
        key = run.resolve(name)
        if key is None:
            continue
        arrays = run.arrays(key)
        assert arrays is not None
        steps, values = arrays
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        if not len(values):
            continue
        k = max(1, min(5, len(values) // 40))  # first / last 2.5% of the points, 1..5 of them
        at_best = None
        if best_step is not None:
            i = int(np.clip(np.searchsorted(steps, best_step), 0, len(steps) - 1))
            lo = max(0, i - k // 2)
            at_best = _median(values[lo : lo + k])
        out.append(
            Trend(
                metric=name,
                key=key,
                points=len(values),
                first=_median(values[:k]),
                last=_median(values[-k:]),
                minimum=float(values.min()),
                maximum=float(values.max()),
                at_best=at_best,
            )
        )
    return tuple(out)


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or abs(a) < 1e-12:
        return None
    return (b - a) / abs(a)


# --- config -----------------------------------------------------------------------------------


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts (verl's Hydra config) → dotted keys; other values kept as they are."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


def _is_noise(key: str) -> bool:
    tail = key.rsplit(".", 1)[-1].lower()
    return tail in _NOISE_TAILS or tail.endswith(_NOISE_SUFFIXES) or "token" in tail


def _same(values: list[Any]) -> bool:
    dumped = {json.dumps(v, sort_keys=True, default=str) for v in values}
    return len(dumped) <= 1


def config_differences(runs: Sequence[Run]) -> ConfigDiff:
    """The model plus every config concept / key whose value differs among the runs that have a
    config (with one config: the model and the known concepts it sets)."""
    flat = {run.name: flatten_config(run.meta.config) for run in runs if run.meta.config}
    names = tuple(flat)
    without = tuple(run.name for run in runs if not run.meta.config)
    keys: list[str] = []
    values: dict[str, dict[str, Any]] = {n: {} for n in names}
    consumed: set[str] = set()
    for concept, candidates in CONFIG_CONCEPTS:
        per_run: dict[str, Any] = {}
        for n in names:
            hit = next((c for c in candidates if c in flat[n]), None)
            if hit is not None:
                consumed.add(hit)
            per_run[n] = flat[n][hit] if hit is not None else None
        present = any(v is not None for v in per_run.values())
        if not present:
            continue
        if concept == "model" or len(names) == 1 or not _same(list(per_run.values())):
            keys.append(concept)
            for n in names:
                values[n][concept] = per_run[n]
    if len(names) > 1:
        all_keys = sorted(set().union(*(flat[n] for n in names)) - consumed)
        for key in all_keys:
            if _is_noise(key):
                continue
            vals = [flat[n].get(key) for n in names]
            if not _same(vals):
                keys.append(key)
                for n in names:
                    values[n][key] = flat[n].get(key)
    return ConfigDiff(keys=tuple(keys), values=values, with_config=names, without_config=without)


# --- naming -----------------------------------------------------------------------------------


def unique_names(items: Sequence[tuple[str, str]]) -> list[str]:
    """Run names made unique across several inputs. Each item is ``(name, qualified)``, where
    ``qualified`` prefixes the name with its input's name (``logdir/run``); a name that occurs
    more than once takes its qualified form, and a counter (``#2``) is added if that still
    collides. Order is kept."""
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    seen: set[str] = set()
    out: list[str] = []
    for name, qualified in items:
        new = name if counts[name] == 1 else qualified
        base, i = new, 2
        while new in seen:
            new = f"{base}#{i}"
            i += 1
        seen.add(new)
        out.append(new)
    return out
