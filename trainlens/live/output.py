"""What a live monitor leaves on disk: the findings (JSON) and the postmortem (Markdown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainlens.findings import SCHEMA_VERSION, json_safe
from trainlens.live.monitor import Monitor


def findings_document(monitor: Monitor) -> dict[str, Any]:
    """Policies (each verdict in the ``trainlens gate --format json`` form) and every finding
    returned so far, with messages in the monitor's language."""
    from trainlens.render.gate_output import result_dict

    results = monitor.results()
    return {
        "schema_version": SCHEMA_VERSION,
        "run": monitor.name,
        "last_step": monitor.last_step,
        "logs": monitor.logs,
        "passed": not monitor.failed,
        "disabled": monitor.disabled,
        "policies": [result_dict(r, monitor.message) for r in results],
        "findings": [f.to_dict(monitor.message(f)) for f in monitor.findings],
        "notes": list(monitor.notes),
    }


def write_findings(monitor: Monitor, path: Path) -> Path:
    """Write :func:`findings_document` to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(
        json_safe(findings_document(monitor)), indent=2, ensure_ascii=False, allow_nan=False
    )
    path.write_text(text + "\n", encoding="utf-8")
    return path


def write_postmortem(monitor: Monitor, folder: Path, lang: str | None = None) -> Path | None:
    """``folder/postmortem.md`` (charts in ``postmortem_assets/``) from a fresh analysis of
    everything logged so far; None when nothing was logged."""
    from trainlens.render.markdown import render_markdown

    run = monitor.build_run()
    if not len(run.table):
        return None
    analysis = monitor.analyze(run)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "postmortem.md"
    assets = folder / "postmortem_assets"
    text = render_markdown(
        analysis,
        lang=lang or monitor.lang,
        charts=True,
        assets_dir=assets,
        analysed_paths=[monitor.name],
    )
    out.write_text(text, encoding="utf-8")
    if assets.is_dir() and not any(assets.iterdir()):
        assets.rmdir()
    return out
