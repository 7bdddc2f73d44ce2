"""``scan --format table``: the runs that need a look (findings, errors, no metrics) as a rich
table, and a one-line summary for stderr."""

from __future__ import annotations

from rich.table import Table

from trainlens.fleet.scan import ScanResult


def runs_table(result: ScanResult) -> Table:
    """Runs with findings or problems (failed ones first, then by errors and warnings, ties
    in discovery order); the caption counts the clean runs left out."""
    shown = [r for r in result.runs if r.status != "ok" or r.errors or r.warnings_found or r.infos]
    table = Table(title=f"trainlens scan {result.logdir}", title_justify="left")
    for col, just in (
        ("run", "left"),
        ("framework", "left"),
        ("steps", "right"),
        ("last write (UTC)", "left"),
        ("status", "left"),
        ("errors", "right"),
        ("warnings", "right"),
        ("info", "right"),
        ("top rule / error", "left"),
    ):
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    top = _top_rules(result)
    for r in sorted(shown, key=lambda r: (r.status == "ok", -r.errors, -r.warnings_found)):
        style = "red" if r.status == "error" or r.errors else "yellow" if r.warnings_found else ""
        table.add_row(
            r.name,
            r.framework or "",
            str(r.last_step) if r.last_step is not None else "",
            r.last_write.strftime("%Y-%m-%d %H:%M") if r.last_write else "",
            r.status,
            str(r.errors),
            str(r.warnings_found),
            str(r.infos),
            r.error or top.get(r.path, ""),
            style=style,
        )
    clean = len(result.runs) - len(shown)
    table.caption = f"{clean} clean run(s) not shown" if clean else None
    return table


def _top_rules(result: ScanResult) -> dict[str, str]:
    """Per run path: the rule of its first (most severe) finding."""
    out: dict[str, str] = {}
    for f in result.findings:
        out.setdefault(f.path, f.rule)
    return out


def summary_line(result: ScanResult) -> str:
    """One line: runs scanned and left out, failures, findings per severity, time."""
    s = result.summary()
    parts = [f"{s['scanned']} run(s) scanned"]
    if result.since is not None:
        parts.append(f"{s['unchanged']} unchanged since {result.since:%Y-%m-%d %H:%M %Z}")
    if s["status"]["error"]:
        parts.append(f"{s['status']['error']} failed to read")
    if s["status"]["no_metrics"]:
        parts.append(f"{s['status']['no_metrics']} without metrics")
    f = s["findings"]
    parts.append(f"{f['error']} errors, {f['warning']} warnings, {f['info']} info")
    return f"{', '.join(parts)} ({result.executor}, {result.seconds:.1f} s)"
