"""``trainlens compare`` in the terminal: side-by-side tables and the notes, printed with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trainlens.compare import Comparison
from trainlens.render.compare.cells import (
    MAX_CONFIG_ROWS,
    changed_after_best,
    compared,
    config_rows,
    heading,
    recommended_cell,
    run_notes,
    status_cell,
    summary_cells,
    summary_head,
    trend_rows,
)
from trainlens.render.compare.formatting import DASH
from trainlens.render.compare.messages import check_lang, labels, message, trend_label


def render_terminal(cmp: Comparison, console: Console, lang: str = "en") -> None:
    """Side-by-side tables: score summary, recommendations, trends, config differences, notes."""
    lang = check_lang(lang)
    t = labels(lang)
    bold = "bold" if console.is_terminal else None
    console.print(f"{t['title']}{t['colon']}{heading(cmp, lang)}", style=bold)
    for n in cmp.notes:
        console.print(f"  {message(n, lang)}", soft_wrap=True)
    if compared(cmp):
        _score_sections(cmp, console, lang, bold)
    metrics, trends = trend_rows(cmp)
    if metrics:
        console.print()
        console.print(t["trends"], style=bold)
        console.print(_table([t["run"]] + [trend_label(m, lang) for m in metrics], trends))
    changes = [(r.name, [message(n, lang) for n in changed_after_best(r)]) for r in cmp.rows]
    if any(items for _, items in changes):
        console.print()
        console.print(t["changes"], style=bold)
        for name, items in changes:
            for item in items:
                console.print(f"  {name}: {item}", soft_wrap=True)
    console.print()
    console.print(t["config"], style=bold)
    if not cmp.config.with_config:
        console.print(f"  {t['no_configs']}", soft_wrap=True)
    else:
        runs, rows, hidden, hidden_partial = config_rows(cmp, MAX_CONFIG_ROWS)
        if rows:
            console.print(_table([t["config_key"]] + runs, rows))
        else:
            console.print(f"  {t['config_same']}")
        if hidden:
            console.print(f"  {t['more'].format(n=hidden)}", soft_wrap=True)
        if hidden_partial:
            console.print(f"  {t['more_partial'].format(n=hidden_partial)}", soft_wrap=True)
        if cmp.config.without_config:
            console.print(
                f"  {t['without_config']}: {', '.join(cmp.config.without_config)}", soft_wrap=True
            )
    notes = [(r.name, run_notes(r)) for r in cmp.rows]
    if any(found for _, found in notes):
        console.print()
        console.print(t["notes"], style=bold)
        for name, found in notes:
            for note in found:
                console.print(f"  {name}: {message(note, lang)}", soft_wrap=True)


def _score_sections(cmp: Comparison, console: Console, lang: str, bold: str | None) -> None:
    """The score table and the recommended checkpoints."""
    t = labels(lang)
    console.print()
    console.print(_table(summary_head(cmp, lang), [summary_cells(r, cmp, lang) for r in cmp.rows]))
    console.print()
    console.print(t["recommendations"], style=bold)
    for r in cmp.rows:
        if r.recommended is not None:
            console.print(
                f"  {r.name}: {recommended_cell(r, lang)} — {message(r.recommended.reason, lang)}",
                soft_wrap=True,
            )
        else:
            console.print(f"  {r.name}: {DASH} ({status_cell(r, lang)})", soft_wrap=True)


def _table(head: list[str], rows: list[list[str]]) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False)
    for i, h in enumerate(head):
        table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
