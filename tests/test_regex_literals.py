"""The literal prefilter of the failure scan: which literals every match must hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainlens.engine.spec import load_rules
from trainlens.logscan import scan_file
from trainlens.regex_literals import required_literals


@pytest.mark.parametrize(
    ("pattern", "options", "folded"),
    [
        (r"(?:CUDA|NPU) out of memory\.?", {b" out of memory"}, False),
        (r"torch\.(?:cuda\.)?OutOfMemoryError", {b"OutOfMemoryError"}, False),
        (r"(?i)\b(?:nan|inf) (?:loss|gradients?)\b", {b"loss", b"gradient"}, True),
        (
            r"(?i)Loss Scale reduced|Attempted loss scale",
            {b"loss scale reduced", b"attempted loss scale"},
            True,
        ),
        (r"(?i)loss scale(?:r)? reduced|Attempted loss scale", {b"loss scale"}, True),
        (r"(?:got signal|signal)[: ]+9", {b"signal"}, False),
    ],
)
def test_required_literals(pattern: str, options: set[bytes], folded: bool) -> None:
    found = required_literals(pattern)
    assert found is not None and set(found.options) == options and found.folded is folded


@pytest.mark.parametrize("pattern", [r"\d+\s+\w+", r"(?:ab)?c", r"x|\d+", r"(?i:oom)", "(["])
def test_no_usable_literal(pattern: str) -> None:
    assert required_literals(pattern) is None


def test_every_match_holds_one_of_its_literals() -> None:
    """For every built-in log pattern: a match (on the rule's own test messages) contains one of
    the literals the prefilter looks for, so the prefilter never hides a hit."""
    from test_logscan import FIRING

    for spec in load_rules().of_kind("log_pattern"):
        for pattern in spec.patterns:
            lits = required_literals(pattern.pattern)
            for message in FIRING.get(spec.id, []):
                m = pattern.search(message)
                if m is None or lits is None:
                    continue
                text = m.group(0).encode()
                text = text.lower() if lits.folded else text
                assert any(o in text for o in lits.options), (spec.id, pattern.pattern)


def test_patterns_without_literals_still_fire(tmp_path: Path) -> None:
    """A user rule whose regex has no usable literal is searched with the regex itself."""
    base = next(s for s in load_rules().of_kind("log_pattern") if s.id == "cuda_oom")
    pattern = re.compile(r"\d+\s+\w+ed\b")
    assert required_literals(pattern.pattern) is None
    spec = base.__class__(**{**base.__dict__, "patterns": (pattern,)})
    log = tmp_path / "job.log"
    log.write_text("ok\n3  failed\nok\n", encoding="utf-8")
    scan = scan_file(log, [spec])
    assert scan.hits["cuda_oom"].lines == [2]
