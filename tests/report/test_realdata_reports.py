"""Postmortems of the real public logs in ../shared/realdata: no crash, nothing absolute."""

from __future__ import annotations

import pytest
from logwriters import REALDATA

from trainlens.analysis import analyze
from trainlens.render.markdown import render_markdown

DIRS = sorted(p.name for p in REALDATA.iterdir() if p.is_dir()) if REALDATA.is_dir() else []


@pytest.mark.realdata
@pytest.mark.skipif(not DIRS, reason="../shared/realdata not present")
@pytest.mark.parametrize("name", DIRS)
def test_realdata_report(name):
    result = analyze(REALDATA / name)
    for lang in ("en", "zh"):
        text = render_markdown(
            result, lang=lang, charts=False, date="2026-01-01", analysed_paths=[REALDATA / name]
        )
        assert text.startswith("# ")
        assert str(REALDATA) not in text and "/openbayes/" not in text
