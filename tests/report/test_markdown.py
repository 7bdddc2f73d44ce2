"""The Markdown renderer over hand-built findings: structure, ordering, several runs, scale."""

from __future__ import annotations

import re
import time

import numpy as np
import report_builders as b
from logwriters import write_swift_run

from trainlens.findings import Finding, Severity
from trainlens.load import load_runs
from trainlens.render.markdown import render_markdown

DATE = "2026-01-01"


def headings(text: str) -> list[str]:
    return re.findall(r"(?m)^#{1,6} .*$", text)


def test_sections_in_order_most_severe_family_first(tmp_path):
    run = b.grpo_run(tmp_path)
    text = render_markdown(b.analysis([run]), lang="en", charts=False, date=DATE)
    heads = headings(text)
    assert heads[0] == "# Training postmortem: run"
    order = [h for h in heads if h.startswith("## ")]
    assert order == ["## Run overview", "## Findings", "## Summary"]
    findings = heads[heads.index("## Findings") : heads.index("## Summary")]
    families = [h for h in findings if h.startswith("### ")]
    assert families == ["### Optimisation and stability", "### Reward", "### Generation length"]
    summary = [h for h in heads[heads.index("## Summary") :] if h.startswith("### ")]
    assert summary == ["### Gate and watch policies that would have caught this run"]
    assert "#### 🚨 1. t_kl_spike title" in heads
    assert "**Verdict:** 🚨" in text
    assert "| 150 | 19.6 | +19.55 | ← peak |" in text  # key-data table: step, value, change
    assert "`beta` is 0.04 → raise it to 0.1–0.2" in text  # from args.json
    assert "| `kl` | 19.6 at step 150 | KL < 5 throughout, with no sudden jumps. |" in text
    assert "t_missing" in text  # the skipped rule is listed, not silently dropped


def test_chinese_report_uses_chinese_rule_texts(tmp_path):
    run = b.grpo_run(tmp_path)
    text = render_markdown(b.analysis([run]), lang="zh", charts=False, date=DATE)
    assert "#### 🚨 1. t_kl_spike 标题" in text
    assert "kl 在第 150 步达到 19.6。" in text
    assert "t_kl_spike 的中文解释。" in text and "English" not in text
    assert "`beta` 为 0.04 → 提高到 0.1–0.2" in text


def test_several_runs_start_with_a_comparison(tmp_path):
    runs = [b.grpo_run(tmp_path, name=n) for n in ("run_a", "run_b")]
    found = b.findings(runs[0])  # run_b is healthy
    text = render_markdown(
        b.analysis(runs, found),
        lang="en",
        charts=True,
        assets_dir=tmp_path / "pm_assets",
        date=DATE,
    )
    heads = headings(text)
    assert heads[1] == "## Comparison of runs"
    assert "## 🚨 Run `run_a`" in heads and "## ✅ Run `run_b`" in heads
    table = text.split("## Comparison of runs", 1)[1].split("\n## ", 1)[0]
    assert "| run_a | 🚨 2 ⚠️ 2 |" in table and "| run_b | ✅ healthy |" in table
    assert "(pm_assets/run_a-kl.png)" in text  # one asset folder, charts named per run
    assert (tmp_path / "pm_assets" / "run_a-kl.png").is_file()
    assert "**Verdict:** ✅ **Healthy.**" in text


def test_paths_are_relative_and_nothing_volatile(tmp_path):
    run = b.grpo_run(tmp_path)
    text = render_markdown(b.analysis([run]), lang="en", charts=False, date=DATE)
    assert str(tmp_path) not in text
    assert "Qwen2.5-7B" in text and "/mnt/models" not in text  # config paths: last part only
    assert text == render_markdown(b.analysis([run]), lang="en", charts=False, date=DATE)


def test_a_finding_of_an_unknown_rule_still_renders(tmp_path):
    run = b.grpo_run(tmp_path)
    odd = Finding("user_rule", Severity.WARNING, run.name, "kl", "kl", 10, 20)
    text = render_markdown(b.analysis([run], [odd]), lang="zh", charts=False, date=DATE)
    assert "⚠️ 1. user_rule" in text


def test_a_long_run_gives_a_short_report_fast(tmp_path):
    steps = 20_000  # every step logged: the tables must still show a handful of rows
    rows = [
        (
            s,
            {
                "loss": 1.0 + 0.01 * np.sin(s),
                "grad_norm": 50.0 if s == 12_000 else 0.5,
                "learning_rate": 1e-5,
            },
        )
        for s in range(1, steps + 1)
    ]
    out = write_swift_run(tmp_path / "long", rows, max_steps=steps, summary=False)
    run = load_runs(out).runs[0]
    spike = Finding(
        "t_grad_spike",
        Severity.WARNING,
        run.name,
        "grad_norm",
        "grad_norm",
        12_000,
        12_000,
        peak_step=12_000,
        peak_value=50.0,
        baseline=0.5,
    )
    wide = Finding(
        "t_kl_spike",
        Severity.ERROR,
        run.name,
        "loss",
        "loss",
        2_000,
        18_000,
        peak_step=10_000,
        peak_value=1.01,
        baseline=1.0,
    )
    started = time.perf_counter()
    text = render_markdown(
        b.analysis([run], [spike, wide]),
        lang="en",
        charts=True,
        assets_dir=tmp_path / "pm_assets",
        date=DATE,
    )
    assert time.perf_counter() - started < 10
    assert len(text.splitlines()) < 250
    table_rows = [line for line in text.splitlines() if re.match(r"^\| \d", line)]
    assert len(table_rows) < 60
    assert "| 12000 | 50 |" in text


def test_a_stuck_metric_shows_no_meaningless_peak_or_baseline(tmp_path):
    rows = [(s, {"loss": 0.5 + 0.01 * np.sin(s), "grad_norm": 0.0}) for s in range(1, 101)]
    run = load_runs(write_swift_run(tmp_path / "stuck", rows, max_steps=100)).runs[0]
    stuck = Finding(
        "t_grad_spike",
        Severity.WARNING,
        run.name,
        "grad_norm",
        "grad_norm",
        1,
        100,
        peak_step=1,
        peak_value=0.0,
        baseline=0.0,
    )
    for lang, said, unsaid in (
        ("en", ("stuck at 0", "- **When:** step 1–100; stuck at 0."), ("peak 0", "baseline 0")),
        ("zh", ("一直为 0",), ("峰值 0", "基线 0")),
    ):
        text = render_markdown(b.analysis([run], [stuck]), lang=lang, charts=False, date=DATE)
        assert all(s in text for s in said), lang
        assert not any(s in text for s in unsaid), lang
        assert "← peak" not in text and "← 峰值" not in text


def test_overview_chart_shows_the_metrics_with_findings_not_flat_ones(tmp_path):
    from trainlens.report.model import build_report

    run = b.grpo_run(tmp_path)  # learning_rate is constant; clipped_ratio has a finding
    report = build_report(b.analysis([run]), charts=True, date=DATE)
    overview = next(j for j in report.charts if j.overview)
    assert set(overview.metrics[:4]) == {"kl", "reward", "grad_norm", "clipped_ratio"}
    assert "learning_rate" not in overview.metrics
    assert len(overview.metrics) <= 6


def test_several_runs_list_the_rules_not_checked_once_at_the_end(tmp_path):
    runs = [b.grpo_run(tmp_path, name=n) for n in ("run_a", "run_b")]
    cases = (
        ("en", "## Rules that did not run", "(all runs)"),
        ("zh", "## 未运行的规则", "（全部运行）"),
    )
    for lang, heading, every in cases:
        text = render_markdown(b.analysis(runs), lang=lang, charts=False, date=DATE)
        assert text.count("`t_missing`") == 1
        tail = text.split(heading, 1)[1]
        assert "## " not in tail.replace(heading, "")  # the last section of the report
        assert "`t_missing`" in tail and every in tail
        assert "<details>" not in text.split(heading, 1)[0]  # no per-run list before it


def test_a_rule_skipped_on_some_runs_names_them(tmp_path):
    from trainlens.findings import Skipped

    runs = [b.grpo_run(tmp_path, name=n) for n in ("run_a", "run_b", "run_c")]
    result = b.analysis(runs)
    result.skipped[:] = [Skipped("t_missing", "run_b", "metric entropy not logged")]
    text = render_markdown(result, lang="en", charts=False, date=DATE)
    assert "- `t_missing` (t_missing title): metric entropy not logged (`run_b`)" in text
