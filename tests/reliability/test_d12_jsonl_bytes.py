"""D12: a JSON-lines log keeps every record it holds whatever its bytes: NUL padding before
appended lines, UTF-16/UTF-32 (BOM or not), CR-only or CRLF line endings, a byte that is not
UTF-8, a 5,000-digit integer; and a warning never claims more was kept than was."""

from __future__ import annotations

import pytest
from logwriters import swift_line

from trainlens.diagnostics import condense
from trainlens.readers.swift_jsonl import read_swift_jsonl

pytestmark = pytest.mark.filterwarnings("error")

LINES = [swift_line(s, 9, {"loss": 1.0 / s, "grad_norm": 0.5}) for s in range(1, 10)]


def _steps(path):
    result = read_swift_jsonl(path)
    loss = result.frame[result.frame["key"] == "loss"]
    return loss["step"].tolist(), result


def test_d12_nul_padding_then_appended_lines(tmp_path):
    path = tmp_path / "logging.jsonl"
    body = "\n".join(LINES[:4]) + "\n"
    path.write_bytes(body.encode() + b"\x00" * 4096 + ("\n".join(LINES[4:]) + "\n").encode())
    steps, result = _steps(path)
    assert steps == list(range(1, 10))
    assert [w.message for w in result.warnings] == [
        f"line 5 (byte {len(body)}): 4096 NUL byte(s) (a crashed write?) skipped"
    ]


def test_d12_nul_run_inside_a_cut_record(tmp_path):
    path = tmp_path / "logging.jsonl"
    cut = LINES[3][:40]
    text = "\n".join(LINES[:3]) + "\n" + cut
    path.write_bytes(text.encode() + b"\x00" * 100 + ("\n".join(LINES[4:]) + "\n").encode())
    steps, result = _steps(path)
    assert steps == [1, 2, 3, *range(5, 10)]
    assert len(result.warnings) == 2  # the NUL run, and the cut record before it


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_d12_wide_encodings(tmp_path, codec):
    path = tmp_path / "logging.jsonl"
    path.write_bytes(("\n".join(LINES) + "\n").encode(codec))
    steps, result = _steps(path)
    assert steps == list(range(1, 10))
    assert len(result.warnings) == (0 if codec == "utf-8-sig" else 1)


@pytest.mark.parametrize("eol", ["\r", "\r\n", "\n\r"])
def test_d12_any_line_ending(tmp_path, eol):
    path = tmp_path / "logging.jsonl"
    path.write_bytes(eol.join(LINES).encode())  # no ending after the last line either
    steps, result = _steps(path)
    assert steps == list(range(1, 10))
    assert result.warnings == []


def test_d12_bad_utf8_byte_keeps_the_line(tmp_path):
    path = tmp_path / "logging.jsonl"
    bad = LINES[4].replace('"loss"', '"model": "q\\u00e9", "loss"').encode()
    bad = bad.replace(b"q\\u00e9", b"q\xe9")  # a Latin-1 byte in a text field
    path.write_bytes(("\n".join(LINES[:4]) + "\n").encode() + bad + b"\n")
    steps, result = _steps(path)
    assert steps == [1, 2, 3, 4, 5]
    assert "not UTF-8" in result.warnings[0].message


def test_d12_huge_integer_drops_only_its_field(tmp_path):
    path = tmp_path / "logging.jsonl"
    huge = LINES[4].replace('"grad_norm": 0.5', '"grad_norm": ' + "7" * 5000)
    path.write_text("\n".join([*LINES[:4], huge, *LINES[5:]]) + "\n")
    result = read_swift_jsonl(path)
    frame = result.frame
    assert frame[frame["key"] == "loss"]["step"].tolist() == list(range(1, 10))
    assert 5 not in frame[frame["key"] == "grad_norm"]["step"].tolist()
    assert "5,000 digits" in result.warnings[0].message


def test_d12_summary_does_not_claim_everything_was_kept(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text("\n".join(["{bad"] * 6 + LINES) + "\n")
    _, result = _steps(path)
    text = " ".join(w.message for w in condense(result.warnings))
    assert "every readable record was kept" not in text
    assert "3 more problem(s)" in text
