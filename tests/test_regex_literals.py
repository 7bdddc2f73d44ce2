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


def test_matching_at_the_literal_finds_what_a_search_finds() -> None:
    """Trying a pattern only at a fixed offset before each literal gives the leftmost match a
    full search gives, on each rule's own messages embedded in noisy lines."""
    from test_logscan import FIRING

    from trainlens.regex_literals import first_match

    noise = ["", "{'loss': 0.5, 'grad_norm': 1.0} ", "INFO found nothing; exit code 0 | ", "x" * 50]
    for spec in load_rules().of_kind("log_pattern"):
        for pattern in spec.patterns:
            lits = required_literals(pattern.pattern)
            if lits is None:
                continue
            compiled = re.compile(pattern.pattern.encode())
            for message in FIRING.get(spec.id, []):
                for before in noise:
                    for after in noise:
                        line = (before + message + " " + after + message).encode()
                        text = line.lower() if lits.folded else line
                        want = compiled.search(line)
                        got = first_match(compiled, lits, line, text)
                        assert (want and want.span()) == (got and got.span()), (
                            spec.id,
                            pattern.pattern,
                            line,
                        )
