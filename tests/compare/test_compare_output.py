"""Renderers of ``trainlens compare``: JSON document, Markdown (en / zh), chart, terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

import trainlens.compare as compare_mod
from trainlens.compare import Note, compare_runs
from trainlens.render import compare as render
from trainlens.report.text import LANGS, catalog, missing_translations

REQUIRED = {
    "name",
    "metric",
    "best_step",
    "best_value",
    "degradation_step",
    "final_step",
    "final_value",
    "recommended_checkpoint",
    "config",
}


@pytest.fixture(scope="module")
def seed_cmp(seed_runs: list) -> compare_mod.Comparison:
    return compare_runs(seed_runs)


def test_every_note_code_has_both_languages() -> None:
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for p in sorted(Path(compare_mod.__file__).parent.glob("*.py"))
    )
    codes = set(re.findall(r'Note\(\s*"([a-z_]+)"', sources))
    codes |= set(re.findall(r'code = "([a-z_]+)" if .* else "([a-z_]+)"', sources)[0])
    strings = catalog(render.strings_path())
    assert len(codes) > 20, "too few note codes found: the scan is broken"
    assert sorted(f"message.{c}" for c in codes if f"message.{c}" not in strings) == []
    assert missing_translations(render.strings_path()) == []


def test_compare_strings_placeholders_match_between_languages() -> None:
    for key, texts in catalog(render.strings_path()).items():
        names = {lang: set(re.findall(r"{(\w+)}", texts[lang])) for lang in LANGS}
        assert names["en"] == names["zh"], key


def test_every_label_and_trend_name_is_in_the_strings() -> None:
    keys = set(catalog(render.strings_path()))
    labels_used: set[str] = set()
    for path in Path(render.__file__).parent.glob("*.py"):
        labels_used |= set(re.findall(r'\bt\["([a-z_]+)"\]', path.read_text(encoding="utf-8")))
    template = (render.strings_path().parent / "compare.md.j2").read_text(encoding="utf-8")
    labels_used |= set(re.findall(r"\bt\.([a-z_]+)", template))
    assert len(labels_used) > 20, "too few labels found: the scan is broken"
    assert sorted(k for k in labels_used if f"label.{k}" not in keys) == []
    assert {f"trend.{m}" for m in compare_mod.TREND_METRICS} <= keys


def test_json_document(seed_cmp: compare_mod.Comparison, seed_dir: Path) -> None:
    text = render.render_json(seed_cmp)
    assert str(seed_dir) not in text and "/abs/out" not in text  # no absolute paths
    doc = json.loads(text)
    assert doc["schema_version"] == 1 and doc["metric"] == "eval_score"
    runs = {r["name"]: r for r in doc["runs"]}
    for r in runs.values():
        assert REQUIRED <= set(r)
    r8 = runs["qwen3_8b"]
    assert (r8["best_step"], r8["best_value"], r8["degradation_step"], r8["final_step"]) == (
        115,
        2.34,
        135,
        200,
    )
    rec = r8["recommended_checkpoint"]
    assert {k: rec[k] for k in ("step", "path", "source")} == {
        "step": 120,
        "path": "checkpoint-120",
        "source": "checkpoint",
    }
    assert "nearest the best step 115" in rec["reason"]
    assert r8["config"] == {
        "model": "Qwen/Qwen3-8B",
        "rollout_n": 4,
        "per_device_train_batch_size": 8,
    }
    assert r8["trends"]["response_length_mean"]["at_best"] == pytest.approx(2960, rel=0.01)
    assert runs["qwen3_4b"]["degradation_step"] is None
    assert render.render_json(seed_cmp) == text  # deterministic


def test_json_in_chinese(seed_cmp: compare_mod.Comparison) -> None:
    doc = json.loads(render.render_json(seed_cmp, "zh"))
    assert "最近的已保存 checkpoint" in doc["runs"][1]["recommended_checkpoint"]["reason"]


@pytest.mark.parametrize(
    "lang,words",
    [
        (
            "en",
            [
                "# Run comparison: eval_score",
                "## Recommended checkpoints",
                "## Config differences",
                "| qwen3_8b | 2.34 @ 115 | 135 (1.7) | 0.6 @ 200 | 74% | 57% | checkpoint-120 |",
                "response length went 295",
            ],
        ),
        ("zh", ["# 运行对比：eval_score", "## 推荐 checkpoint", "## 配置差异", "回复长度 由 295"]),
    ],
)
def test_markdown(seed_cmp: compare_mod.Comparison, lang: str, words: list[str]) -> None:
    text = render.render_markdown(seed_cmp, lang, chart="report_assets/score.png")
    for w in words:
        assert w in text
    assert f"]({'report_assets/score.png'})" in text and "\n\n\n" not in text
    omitted = render.render_markdown(seed_cmp, lang)
    assert "<!-- " in omitted and "FILE_STEM_assets" in omitted and "![" not in omitted


def test_chart_is_written_and_deterministic(
    seed_cmp: compare_mod.Comparison, tmp_path: Path
) -> None:
    a, b = tmp_path / "a" / "score.png", tmp_path / "b" / "score.png"
    assert render.render_chart(seed_cmp, a) and render.render_chart(seed_cmp, b)
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()


def test_terminal(seed_cmp: compare_mod.Comparison) -> None:
    console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115
    render.render_terminal(seed_cmp, console)
    out = console.export_text()
    assert "Run comparison: eval_score (key eval_reward, higher is better)" in out
    assert "checkpoint-120" in out and "Config differences" in out
    assert re.search(r"qwen3_8b\s+2\.34 @ 115\s+135 \(1\.7\)", out)


def test_messages_format_their_parameters() -> None:
    assert (
        render.message(Note("metric_missing", {"metric": "eval_score", "available": []}))
        == "no eval_score in this run"
    )
    assert render.message(Note("no_ckpt_visible", {"best": 75}), "en").startswith(
        "no checkpoint folders"
    )
    assert (
        render.message(
            Note(
                "changed_after_best",
                {"metric": "kl", "best": 5, "from": 0.01, "to": 0.08, "change": 7.0},
            )
        )
        == "KL went 0.01 → 0.08 (×8.0) from the best step 5 to the end"
    )
    assert render.message(Note("future_code", {"x": 1})) == 'future_code: {"x": 1}'


@pytest.mark.parametrize(
    "x,text",
    [
        (2960.0, "2960"),
        (0.18213, "0.1821"),
        (2.34, "2.34"),
        (1e-6, "1e-6"),
        (None, "—"),
        (-0.0, "0"),
    ],
)
def test_num(x: float | None, text: str) -> None:
    assert render.num(x) == text


def test_missing_and_no_config_rows_render(tmp_path: Path) -> None:
    from compare_builders import RunSpec, write_swift

    from trainlens.load import load_runs

    write_swift(RunSpec("a", [(0, 1.0), (100, 2.0)], steps=100, config=None), tmp_path / "a")
    write_swift(
        RunSpec(
            "b",
            [(0, 1.0), (100, 2.0)],
            steps=100,
            eval_every=0,
            config=None,
            dense={"reward": [(0, 0.1), (100, 0.5)]},
        ),
        tmp_path / "b",
    )
    cmp = compare_runs(load_runs(tmp_path).runs, metric="eval_score")
    md = render.render_markdown(cmp, "en")
    assert "| b | no eval_score |" in md
    assert "No run config (args.json) found in any run" in md
    assert "no eval_score in this run (score metrics it has: reward)" in md
    doc = json.loads(render.render_json(cmp))
    b = doc["runs"][1]
    assert b["status"] == "missing" and b["best_step"] is None and b["config"] is None
    c = tmp_path / "c"
    c.mkdir()
    (c / "logging.jsonl").write_text(
        json.dumps({"grad_norm": 1.0, "global_step/max_steps": "1/1"}) + "\n"
    )
    nothing = compare_runs(load_runs(c).runs)
    assert not render.render_chart(nothing, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    assert "no score metric found in any run" in render.render_markdown(nothing)


def test_range_drops_smoothing_and_one_sided_config_keys_render(tmp_path: Path) -> None:
    """A noisy reward crossing zero (drop as a share of the range, smoothed values tagged) and
    configs that differ mostly by keys only one of them sets (capped, "+N more")."""
    import numpy as np

    from trainlens.load import load_runs

    for i, name in enumerate(("a", "b")):
        rng = np.random.default_rng(i)
        root = tmp_path / name
        root.mkdir()
        steps = np.arange(5, 205, 5)
        reward = np.interp(steps, [5, 65, 200], [-0.1, 0.9, -0.5]) + rng.normal(0, 0.3, 40)
        (root / "logging.jsonl").write_text(
            "".join(
                json.dumps({"reward": float(r), "global_step/max_steps": f"{s}/200"}) + "\n"
                for s, r in zip(steps.tolist(), reward)
            )
        )
        config = {"model": "m", "learning_rate": 1e-6 * (i + 1)}
        if i:
            config |= {f"adalora_opt{k}": k for k in range(12)}
        (root / "args.json").write_text(json.dumps(config))
    cmp = compare_runs(load_runs(tmp_path).runs)
    assert {r.drop_basis for r in cmp.rows} == {"range"}
    console = Console(record=True, width=300, file=open("/dev/null", "w"))  # noqa: SIM115
    render.render_terminal(cmp, console)
    out = console.export_text()
    assert re.search(r"\d+% of range", out) and "(smoothed)" in out
    assert "drops are measured as a share of its range" in out
    assert "… and 7 more keys that only some runs' configs set" in out
    md = render.render_markdown(cmp, "zh")
    assert "范围的 " in md and "另有 7 个仅部分运行配置中存在的配置项" in md
    doc = json.loads(render.render_json(cmp))
    assert doc["config_differences"]["keys"] == ["model", "learning_rate"]
    assert doc["config_differences"]["only_in_some_runs"]["adalora_opt0"] == ["b"]
    run = doc["runs"][0]
    assert run["drop_basis"] == "range" and run["smoothed"] is True
    assert run["best_value"] >= run["worst_value"]


def _unshared_runs(root: Path) -> list:
    """Two runs that share no score metric: ``a`` logs eval_reward + reward, ``b`` eval_loss and
    has a config."""
    from trainlens.load import load_runs

    for name, rows, config in (
        (
            "a",
            [{"eval_reward": 0.1 * s, "reward": 0.2 * s, "grad_norm": 1.0} for s in range(5)],
            None,
        ),
        (
            "b",
            [{"eval_loss": 1.0 / (s + 1), "grad_norm": 2.0} for s in range(5)],
            {"model": "m", "learning_rate": 1e-5},
        ),
    ):
        run = root / name
        run.mkdir(parents=True)
        with open(run / "logging.jsonl", "w", encoding="utf-8") as fh:
            for s, rec in enumerate(rows, start=1):
                fh.write(json.dumps({**rec, "global_step/max_steps": f"{s}/5"}) + "\n")
        if config is not None:
            (run / "args.json").write_text(json.dumps(config), encoding="utf-8")
    return load_runs(root).runs


@pytest.mark.parametrize(
    "lang,title,logs",
    [
        ("en", "Run comparison: no shared score metric", "the runs share no score metric"),
        ("zh", "运行对比：没有共同的评分指标", "各运行没有共同的评分指标"),
    ],
)
def test_no_shared_metric_renders_no_score_table(
    tmp_path: Path, lang: str, title: str, logs: str
) -> None:
    cmp = compare_runs(_unshared_runs(tmp_path))
    assert cmp.metric is None
    t = render.labels(lang)
    console = Console(width=200, record=True, color_system=None)
    render.render_terminal(cmp, console, lang)
    term = console.export_text()
    md = render.render_markdown(cmp, lang)
    assert term.startswith(title + "\n") and md.startswith(f"# {title}\n")
    for text in (term, md):
        assert logs in text and "eval_score: a; eval_loss: b" in text
        assert t["trends"] in text and t["config"] in text
        # no score table, no checkpoints, no placeholder words for the missing metric
        for gone in (t["best"], t["recommendations"], t["changes"], t["none"], t["higher"]):
            assert gone not in text, gone
        assert "None" not in text and "—  (" not in text
    assert t["metric"] + t["colon"] not in md and "<!--" not in md and t["notes"] not in md


def test_no_shared_metric_json_lists_runs_with_a_reason(tmp_path: Path) -> None:
    cmp = compare_runs(_unshared_runs(tmp_path))
    doc = json.loads(render.render_json(cmp))
    assert doc["metric"] is None
    assert [n["code"] for n in doc["notes"]][0] == "metric_unshared"
    a, b = doc["runs"]
    assert a["name"] == "a" and a["config"] is None and b["config"]["model"] == "m"
    assert (
        a["reason"]
        == "not compared: the runs share no score metric (this run logs eval_score, reward)"
    )
    assert b["reason"] == "not compared: the runs share no score metric (this run logs eval_loss)"
    assert a["best_step"] is None and a["recommended_checkpoint"] is None
    zh = json.loads(render.render_json(cmp, "zh"))
    assert (
        zh["runs"][1]["reason"] == "未参与对比：各运行没有共同的评分指标（该运行记录了 eval_loss）"
    )
    # a scored run has no reason; a run without the metric says why
    seed = json.loads(
        render.render_json(compare_runs(_unshared_runs(tmp_path / "x"), metric="eval_loss"))
    )
    assert seed["runs"][1]["reason"] is None
    assert seed["runs"][0]["reason"].startswith("no eval_loss in this run")


def test_metric_default_sentence_reads_naturally() -> None:
    order = ["eval_score", "eval_loss", "eval_score (accuracy)", "reward"]
    params = {"metric": "eval_loss", "candidates": order}
    every = Note("metric_default", {**params, "runs": 3, "total": 3})
    assert render.message(every) == (
        "compared on eval_loss: the first of eval_score, eval_loss, eval_score (accuracy), reward "
        "that all runs log (a training loss is never chosen by default)"
    )
    assert render.message(every, "zh") == (
        "对比指标：eval_loss，即 eval_score, eval_loss, eval_score (accuracy), reward "
        "中所有运行都记录的第一个（默认从不选用训练损失）"
    )
    most = render.message(Note("metric_default", {**params, "runs": 2, "total": 3}))
    assert "is logged by all runs" in most and "(2 of 3 runs;" in most
    single = render.message(Note("metric_default", {**params, "runs": 1, "total": 1}))
    assert "that the run logs" in single and "all runs" not in single


def test_chinese_says_checkpoint_like_the_reports() -> None:
    texts = [v["zh"] for v in catalog(render.strings_path()).values()]
    assert not [x for x in texts if "检查点" in x]
    assert render.labels("zh")["recommendations"] == "推荐 checkpoint"
