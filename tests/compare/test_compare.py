"""compare_runs: best / onset / final, recommended checkpoint, metric choice, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from compare_builders import SEED, RunSpec, write_swift, write_tensorboard

from trainlens.compare import (
    Comparison,
    RunComparison,
    compare_runs,
    config_differences,
    flatten_config,
    unique_names,
)
from trainlens.errors import TrainlensError
from trainlens.load import load_runs


def _rows(cmp: Comparison) -> dict[str, RunComparison]:
    return {r.name: r for r in cmp.rows}


def _codes(row_or_cmp: RunComparison | Comparison) -> list[str]:
    return [n.code for n in row_or_cmp.notes]


# --- the seed scenario --------------------------------------------------------------------------


def test_seed_best_onset_final(seed_runs: list) -> None:
    cmp = compare_runs(seed_runs)
    assert cmp.metric == "eval_score" and cmp.higher_is_better and cmp.steps_comparable
    rows = _rows(cmp)
    expected = {
        "qwen3_4b": (75, 2.21, None),
        "qwen3_8b": (115, 2.34, 135),
        "qwen3_8b_n8": (45, 2.20, 100),
    }
    for name, (best_step, best_value, onset) in expected.items():
        d = rows[name].degradation
        assert d is not None and rows[name].key == "eval_reward" and rows[name].window == 1
        assert (d.best_step, d.onset_step, d.final_step) == (best_step, onset, 200)
        assert d.best_value == pytest.approx(best_value)
    assert rows["qwen3_8b"].drop_from_best == pytest.approx((2.34 - 0.60) / 2.34)
    assert rows["qwen3_8b"].best_fraction == pytest.approx(115 / 200)
    assert "no_degradation" in _codes(rows["qwen3_4b"])
    assert next(n for n in cmp.notes if n.code == "best_run").params["run"] == "qwen3_8b"
    assert "degraded" in _codes(rows["qwen3_8b"])


def test_seed_recommended_checkpoints(seed_runs: list) -> None:
    rows = _rows(compare_runs(seed_runs))
    rec = {
        name: (r.recommended.step, r.recommended.path, r.recommended.source)
        for name, r in rows.items()
        if r.recommended
    }
    assert rec == {
        "qwen3_4b": (80, "checkpoint-80", "checkpoint"),
        "qwen3_8b": (120, "checkpoint-120", "checkpoint"),
        "qwen3_8b_n8": (40, "checkpoint-40", "checkpoint"),
    }
    r8 = rows["qwen3_8b"].recommended
    assert r8.reason.code == "ckpt_nearest_best" and r8.reason.params["onset"] == 135
    assert r8.value == pytest.approx(2.31) and r8.value_step == 120


def test_seed_trends_explain_the_collapse(seed_runs: list) -> None:
    rows = _rows(compare_runs(seed_runs))
    trends = {t.metric: t for t in rows["qwen3_8b"].trends}
    assert set(trends) == {"entropy", "response_length_mean", "grad_norm", "kl", "throughput"}
    length = trends["response_length_mean"]
    assert length.at_best == pytest.approx(2960, rel=0.01)
    assert length.last == pytest.approx(315, rel=0.1)
    assert trends["entropy"].first == pytest.approx(0.182, rel=0.01)
    assert trends["entropy"].last == pytest.approx(0.115, rel=0.02)
    changed = {n.params["metric"] for n in rows["qwen3_8b"].notes if n.code == "changed_after_best"}
    assert {"response_length_mean", "entropy", "grad_norm", "kl"} <= changed
    # a run that did not degrade needs no explanation
    assert "changed_after_best" not in _codes(rows["qwen3_4b"])


def test_seed_config_differences(seed_runs: list) -> None:
    cfg = compare_runs(seed_runs).config
    assert cfg.keys == ("model", "rollout_n", "per_device_train_batch_size")
    assert cfg.values["qwen3_8b_n8"] == {
        "model": "Qwen/Qwen3-8B",
        "rollout_n": 8,
        "per_device_train_batch_size": 16,
    }
    assert cfg.without_config == ()


def test_verl_jsonl_runs_with_separate_checkpoint_dir(verl_dir: Path) -> None:
    runs = load_runs(verl_dir).runs
    cmp = compare_runs(runs)
    rows = {r.name.rsplit("/", 1)[-1]: r for r in cmp.rows}
    assert rows["qwen3_8b"].key == "val-core/math/reward/mean@1"
    assert rows["qwen3_8b"].degradation.onset_step == 135
    rec = rows["qwen3_8b"].recommended
    assert rec.step == 120 and rec.path is not None
    assert rec.path.endswith("checkpoints/math/qwen3_8b/global_step_120")
    assert not Path(rec.path).is_absolute()
    assert cmp.config.with_config == () and len(cmp.config.without_config) == 3
    assert "no_config" not in _codes(rows["qwen3_8b"])  # said once, in the config section
    assert "mfu" in {t.metric for t in rows["qwen3_8b"].trends}


def test_tensorboard_runs(tmp_path: Path) -> None:
    pytest.importorskip("trainlens.readers.tensorboard")
    for spec in SEED:
        write_tensorboard(spec, tmp_path / spec.name)
    cmp = compare_runs(load_runs(tmp_path).runs)
    rows = _rows(cmp)
    assert {n: (r.degradation.best_step, r.degradation.onset_step) for n, r in rows.items()} == {
        "qwen3_4b": (75, None),
        "qwen3_8b": (115, 135),
        "qwen3_8b_n8": (45, 100),
    }
    assert rows["qwen3_8b"].recommended.path == "global_step_120"


# --- metric choice ------------------------------------------------------------------------------


def _spec(name: str, score, **kw) -> RunSpec:
    base: dict = {
        "dense": {"reward": [(0, 0.2), (100, 0.8)], "entropy": [(0, 0.3), (100, 0.2)]},
        "steps": 100,
        "config": {"model": "m", "learning_rate": 1e-6},
    }
    base.update(kw)
    return RunSpec(name, score=score, **base)


def test_default_metric_falls_back_to_one_every_run_has(tmp_path: Path) -> None:
    write_swift(_spec("a", [(0, 1.0), (100, 2.0)]), tmp_path / "a")
    write_swift(_spec("b", [(0, 1.0), (100, 2.0)], eval_every=0), tmp_path / "b")
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric == "reward"
    assert cmp.notes[0].code == "metric_default" and cmp.notes[0].params["runs"] == 2
    assert cmp.notes[1].code == "metric_partial" and cmp.notes[1].params["metrics"] == [
        "eval_score",
        "eval_loss",
    ]
    # a dense training series is smoothed before finding best and onset, and says so
    for row in cmp.rows:
        assert row.window > 1 and "smoothed" in _codes(row)


def test_user_metric_missing_in_one_run_is_explained(tmp_path: Path) -> None:
    write_swift(_spec("a", [(0, 1.0), (100, 2.0)]), tmp_path / "a")
    write_swift(_spec("b", [(0, 1.0), (100, 2.0)], eval_every=0), tmp_path / "b")
    rows = _rows(compare_runs(load_runs(tmp_path).runs, metric="eval_score"))
    assert rows["a"].status == "ok" and rows["a"].window == 1
    assert rows["b"].status == "missing" and rows["b"].recommended is None
    note = rows["b"].notes[0]
    assert note.code == "metric_missing" and note.params == {
        "metric": "eval_score",
        "available": ["reward"],  # a training loss is no score metric
    }
    assert {t.metric for t in rows["b"].trends} == {"entropy"}  # trends still reported


def test_unknown_metric_is_a_usage_error(seed_runs: list) -> None:
    with pytest.raises(TrainlensError, match="no run has a metric named 'nope'"):
        compare_runs(seed_runs, metric="nope")


def test_raw_key_and_canonical_fallback(seed_runs: list, verl_dir: Path) -> None:
    runs = [*seed_runs[:1], *load_runs(verl_dir).runs[:1]]
    rows = list(compare_runs(runs, metric="val-core/math/reward/mean@1").rows)
    assert rows[1].key == "val-core/math/reward/mean@1"
    assert rows[0].key == "eval_reward"  # swift run: same canonical metric
    assert "metric_key_fallback" in _codes(rows[0])


def test_loss_like_metric_is_direction_aware(tmp_path: Path) -> None:
    # SFT-like: eval_loss falls to 0.5 at step 60 then climbs 40% (overfitting)
    spec = _spec("sft", [(0, 1.0), (100, 1.0)], dense={"grad_norm": [(0, 1.0), (100, 1.0)]})
    root = write_swift(spec, tmp_path / "sft", eval_key="eval_acc")
    lines = (root / "logging.jsonl").read_text().splitlines()
    import json

    out = []
    for line in lines:
        rec = json.loads(line)
        if "eval_loss" in rec:
            step = int(rec["global_step/max_steps"].split("/")[0])
            rec = {
                "eval_loss": float(np.interp(step, [0, 60, 100], [1.0, 0.5, 0.7])),
                "global_step/max_steps": rec["global_step/max_steps"],
            }
        out.append(json.dumps(rec))
    (root / "logging.jsonl").write_text("\n".join(out) + "\n")
    cmp = compare_runs(load_runs(root).runs, metric="eval_loss")
    row = cmp.rows[0]
    assert not cmp.higher_is_better and "lower_is_better" in _codes(cmp)
    assert row.degradation.best_step == 60 and row.degradation.best_value == pytest.approx(0.5)
    assert row.degradation.onset_step == 85  # first eval above 0.6 (20% worse than 0.5)
    assert row.drop_from_best == pytest.approx(0.4)


# --- edge cases ---------------------------------------------------------------------------------


def test_different_step_scales(tmp_path: Path) -> None:
    write_swift(_spec("short", [(0, 1.0), (50, 2.0), (100, 1.0)]), tmp_path / "short")
    write_swift(
        _spec(
            "long",
            [(0, 1.0), (500, 2.0), (1000, 1.8)],
            steps=1000,
            eval_every=50,
            checkpoint_every=250,
        ),
        tmp_path / "long",
    )
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert not cmp.steps_comparable
    note = next(n for n in cmp.notes if n.code == "step_scales_differ")
    assert note.params["ranges"] == {"long": [0, 1000], "short": [0, 100]}
    rows = _rows(cmp)
    assert rows["short"].best_fraction == pytest.approx(0.5)
    assert rows["long"].best_fraction == pytest.approx(0.5)
    assert rows["long"].recommended.step == 500
    from trainlens.render.compare import render_chart

    assert render_chart(cmp, tmp_path / "chart.png")


def test_several_keys_for_the_score_are_named(tmp_path: Path) -> None:
    import json

    run = tmp_path / "r"
    run.mkdir()
    (run / "r.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "step": s,
                    "data": {
                        "val-core/math/reward/mean@1": 0.1 * s,
                        "val-core/gsm8k/reward/mean@1": 0.2 * s,
                    },
                }
            )
            + "\n"
            for s in (5, 10, 15)
        )
    )
    row = compare_runs(load_runs(tmp_path).runs).rows[0]
    assert row.key == "val-core/gsm8k/reward/mean@1"
    assert row.other_keys == ("val-core/math/reward/mean@1",)
    assert "other_keys" in _codes(row)


def test_still_improving_run_and_no_checkpoints(tmp_path: Path) -> None:
    write_swift(_spec("up", [(0, 1.0), (100, 2.0)], checkpoint_every=None), tmp_path / "up")
    cmp = compare_runs(load_runs(tmp_path).runs)
    row = cmp.rows[0]
    assert row.degradation.best_step == 100 and row.degradation.onset_step is None
    assert "still_improving" in _codes(row) and "single_run" in _codes(cmp)
    rec = row.recommended
    assert (rec.step, rec.path, rec.source, rec.reason.code) == (
        100,
        None,
        "best_step",
        "no_ckpt_visible",
    )


def test_checkpoints_only_after_the_onset(tmp_path: Path) -> None:
    spec = _spec("late", [(0, 1.0), (30, 2.0), (50, 1.0), (100, 0.8)], checkpoint_every=None)
    write_swift(spec, tmp_path / "late", checkpoint_steps=[100])
    row = compare_runs(load_runs(tmp_path).runs).rows[0]
    assert row.degradation.onset_step == 40
    rec = row.recommended
    assert (rec.step, rec.source, rec.reason.code) == (30, "best_step", "no_ckpt_before_onset")
    assert rec.reason.params["saved"] == [100]


def test_no_degradation_recommends_checkpoint_nearest_best(tmp_path: Path) -> None:
    write_swift(_spec("flat", [(0, 1.0), (40, 2.0), (100, 1.9)]), tmp_path / "flat")
    row = compare_runs(load_runs(tmp_path).runs).rows[0]
    assert row.degradation.onset_step is None and "no_degradation" in _codes(row)
    assert row.recommended.step == 40 and row.recommended.reason.code == "ckpt_at_best"


def test_all_nan_and_single_point_metrics(tmp_path: Path) -> None:
    import json

    nan_run = tmp_path / "nan"
    nan_run.mkdir()
    (nan_run / "logging.jsonl").write_text(
        "".join(
            json.dumps(
                {"eval_reward": float("nan"), "reward": 0.1 * s, "global_step/max_steps": f"{s}/3"}
            )
            + "\n"
            for s in (1, 2, 3)
        )
    )
    one = tmp_path / "one"
    one.mkdir()
    (one / "logging.jsonl").write_text(
        json.dumps({"eval_reward": 1.5, "global_step/max_steps": "10/10"}) + "\n"
    )
    rows = _rows(compare_runs(load_runs(tmp_path).runs, metric="eval_score"))
    assert rows["nan"].status == "empty" and rows["nan"].notes[0].code == "metric_empty"
    assert rows["one"].status == "ok" and "single_point" in _codes(rows["one"])
    assert rows["one"].degradation.best_step == 10


def test_no_score_metric_anywhere(tmp_path: Path) -> None:
    import json

    run = tmp_path / "r"
    run.mkdir()
    (run / "logging.jsonl").write_text(
        json.dumps({"grad_norm": 1.0, "global_step/max_steps": "1/1"}) + "\n"
    )
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric is None and cmp.notes[0].code == "metric_none"
    assert cmp.rows[0].status == "missing"


@pytest.mark.parametrize("kwargs", [{"drop": 0}, {"drop": -0.1}, {"window": -1}, {"sustain": 0}])
def test_bad_parameters(seed_runs: list, kwargs: dict) -> None:
    with pytest.raises(TrainlensError):
        compare_runs(seed_runs, **kwargs)


def test_explicit_window_and_drop(seed_runs: list) -> None:
    rows = _rows(compare_runs(seed_runs, drop=0.5, window=3))
    assert rows["qwen3_8b"].window == 3 and rows["qwen3_8b"].degradation.onset_step == 150
    assert rows["qwen3_8b_n8"].degradation.onset_step is None


# --- config and names ---------------------------------------------------------------------------


class _FakeRun:
    def __init__(self, name: str, config: dict) -> None:
        from trainlens.run import RunMeta

        self.name = name
        self.meta = RunMeta(config=config)


def test_config_differences_nested_and_noise() -> None:
    a = {
        "actor_rollout_ref": {
            "model": {"path": "/models/Qwen3-8B"},
            "rollout": {"n": 8},
            "actor": {"optim": {"lr": 1e-6}, "kl_loss_coef": 0.001},
        },
        "trainer": {"total_epochs": 1, "default_local_dir": "/ckpt/a", "experiment_name": "a"},
        "data": {"train_batch_size": 128},
    }
    b = {
        "actor_rollout_ref": {
            "model": {"path": "/models/Qwen3-8B"},
            "rollout": {"n": 16},
            "actor": {"optim": {"lr": 1e-6}, "kl_loss_coef": 0.01},
        },
        "trainer": {"total_epochs": 2, "default_local_dir": "/ckpt/b", "experiment_name": "b"},
        "data": {"train_batch_size": 256},
    }
    diff = config_differences([_FakeRun("a", a), _FakeRun("b", b), _FakeRun("c", {})])
    assert diff.keys == ("model", "rollout_n", "kl_coef", "epochs", "data.train_batch_size")
    assert diff.values["b"]["rollout_n"] == 16 and diff.values["a"]["model"] == "/models/Qwen3-8B"
    assert diff.with_config == ("a", "b") and diff.without_config == ("c",)


def test_config_single_run_shows_known_concepts() -> None:
    diff = config_differences([_FakeRun("a", {"model": "m", "beta": 0.0, "foo": 1})])
    assert diff.keys == ("model", "kl_coef")


def test_flatten_config() -> None:
    assert flatten_config({"a": {"b": 1, "c": {}}, "d": [1]}) == {"a.b": 1, "a.c": {}, "d": [1]}


def test_unique_names() -> None:
    items = [("run", "x/run"), ("run", "y/run"), ("other", "x/other"), ("run", "x/run")]
    assert unique_names(items) == ["x/run", "y/run", "other", "x/run#2"]


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "degrading_runs"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/degrading_runs not generated")
def test_examples_degrading_runs() -> None:
    """The numbers examples/README.md documents for the three verl runs."""
    cmp = compare_runs(load_runs(EXAMPLES).runs)
    rows = _rows(cmp)
    got = {
        n: (
            r.degradation.best_step,
            round(r.degradation.best_value, 2),
            r.degradation.onset_step,
            r.recommended.path,
        )
        for n, r in rows.items()
    }
    assert got == {
        "qwen3_4b": (75, 2.21, 120, "global_step_75"),
        "qwen3_8b": (115, 2.34, 135, "global_step_125"),
        "qwen3_8b_n8": (45, 2.2, 90, "global_step_50"),
    }
    best = next(n for n in cmp.notes if n.code == "best_run")
    assert best.params["run"] == "qwen3_8b"
    length = next(t for t in rows["qwen3_8b"].trends if t.metric == "response_length_mean")
    assert length.last == pytest.approx(315, abs=20)


# --- review fixes: consistent best / worst, zero-crossing drops, metric choice, config ----------


def _swift_lines(root: Path, rows: list[dict], config: dict | None = None) -> Path:
    """An ms-swift run dir whose logging.jsonl holds ``rows`` (each with its step as ``s``)."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    n = max(r["s"] for r in rows)
    with open(root / "logging.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            rec = {k: v for k, v in r.items() if k != "s"}
            rec["global_step/max_steps"] = f"{r['s']}/{n}"
            fh.write(json.dumps(rec) + "\n")
    if config is not None:
        (root / "args.json").write_text(json.dumps(config), encoding="utf-8")
    return root


def _noisy_reward_run(root: Path, seed: int) -> Path:
    """A GRPO-like training reward, noisy, that peaks and ends below zero (trl_grpo_chaos)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(5, 205, 5)
    reward = np.interp(steps, [5, 65, 200], [-0.1, 0.9, -0.5]) + rng.normal(0, 0.4, len(steps))
    rows = [
        {"s": int(s), "reward": float(r), "loss": float(rng.normal(0, 0.05))}
        for s, r in zip(steps, reward)
    ]
    return _swift_lines(root, rows)


def test_smoothed_best_is_never_worse_than_onset_or_worst(tmp_path: Path) -> None:
    for seed in range(6):
        _noisy_reward_run(tmp_path / f"r{seed}", seed)
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric == "reward"
    for row in cmp.rows:
        d = row.degradation
        assert row.window > 1 and d.smoothed
        smoothed = row.smoothed_values
        assert d.best_value == pytest.approx(smoothed.max())
        assert d.worst_value is None or d.worst_value <= d.best_value
        if d.onset_value is not None:
            assert d.onset_value < d.best_value
        # the series crosses zero: the drop is a share of its range, never 161%
        if row.drop_basis == "range":
            assert "drop_vs_range" in _codes(row)
            assert 0 <= row.drop_from_best <= 1
    best = next(n for n in cmp.notes if n.code == "best_run")
    by_best = max(cmp.rows, key=lambda r: r.degradation.best_value)
    assert best.params["run"] == by_best.name


def test_training_or_policy_loss_is_never_the_default(tmp_path: Path) -> None:
    _swift_lines(tmp_path / "sft", [{"s": s, "loss": 2.0 / s} for s in range(1, 40)])
    verl = tmp_path / "verl"
    verl.mkdir()
    import json

    (verl / "run.jsonl").write_text(
        "".join(
            json.dumps({"step": s, "data": {"actor/pg_loss": 0.1 - 0.01 * s}}) + "\n"
            for s in range(1, 40)
        )
    )
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric is None and _codes(cmp)[0] == "metric_none"
    assert all(r.status == "missing" for r in cmp.rows)
    assert "best_run" not in _codes(cmp)
    # still possible on request
    assert compare_runs(load_runs(tmp_path).runs, metric="loss").metric == "loss"


def test_runs_sharing_no_score_metric_compare_nothing(tmp_path: Path) -> None:
    _swift_lines(tmp_path / "a", [{"s": s, "eval_reward": 0.1 * s} for s in range(1, 6)])
    _swift_lines(tmp_path / "b", [{"s": s, "eval_loss": 1.0 / s} for s in range(1, 6)])
    _swift_lines(tmp_path / "c", [{"s": s, "reward": 0.1 * s} for s in range(1, 6)])
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric is None and all(r.status == "missing" for r in cmp.rows)
    (note,) = [n for n in cmp.notes if n.code == "metric_unshared"]
    assert note.params["logged"] == {"eval_score": "a", "eval_loss": "b", "reward": "c"}
    assert "best_run" not in _codes(cmp)
    from trainlens.render.compare import message

    assert "share no score metric" in message(note)


def test_best_run_only_when_every_run_logs_the_metric(tmp_path: Path) -> None:
    for name, end in (("a", 0.5), ("b", 0.8)):
        _swift_lines(
            tmp_path / name,
            [{"s": s, "eval_loss": float(np.interp(s, [1, 10], [1.0, end]))} for s in range(1, 11)],
        )
    _swift_lines(tmp_path / "c", [{"s": s, "reward": 0.1 * s} for s in range(1, 11)])
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric == "eval_loss"
    rows = _rows(cmp)
    assert rows["a"].status == rows["b"].status == "ok" and rows["c"].status == "missing"
    assert "best_run" not in _codes(cmp)
    (note,) = [n for n in cmp.notes if n.code == "metric_not_shared"]
    assert note.params["without"] == ["c"]
    # all three on eval_loss: a best run is named
    _swift_lines(
        tmp_path / "c", [{"s": s, "eval_loss": 1.0, "reward": 0.1 * s} for s in range(1, 11)]
    )
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert next(n for n in cmp.notes if n.code == "best_run").params["run"] == "a"


def _sft_rows(acc_key: str = "eval_token_acc") -> list[dict]:
    """examples/sft_overfit's story: eval_loss +50% after its best, eval accuracy flat."""
    rows = []
    for s in range(100, 1600, 100):
        loss = float(np.interp(s, [100, 600, 1500], [1.9, 1.52, 2.28]))
        acc = float(np.interp(s, [100, 600, 1500], [0.55, 0.62, 0.60]))
        rows.append({"s": s, "eval_loss": loss, acc_key: acc})
    return rows


@pytest.mark.parametrize("acc_key", ["eval_token_acc", "eval_acc"])
def test_eval_loss_beats_an_eval_accuracy_and_both_are_checked(
    tmp_path: Path, acc_key: str
) -> None:
    _swift_lines(tmp_path / "sft", _sft_rows(acc_key))
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert cmp.metric == "eval_loss" and not cmp.higher_is_better
    row = cmp.rows[0]
    assert row.key == "eval_loss" and row.degradation.onset_step is not None
    assert row.drop_from_best == pytest.approx(0.5)
    (also,) = [n for n in row.notes if n.code == "also_checked"]
    assert also.params["key"] == acc_key and also.params["degraded"] is False
    assert next(n for n in cmp.notes if n.code == "metric_default").params["metric"] == (
        "eval_loss"
    )


def test_a_validation_reward_beats_eval_loss(tmp_path: Path) -> None:
    rows = [
        {
            "s": s,
            "eval_reward": float(np.interp(s, [1, 5, 10], [0.5, 2.0, 1.0])),
            "eval_loss": 1.0 / s,
        }
        for s in range(1, 11)
    ]
    _swift_lines(tmp_path / "grpo", rows)
    row = compare_runs(load_runs(tmp_path).runs).rows[0]
    assert row.key == "eval_reward" and row.degradation.onset_step == 8
    (also,) = [n for n in row.notes if n.code == "also_checked"]
    assert also.params["key"] == "eval_loss" and also.params["best"] == 10


def test_config_differences_keep_only_meaningful_keys() -> None:
    a = {"model": "m", "learning_rate": 1e-4, "lora_rank": 8, "seed": 1, "attn_impl": None}
    b = {"model": "m", "learning_rate": 1e-5, "lora_rank": 8, "seed": 2, "aligner_lr": None}
    b |= {f"adalora_opt{i}": i for i in range(8)}
    b |= {"max_length": 2048, "acc_strategy": "token"}
    diff = config_differences([_FakeRun("a", a), _FakeRun("b", b)])
    # present in both and different
    assert diff.keys == ("model", "learning_rate", "seed")
    # only in one: relevant training settings first, tuner option families last, nulls dropped
    assert diff.partial[0] == "max_length" and "aligner_lr" not in diff.partial
    assert "attn_impl" not in diff.partial
    assert diff.partial[:2] == ("max_length", "acc_strategy")
    assert set(diff.partial[2:]) == {f"adalora_opt{i}" for i in range(8)}
    assert diff.values["b"]["max_length"] == 2048 and "max_length" not in diff.values["a"]


def test_user_metric_some_runs_lack_names_no_best_run(tmp_path: Path) -> None:
    _swift_lines(tmp_path / "a", [{"s": s, "loss": 1.0 / s} for s in range(1, 9)])
    _swift_lines(tmp_path / "b", [{"s": s, "loss": 2.0 / s} for s in range(1, 9)])
    _swift_lines(tmp_path / "c", [{"s": s, "reward": 0.1 * s} for s in range(1, 9)])
    cmp = compare_runs(load_runs(tmp_path).runs, metric="loss")
    assert "best_run" not in _codes(cmp)
    assert next(n for n in cmp.notes if n.code == "metric_not_shared").params["without"] == ["c"]
