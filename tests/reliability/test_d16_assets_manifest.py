"""D16: ``report`` removes only the charts it wrote itself (listed in a manifest in
``<stem>_assets/``), never a file of the user's."""

from __future__ import annotations

from reliability_support import cli, spiky_run

from trainlens.report.figures import MANIFEST, own_charts


def test_d16_assets_manifest_keeps_user_files(tmp_path):
    spiky_run(tmp_path / "logs" / "run")
    out = tmp_path / "pm.md"
    assets = tmp_path / "pm_assets"
    assets.mkdir()
    (assets / "diagram.png").write_bytes(b"\x89PNG user's own")
    (assets / "notes.txt").write_text("mine", encoding="utf-8")
    first = cli("report", tmp_path / "logs" / "run", "-o", out, "--date", "2026-01-01")
    assert first.exit_code == 0, first.output
    charts = own_charts(assets)
    assert charts and "diagram.png" not in charts
    assert f"{len(charts)} chart" in first.stderr  # counts its own charts only
    # a healthy version of the run: its charts of the KL spike are no longer linked
    spiky_run(tmp_path / "logs" / "run", spike=False)
    second = cli("report", tmp_path / "logs" / "run", "-o", out, "--date", "2026-01-01")
    assert second.exit_code == 0, second.output
    assert (assets / "diagram.png").read_bytes() == b"\x89PNG user's own"
    assert (assets / "notes.txt").is_file()
    for name in set(charts) - set(own_charts(assets)):
        assert not (assets / name).exists()  # its own stale charts are gone


def test_d16_assets_manifest_cannot_point_outside(tmp_path):
    assets = tmp_path / "pm_assets"
    assets.mkdir()
    (tmp_path / "precious.png").write_bytes(b"keep")
    (assets / MANIFEST).write_text("../precious.png\n/etc/passwd\nok.png\n", encoding="utf-8")
    assert own_charts(assets) == ["ok.png"]
    spiky_run(tmp_path / "run")
    result = cli("report", tmp_path / "run", "-o", tmp_path / "pm.md")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "precious.png").read_bytes() == b"keep"


def test_d16_assets_manifest_no_charts_no_folder(tmp_path):
    """A report that draws nothing leaves no new folder (and no lone manifest) behind."""
    spiky_run(tmp_path / "run", spike=False)
    (tmp_path / "run" / "logging.jsonl").write_text("", encoding="utf-8")
    result = cli("report", tmp_path / "run", "-o", tmp_path / "pm.md")
    assert not (tmp_path / "pm_assets").exists() or any(
        p.name != MANIFEST for p in (tmp_path / "pm_assets").iterdir()
    ), result.output
