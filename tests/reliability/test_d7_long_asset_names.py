"""D7: chart file names are bounded (truncated + a short hash), so a run whose path is long
never gives "file name too long", and two runs whose names slug alike never share a chart."""

from __future__ import annotations

import os
import re

from reliability_support import cli, spiky_run

from trainlens.report.fmt import MAX_ASSET_STEM, asset_name


def test_d7_long_asset_names_report(tmp_path):
    deep = tmp_path / "logs"
    for i in range(8):
        deep = deep / (f"{i}" + "very_long_folder_name_" * 10)  # 8 × ~220 characters
    spiky_run(deep / "run")
    spiky_run(tmp_path / "logs" / "short")
    out = tmp_path / "report" / "pm.md"
    result = cli("report", tmp_path / "logs", "-o", out, "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    links = re.findall(r"\]\(pm_assets/([^)]+)\)", out.read_text(encoding="utf-8"))
    assert links
    for name in links:
        assert len(name.encode("utf-8")) <= MAX_ASSET_STEM + len(".png")
        assert (out.parent / "pm_assets" / name).is_file()
    assert len(set(links)) == len(links)


def test_d7_long_asset_names_bounded_and_distinct():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert asset_name(a) != asset_name(b)
    assert asset_name(a) == asset_name(a)
    assert len(asset_name("数" * 200).encode("utf-8")) <= MAX_ASSET_STEM + 4
    assert asset_name("kl") == "kl.png"  # short names unchanged
    assert os.sep not in asset_name("a" * 500)


def test_d7_long_asset_names_runs_that_slug_alike(tmp_path):
    """Runs ``a b`` and ``a-b`` (both slug to ``a-b``) get charts of their own."""
    spiky_run(tmp_path / "logs" / "a b")
    spiky_run(tmp_path / "logs" / "a-b")
    out = tmp_path / "pm.md"
    result = cli("report", tmp_path / "logs", "-o", out, "--date", "2026-01-01")
    assert result.exit_code == 0, result.output
    links = re.findall(r"\]\(pm_assets/([^)]+)\)", out.read_text(encoding="utf-8"))
    assert len(links) == len(set(links)) >= 4
