"""Label masks: supervised shares, empty and prompt-supervised samples, shifted labels,
answer-only supervision through a tokenizer, .pt batches, the finding on both sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainlens.audit.labels import audit_labels, label_findings
from trainlens.cli import app
from trainlens.engine.spec import load_rules

SPECS = load_rules().of_kind("audit")
M = -100


def _write(path: Path, rows: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")
    return path


def _answer_masked(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        ids = [1, 2, 3, 4, 10 + i, 11, 0]
        rows.append(
            {
                "input_ids": ids,
                "labels": [M, M, M, M, 10 + i, 11, M],
                "attention_mask": [1, 1, 1, 1, 1, 1, 0],
            }
        )
    return rows


def test_masked_prompts_are_quiet(tmp_path: Path) -> None:
    audit = audit_labels(_write(tmp_path / "l.jsonl", _answer_masked(4)))
    s = audit.summary()
    assert s["n"] == 4 and s["tokens"] == 24 and s["supervised_share"] == pytest.approx(1 / 3)
    assert s["per_sample_share"]["p50"] == pytest.approx(0.333)
    assert label_findings(audit, SPECS, "r") == []


def test_unmasked_prompt_empty_samples_and_bad_lines_fire(tmp_path: Path) -> None:
    rows = _answer_masked(2)
    rows.append({"input_ids": [1, 2, 3], "labels": [1, 2, 3]})  # prompt supervised
    rows.append({"input_ids": [1, 2, 3], "labels": [M, M, M]})  # nothing supervised
    rows.append({"input_ids": [[1, 2], [3, 4]], "labels": [[1, 2], [M, M]]})  # a batch
    path = _write(tmp_path / "l.jsonl", rows, tail='{"input_ids": [1], "labels": [1, 2]}\nxx\n')
    audit = audit_labels(path)
    assert audit.n == 6 and audit.skipped == 2
    assert audit.no_supervised == 2 and audit.prompt_supervised == 2
    assert len(audit.warnings) == 1 and "first: line 6" in audit.warnings[0].message
    (finding,) = label_findings(audit, SPECS, "r")
    assert finding.rule == "label_mask_suspect"
    assert finding.params["no_supervised"] == 2
    assert finding.params["example_ids"] == "line 4, line 5#1, line 3"


def test_labels_shifted_by_one_are_told_apart_from_wrong_ones(tmp_path: Path) -> None:
    shifted = [{"input_ids": [5, 6, 7, 8], "labels": [M, 7, 8, M]}]
    audit = audit_labels(_write(tmp_path / "s.jsonl", shifted))
    assert audit.mismatched == 1 and audit.shifted == 1
    assert label_findings(audit, SPECS, "r") == []
    wrong = [{"input_ids": [5, 6, 7, 8], "labels": [M, 9, 9, M]}]
    audit = audit_labels(_write(tmp_path / "w.jsonl", wrong))
    assert label_findings(audit, SPECS, "r")[0].params["mismatched"] == 1


def test_answer_only_through_a_tokenizer(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    words = ["[UNK]", "q", "think", "<think>", "</think>", "<answer>", "</answer>", "7"]
    tok = tokenizers.Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = WhitespaceSplit()
    folder = tmp_path / "tok"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    ids = tok.encode("q <think> think </think> <answer> 7 </answer>").ids
    answer_only = [M, M, M, M, ids[4], ids[5], ids[6]]
    with_think = [M, ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]]
    path = _write(
        tmp_path / "l.jsonl",
        [{"input_ids": ids, "labels": answer_only}, {"input_ids": ids, "labels": with_think}],
    )
    from trainlens.audit.tokens import load_tokenizer

    audit = audit_labels(path, tokenizer=load_tokenizer(folder), answer_only=True)
    assert audit.beyond_answer == 1
    (finding,) = label_findings(audit, SPECS, "r")
    assert finding.params["example_ids"] == "line 2"
    args = ["audit", "labels", str(path), "--answer-only", "--tokenizer", str(folder)]
    result = CliRunner().invoke(app, [*args, "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["beyond_answer"] == 1


@pytest.mark.torch
def test_pt_batch_loaded_safely(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    batch = {
        "input_ids": torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]]),
        "labels": torch.tensor([[M, M, 3, 4], [1, 2, 3, 4]]),
    }
    path = tmp_path / "batch.pt"
    torch.save(batch, path)
    audit = audit_labels(path)
    assert audit.n == 2 and audit.prompt_supervised == 1 and audit.supervised == 6
    (tmp_path / "bad.pt").write_bytes(b"not a pickle")
    result = CliRunner().invoke(app, ["audit", "labels", str(tmp_path / "bad.pt")])
    assert result.exit_code == 2 and "not a batch torch can load" in result.stderr


def test_cli_text_form_and_usage_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.jsonl", [{"input_ids": [1, 2], "labels": [M, M]}])
    result = CliRunner().invoke(app, ["audit", "labels", str(path)])
    assert result.exit_code == 0 and "Suspect label mask" in result.stdout
    result = CliRunner().invoke(app, ["audit", "labels", str(path), "--answer-only"])
    assert result.exit_code == 2 and "--tokenizer" in result.stderr
