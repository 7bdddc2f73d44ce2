"""A stand-in for the rule engine in CLI tests of gate and watch: one rule, ``kl_limit``
(error), fires where kl is above 10. Install with :func:`install_fake_rules`."""

from __future__ import annotations

import numpy as np

from trainlens.findings import Finding, Severity


class _Analysis:
    def __init__(self, findings: list[Finding]) -> None:
        self.findings, self.skipped, self.warnings = findings, [], []


class _Spec:
    id = "kl_limit"


def _analyze(runs):
    out = []
    for run in runs:
        arrays = run.arrays("kl")
        if arrays is not None and (arrays[1] > 10).any():
            hit = arrays[0][arrays[1] > 10]
            out.append(
                Finding(
                    rule="kl_limit",
                    severity=Severity.ERROR,
                    run=run.name,
                    metric="kl",
                    key="kl",
                    start_step=int(hit[0]),
                    end_step=int(hit[-1]),
                    peak_step=int(hit[0]),
                    peak_value=float(np.max(arrays[1])),
                )
            )
    return _Analysis(out)


def install_fake_rules(monkeypatch) -> None:
    """Replace the engine that gate and watch load with the one-rule stand-in."""
    import trainlens.gate.rulebook as rulebook
    import trainlens.watch as watch

    monkeypatch.setattr(rulebook, "load_analyzer", lambda cfg: ([_Spec()], _analyze))
    # no incremental passes: the stand-in's full pass is instant
    monkeypatch.setattr(watch, "tail_analyzer", lambda rules, select=(), ignore=(): None)
