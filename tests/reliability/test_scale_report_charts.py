"""Scale of a directory: a report of several runs draws charts only for the runs with findings,
says so, and draws many charts in parallel processes with the same bytes as drawn one by one."""

from __future__ import annotations

import re

from reliability_support import cli, spiky_run

from trainlens.analysis import analyze
from trainlens.render.markdown import render_markdown
from trainlens.report import figures


def test_scale_report_charts_only_runs_with_findings(tmp_path):
    for i in range(2):
        spiky_run(tmp_path / "logs" / f"spiky{i}")
    for i in range(3):
        spiky_run(tmp_path / "logs" / f"calm{i}", spike=False)
    result = analyze(tmp_path / "logs")
    with_findings = {f.run for f in result.findings}
    assert {"spiky0", "spiky1"} <= with_findings
    calm = sorted({r.name for r in result.runs} - with_findings)
    assert calm, "the calm runs must have no finding for this test"
    out = tmp_path / "pm.md"
    done = cli("report", tmp_path / "logs", "-o", out, "--date", "2026-01-01")
    assert done.exit_code == 0, done.output
    text = out.read_text(encoding="utf-8")
    charts = re.findall(r"\]\(pm_assets/([^)]+)\)", text)
    assert charts and not [c for c in charts if c.startswith(tuple(calm))]
    assert f"Charts are drawn only for the runs with findings: {len(calm)} of the 5 runs" in text
    assert f"{len(charts)} charts" in done.stderr


def test_scale_report_charts_parallel_same_bytes(tmp_path, monkeypatch):
    for i in range(4):  # 8 charts: the smallest number drawn by worker processes
        spiky_run(tmp_path / "logs" / f"run{i}")
    result = analyze(tmp_path / "logs")
    threshold = figures.PARALLEL_FROM
    render_markdown(result, lang="en", charts=True, assets_dir=tmp_path / "par", date="2026-01-01")
    monkeypatch.setattr(figures, "PARALLEL_FROM", 10**6)
    render_markdown(result, lang="en", charts=True, assets_dir=tmp_path / "ser", date="2026-01-01")
    parallel = sorted(p.name for p in (tmp_path / "par").iterdir())
    assert parallel == sorted(p.name for p in (tmp_path / "ser").iterdir())
    assert len(parallel) > threshold  # the charts and the manifest
    for name in parallel:
        assert (tmp_path / "par" / name).read_bytes() == (tmp_path / "ser" / name).read_bytes()
