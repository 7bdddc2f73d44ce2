"""The words of ``trainlens compare``: labels and the sentence for each
:class:`~trainlens.compare.Note`, read from ``templates/compare_strings.yaml`` through the report's
catalog loader (:func:`trainlens.report.text.catalog`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainlens.compare import Note
from trainlens.render.compare.formatting import change, num, pct, plain
from trainlens.report.text import LANGS, catalog
from trainlens.resources import templates_dir

STRINGS_FILE = "compare_strings.yaml"


def strings_path() -> Path:
    """The built-in catalog of compare's strings."""
    return templates_dir() / STRINGS_FILE


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}")
    return lang


def section(name: str, lang: str) -> dict[str, str]:
    """``key`` → text of one section of the catalog (``label``, ``trend``...) in ``lang``."""
    prefix = f"{name}."
    return {
        key[len(prefix) :]: texts[lang]
        for key, texts in catalog(strings_path()).items()
        if key.startswith(prefix)
    }


def labels(lang: str) -> dict[str, str]:
    """Titles, table heads and cells in ``lang``."""
    return section("label", check_lang(lang))


def trend_label(metric: str, lang: str) -> str:
    """The display name of a trend metric (the metric itself when it has none)."""
    return section("trend", lang).get(metric, metric)


def fragment(name: str, lang: str, /, **params: Any) -> str:
    """A piece spliced into a message or the heading."""
    return catalog(strings_path())[f"fragment.{name}"][lang].format(**params)


def message(note: Note, lang: str = "en") -> str:
    """The sentence for one note in ``lang``."""
    lang = check_lang(lang)
    none = labels(lang)["none"]
    p: dict[str, Any] = {}
    for k, v in note.params.items():
        if isinstance(v, bool) or v is None:
            p[k] = plain(v)
        elif isinstance(v, float):
            p[k] = num(v)
        elif isinstance(v, list):
            p[k] = ", ".join(str(x) for x in v) or none
        elif isinstance(v, dict):  # step ranges (name: [first, last]) or name: text
            p[k] = "; ".join(
                f"{n}: {x[0]}–{x[1]}" if isinstance(x, (list, tuple)) else f"{n}: {x}"
                for n, x in v.items()
            )
        else:
            p[k] = v
    code = note.code
    if code in ("degraded", "no_degradation", "also_checked"):
        p["drop"] = pct(note.params["drop"])
        if note.params.get("basis") == "range":
            p["drop"] = fragment("of_range", lang, drop=p["drop"])
    if code == "also_checked":
        verdict = "also_degraded" if note.params.get("degraded") else "also_fine"
        p["verdict"] = fragment(
            verdict,
            lang,
            drop=p["drop"],
            onset=p["onset"],
            onset_value=p["onset_value"],
            final_value=p["final_value"],
        )
    if code == "changed_after_best":
        p["change"] = change(note.params["change"])
        p["metric"] = trend_label(note.params["metric"], lang)
    if code == "metric_missing":
        avail = note.params.get("available") or []
        p["available"] = fragment("available", lang, available=", ".join(avail)) if avail else ""
    if code == "ckpt_nearest_best":
        t = labels(lang)
        off = int(note.params["offset"])
        p["offset"] = t["before" if off < 0 else "after"].format(n=abs(off))
        onset = note.params.get("onset")
        p["onset"] = t["not_after_onset"].format(onset=onset) if onset is not None else ""
    if code in ("ckpt_at_best", "ckpt_nearest_best"):
        value, at = note.params.get("value"), note.params.get("value_step")
        p["value"] = (
            ""
            if value is None
            else fragment("logged_value", lang, key=note.params["key"], value=num(value), step=at)
        )
    if code == "not_compared":
        logged = note.params.get("logged") or []
        p["logged"] = (
            fragment("run_logs", lang, logged=", ".join(logged))
            if logged
            else fragment("run_logs_nothing", lang)
        )
    name = code
    if code == "metric_default":
        runs, total = note.params.get("runs"), note.params.get("total")
        if total == 1:
            name = "metric_default_single"
        elif runs is not None and total is not None and runs < total:
            name = "metric_default_most"
    template = catalog(strings_path()).get(f"message.{name}", {}).get(lang)
    if template is None:
        return f"{code}: {json.dumps(note.params, ensure_ascii=False, sort_keys=True)}"
    return template.format(**p)
