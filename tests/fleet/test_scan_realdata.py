"""The real logs of ``../shared/realdata`` (skipped when absent): every run scans without an
error row, and the findings are exactly those ``analyze`` reports for the folder."""

from __future__ import annotations

import pytest
from logwriters import REALDATA

from trainlens.fleet import scan


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_realdata_scan_matches_analyze() -> None:
    from trainlens.analysis import analyze

    result = scan(REALDATA, jobs=2)
    assert result.runs and all(r.status != "error" for r in result.runs), [
        (r.name, r.error) for r in result.runs if r.error
    ]
    analysis = analyze(REALDATA)
    expected = [(f.run, f.rule, f.start_step, f.end_step) for f in analysis.findings]
    assert [(f.run, f.rule, f.start_step, f.end_step) for f in result.findings] == expected
    assert {r.name for r in result.runs} >= {r.name for r in analysis.runs}
