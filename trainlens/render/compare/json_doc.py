"""The ``--format json`` document of ``trainlens compare``: every value, plus each note's code,
parameters and sentence in the chosen language."""

from __future__ import annotations

import json
from typing import Any

from trainlens.compare import Comparison, Note, RunComparison, Trend
from trainlens.findings import json_safe
from trainlens.render.compare.cells import reason_note
from trainlens.render.compare.messages import check_lang, message

SCHEMA_VERSION = 1


def render_json(cmp: Comparison, lang: str = "en") -> str:
    """The JSON document as text (indented, UTF-8 kept)."""
    return json.dumps(comparison_document(cmp, lang), indent=2, ensure_ascii=False)


def comparison_document(cmp: Comparison, lang: str = "en") -> dict[str, Any]:
    """The ``--format json`` document of ``trainlens compare``."""
    lang = check_lang(lang)
    return {
        "schema_version": SCHEMA_VERSION,
        "metric": cmp.metric,
        "higher_is_better": cmp.higher_is_better,
        "drop": cmp.drop,
        "steps_comparable": cmp.steps_comparable,
        "notes": [_note_dict(n, lang) for n in cmp.notes],
        "runs": [run_dict(r, cmp, lang) for r in cmp.rows],
        "config_differences": json_safe(
            {
                "keys": list(cmp.config.keys),
                "only_in_some_runs": {
                    k: [n for n in cmp.config.with_config if k in cmp.config.values[n]]
                    for k in cmp.config.partial
                },
                "runs_with_config": list(cmp.config.with_config),
                "runs_without_config": list(cmp.config.without_config),
            }
        ),
    }


def run_dict(row: RunComparison, cmp: Comparison, lang: str = "en") -> dict[str, Any]:
    """One run of the JSON document."""
    d = row.degradation
    rec = row.recommended
    reason = reason_note(row)
    return json_safe(
        {
            "name": row.name,
            "status": row.status,
            "reason": None if reason is None else message(reason, lang),
            "metric": row.metric,
            "key": row.key,
            "other_keys": list(row.other_keys),
            "higher_is_better": row.higher_is_better,
            "smoothing_window": row.window,
            "points": row.points,
            "first_step": row.first_step,
            "last_step": row.last_step,
            "best_step": d.best_step if d else None,
            "best_value": d.best_value if d else None,
            "degradation_step": d.onset_step if d else None,
            "degradation_value": d.onset_value if d else None,
            "worst_step": d.worst_step if d else None,
            "worst_value": d.worst_value if d else None,
            "final_step": d.final_step if d else None,
            "final_value": d.final_value if d else None,
            "drop_from_best": row.drop_from_best,
            "drop_basis": row.drop_basis,
            "smoothed": d.smoothed if d else None,
            "best_fraction": row.best_fraction,
            "recommended_checkpoint": None
            if rec is None
            else {
                "step": rec.step,
                "path": rec.path,
                "source": rec.source,
                "value": rec.value,
                "value_step": rec.value_step,
                "reason": message(rec.reason, lang),
                "reason_code": rec.reason.code,
            },
            "checkpoints": list(row.checkpoints),
            "trends": {t.metric: _trend_dict(t) for t in row.trends},
            "config": cmp.config.for_run(row.name) if row.name in cmp.config.with_config else None,
            "notes": [_note_dict(n, lang) for n in row.notes],
        }
    )


def _note_dict(note: Note, lang: str) -> dict[str, Any]:
    return {"code": note.code, "message": message(note, lang), "params": json_safe(note.params)}


def _trend_dict(t: Trend) -> dict[str, Any]:
    return {
        "key": t.key,
        "points": t.points,
        "first": t.first,
        "last": t.last,
        "min": t.minimum,
        "max": t.maximum,
        "at_best": t.at_best,
        "change": t.change,
        "change_after_best": t.change_after_best,
    }
