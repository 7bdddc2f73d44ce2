"""Audits of ms-swift completions, inference results, vLLM / LLaMA-Factory outputs and JSON
lists: keys found, rates, lengths, steps, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from auditfiles import swift_completion_lines, swift_infer_records, write_jsonl

from trainlens.audit import AuditOptions, audit_completions


def test_swift_inference_results_strict_versus_diagnostic(tmp_path: Path) -> None:
    records = swift_infer_records(20, correct=10, unclosed=6, unparseable=2)
    path = write_jsonl(tmp_path / "infer_result.jsonl", records)
    audit = audit_completions([path])
    s = audit.summary()
    assert audit.files[0].keys == "layout=jsonl, response=response, gold=labels"
    assert s["n"] == 20 and s["with_gold"] == 20
    assert s["unclosed_rate"] == pytest.approx(0.3)
    assert s["unparseable_rate"] == pytest.approx(0.1)
    assert s["strict_accuracy"] == pytest.approx(0.5)
    # the unclosed ones end on the right number; "i + 10 = gold" ends on it too
    assert s["diagnostic_accuracy"] == pytest.approx(0.9)
    assert s["format_gap"] == pytest.approx(0.4)
    assert s["lengths"]["think_chars"]["n"] == 20
    assert [e.id for e in audit.examples["unclosed"]] == ["line 11", "line 12", "line 13"]
    assert audit.examples["unclosed"][0].excerpt.startswith("<think>We compute 10")
    assert audit.steps == {}


def test_swift_grpo_completions_give_rates_per_step(tmp_path: Path) -> None:
    lines = swift_completion_lines([5, 10, 15, 20], per_step=4, bad_from=15)
    path = write_jsonl(tmp_path / "completions.jsonl", lines)
    audit = audit_completions([path], AuditOptions(require_tags=("think", "answer")))
    assert audit.files[0].keys.startswith("layout=swift_completions, response=completion")
    assert "gold=solution" in audit.files[0].keys
    series = audit.step_series()
    assert series["unclosed_rate"] == [(5, 0.0), (10, 0.0), (15, 0.5), (20, 0.5)]
    assert series["strict_accuracy"][-1] == (20, 0.5)
    assert series["tag_answer_rate"][0] == (5, 1.0)
    assert audit.summary()["tag_compliance"] == {"think": 0.75, "answer": 0.75}


def test_vllm_outputs_finish_reason_gives_limit_hits(tmp_path: Path) -> None:
    records = [
        {
            "prompt": "p",
            "outputs": [{"text": "\\boxed{3}", "finish_reason": "stop"}],
            "answer": "3",
        },
        {
            "prompt": "p",
            "outputs": [{"text": "so long that it " * 5, "finish_reason": "length"}],
            "answer": "4",
        },
    ]
    audit = audit_completions([write_jsonl(tmp_path / "vllm.jsonl", records)])
    s = audit.summary()
    assert "response=outputs.0.text" in audit.files[0].keys
    assert s["limit_hits"] == 1 and s["limit_hit_rate"] == 0.5
    assert s["strict_accuracy"] == 0.5 and s["unclosed_rate"] == 0.5


def test_llamafactory_predictions_and_json_lists_with_given_keys(tmp_path: Path) -> None:
    lf = write_jsonl(
        tmp_path / "generated_predictions.jsonl",
        [{"prompt": "q", "predict": "#### 7", "label": "#### 7"}],
    )
    assert audit_completions([lf]).summary()["strict_accuracy"] == 1.0
    doc = [{"qid": 1, "gen": "The answer is 1,000", "ref": 1000}]
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    audit = audit_completions([path], AuditOptions(response_key="gen", gold_key="ref"))
    s = audit.summary()
    assert audit.files[0].keys == "layout=json, response=gen, gold=ref"
    # no answer marker: closure is not measured, only the diagnostic reading
    assert s["unclosed_rate"] is None and s["strict_accuracy"] is None
    assert s["diagnostic_accuracy"] == 1.0


def test_malformed_lines_are_skipped_counted_and_warned_once(tmp_path: Path) -> None:
    records = swift_infer_records(4, correct=4, unclosed=0)
    body = "".join(json.dumps(r) + "\n" for r in records[:2])
    body += '{"response": "cut\n[1, 2]\n"just a string"\n{"other": 1}\n'
    body += "".join(json.dumps(r) + "\n" for r in records[2:])
    path = tmp_path / "p.jsonl"
    path.write_text(body + '{"response": "<answer>9', encoding="utf-8")
    audit = audit_completions([path])
    assert audit.n == 4 and audit.files[0].skipped == 5
    (warning,) = audit.warnings
    assert warning.message == (
        "5 malformed line(s)/record(s) skipped (first: line 3, not valid JSON)"
    )


def test_without_gold_accuracies_are_none_and_empty_file_is_zero(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"response": "<answer>1</answer>"}])
    s = audit_completions([path]).summary()
    assert s["strict_accuracy"] is None and s["diagnostic_accuracy"] is None
    empty = tmp_path / "e.jsonl"
    empty.write_text("", encoding="utf-8")
    audit = audit_completions([empty])
    assert audit.n == 0 and audit.summary()["empty_rate"] is None


def test_token_lengths_and_limit_from_args_json(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, "a": 1, "b": 2}
    tok = tokenizers.Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    folder = tmp_path / "tok"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    run = tmp_path / "run"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"max_completion_length": 4}), encoding="utf-8")
    path = write_jsonl(
        run / "completions.jsonl",
        [{"completion": "a b a b a"}, {"completion": "a"}, {"completion": "a b"}],
    )
    from trainlens.audit.tokens import load_tokenizer

    audit = audit_completions([path], AuditOptions(tokenizer=load_tokenizer(folder)))
    s = audit.summary()
    assert s["lengths"]["response_tokens"]["max"] == 5
    assert s["limit_hits"] == 1 and audit.files[0].limit == 4
    assert audit.counts.values["tiny"] == 1  # "a" is one token
