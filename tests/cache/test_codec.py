"""The cache's JSON codec gives back exactly what it was given, or refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from trainlens.cache.codec import Uncacheable, decode, encode
from trainlens.diagnostics import ReadWarning
from trainlens.findings import EvidenceRow, Finding, Severity


def _round_trip(value: object) -> object:
    return decode(json.loads(json.dumps(encode(value), allow_nan=True)))


def test_round_trip_keeps_values_and_types() -> None:
    finding = Finding(
        rule="kl_spike",
        severity=Severity.ERROR,
        run="r",
        metric="kl",
        key="train/kl",
        start_step=3,
        end_step=9,
        peak_value=float("inf"),
        evidence=(EvidenceRow(3, 0.5, None), EvidenceRow(4, float("nan"), 0.1, "kl")),
        params={"peak": np.float64(2.5), "pair": (1, "a"), "__odd": [1, {2: "x"}]},
        members=("a@b",),
    )
    value = {
        "finding": finding,
        "warnings": [ReadWarning("f", "m")],
        "path": Path("/tmp/x"),
        "nested": {"t": (1, (2.0, None)), "d": {1: True, (2, 3): "y"}},
        "floats": [1.5, -0.0, float("-inf")],
        "big": 2**70,
    }
    back = _round_trip(value)
    assert isinstance(back, dict)
    got = back["finding"]
    assert got.params["peak"] == 2.5 and type(got.params["peak"]) is np.float64
    assert math.isnan(got.evidence[1].value) and got.evidence[0] == finding.evidence[0]
    assert got.severity is Severity.ERROR and got.members == ("a@b",)
    assert back["nested"] == value["nested"] and type(back["nested"]["t"][1]) is tuple
    assert back["warnings"] == value["warnings"] and back["path"] == Path("/tmp/x")
    assert back["floats"][2] == float("-inf") and back["big"] == 2**70


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), np.zeros(3), 1j])
def test_what_it_cannot_round_trip_is_refused(value: object) -> None:
    with pytest.raises(Uncacheable):
        encode({"x": value})
