"""``replay score`` on tiny models built in the tests: EOS in the mask, batch and padding
invariance, pairs, the padding self-check, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from replay_fixtures import EOS_ID, write_jsonl  # noqa: E402

from trainlens.engine.spec import load_rules  # noqa: E402
from trainlens.errors import TrainlensError  # noqa: E402
from trainlens.replay.score import ScoreOptions, score_batch  # noqa: E402
from trainlens.replay.scores import Aggregate  # noqa: E402

pytestmark = pytest.mark.torch
RULES = load_rules().of_kind("replay")

SAMPLES = [
    {"id": "s1", "prompt": "the cat sat on", "response": "the mat <eos>"},
    {"id": "s2", "prompt": "hello", "response": "world"},
    {"id": "s3", "prompt": "a dog is", "response": "very good and quite short <eos>"},
    {"id": "s4", "prompt": "", "response": "yes"},
    {"id": "s5", "prompt": "is the answer good", "response": "no it is bad <eos>"},
]


def score(model: Path, batch: Path, tok: Path | None, **options: object):  # type: ignore[no-untyped-def]
    return score_batch(model, batch, ScoreOptions(tokenizer=tok, **options), rules=RULES)  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_identical_texts_with_and_without_eos(arch, model_dir, tokenizer_dir, tmp_path) -> None:
    batch = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"id": "a", "prompt": "是 这 回答", "response": "无性别偏向"},
            {"id": "b", "prompt": "是 这 回答", "response": "无性别偏向 <eos>"},
        ],
    )
    result = score(model_dir("value", arch), batch, tokenizer_dir)
    a, b = result.samples
    assert (a.n_tokens, b.n_tokens) == (1, 2) and (a.n_eos, b.n_eos) == (0, 1)
    assert a.score_without_eos == pytest.approx(b.score_without_eos, abs=1e-5)
    gap = abs(a.score_with_eos - b.score_with_eos)
    assert gap > 0.1
    assert result.summary.identical_text_max_gap == pytest.approx(gap)
    [finding] = [f for f in result.findings if f.rule == "eos_mask_bias"]
    assert finding.params["fixed"] is True and finding.params["ids"] == ["a", "b"]
    assert finding.params["gap_without_eos"] < 1e-5 and finding.params["first_line"] == 1

    excluded = score(model_dir("value", arch), batch, tokenizer_dir, include_eos=False)
    assert excluded.summary.identical_text_max_gap == pytest.approx(0.0, abs=1e-5)
    assert [s.score for s in excluded.samples] == [s.score_without_eos for s in excluded.samples]


def test_reward_head_reads_the_last_response_token(model_dir, tokenizer_dir, tmp_path) -> None:
    batch = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"id": "a", "prompt": "the cat", "response": "sat on the mat"},
            {"id": "b", "prompt": "the cat", "response": "sat on the mat <eos>"},
        ],
    )
    result = score(model_dir("reward"), batch, tokenizer_dir, head="reward")
    a, b = result.samples
    assert b.score_without_eos == pytest.approx(a.score_with_eos, abs=1e-5)
    assert a.score_with_eos == a.score_without_eos


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
@pytest.mark.parametrize("head", ["value", "reward"])
def test_scores_do_not_depend_on_batch_or_padding_side(
    arch, head, model_dir, tokenizer_dir, tmp_path
) -> None:
    from trainlens.replay.forward import batch_outputs
    from trainlens.replay.model import Head, load_model

    batch = write_jsonl(tmp_path / "b.jsonl", SAMPLES)
    alone = score(model_dir(head, arch), batch, tokenizer_dir, head=head, batch_size=1)
    for size in (2, 5):
        together = score(model_dir(head, arch), batch, tokenizer_dir, head=head, batch_size=size)
        for x, y in zip(alone.samples, together.samples):
            assert x.score_with_eos == pytest.approx(y.score_with_eos, abs=1e-5)
            assert x.score_without_eos == pytest.approx(y.score_without_eos, abs=1e-5)
    assert alone.padding is not None and not alone.padding.differing
    lm = load_model(model_dir(head, arch), Head(head), device=_cpu(), dtype=_fp32())
    seqs = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16, 1]]
    right = batch_outputs(lm, seqs, "right")
    left = batch_outputs(lm, seqs, "left")
    for s, r, lft in zip(seqs, right, left):
        single = batch_outputs(lm, [s])[0]
        np.testing.assert_allclose(r, single, atol=1e-5)
        np.testing.assert_allclose(lft, single, atol=1e-5)


def _cpu():  # type: ignore[no-untyped-def]
    import torch

    return torch.device("cpu")


def _fp32():  # type: ignore[no-untyped-def]
    import torch

    return torch.float32


def test_padding_sensitivity_fires_when_position_ids_are_dropped(
    model_dir, tokenizer_dir, tmp_path, monkeypatch
) -> None:
    """GPT-2 has absolute positions: without position ids, left padding shifts them."""
    from trainlens.replay import model as model_module

    real = model_module.load_model

    def no_positions(*args, **kwargs):  # type: ignore[no-untyped-def]
        lm = real(*args, **kwargs)
        lm.takes_position_ids = False
        return lm

    monkeypatch.setattr("trainlens.replay.score.load_model", no_positions)
    batch = write_jsonl(tmp_path / "b.jsonl", SAMPLES)
    result = score(model_dir("value", "gpt2"), batch, tokenizer_dir)
    [finding] = [f for f in result.findings if f.rule == "padding_sensitivity"]
    assert finding.params["by_side"] is True
    assert finding.params["max_diff"] > finding.params["tolerance"] == 1e-4
    assert finding.params["dtype"] == "fp32"


def test_pairs_summary_and_token_ids_without_a_tokenizer(model_dir, tmp_path) -> None:
    rows = [
        {"id": "p1", "prompt_ids": [5, 6], "teacher_ids": [7, 8, EOS_ID], "student_ids": [9]},
        {"id": "p2", "prompt_ids": [10], "chosen_ids": [11, 12], "rejected_ids": [13, 14, 15]},
        {"id": "p3", "prompt_ids": [16], "teacher_ids": [17], "student_ids": [18, 19]},
        {"id": "t", "prompt": "text needs a tokenizer", "response": "so it is skipped"},
    ]
    result = score(model_dir("value"), write_jsonl(tmp_path / "b.jsonl", rows), None)
    assert [(s.id, s.role) for s in result.samples] == [
        (p, r) for p in ("p1", "p2", "p3") for r in ("teacher", "student")
    ]
    assert any("needs a tokenizer" in w.message and "line 4" in w.message for w in result.warnings)
    gaps = [t.score - s.score for t, s in zip(result.samples[::2], result.samples[1::2])]
    assert [s.gap for s in result.samples[::2]] == pytest.approx(gaps)
    summary = result.summary
    assert summary.n_pairs == 3 and summary.n_samples == 6
    assert summary.d_acc == pytest.approx(np.mean([g > 0 for g in gaps]))
    assert summary.mean_gap == pytest.approx(np.mean(gaps))
    assert summary.hard_pair_share == pytest.approx(np.mean([g < 0.1 for g in gaps]))
    assert result.samples[0].n_eos == 1 and result.samples[0].n_tokens == 3


def test_length_bias_fires_on_a_summed_positive_value(model_dir, tokenizer_dir, tmp_path) -> None:
    import torch
    import transformers

    folder = tmp_path / "biased"
    model = transformers.AutoModelForTokenClassification.from_pretrained(str(model_dir("value")))
    with torch.no_grad():
        model.score.weight.zero_()
        model.score.bias.fill_(1.0)
    model.save_pretrained(str(folder))
    rows = [
        {"id": str(n), "prompt": "the", "response": " ".join(["good"] * n)} for n in range(1, 13)
    ]
    result = score(
        folder, write_jsonl(tmp_path / "b.jsonl", rows), tokenizer_dir, aggregate=Aggregate.sum
    )
    assert result.summary.length_score_corr == pytest.approx(1.0)
    [finding] = [f for f in result.findings if f.rule == "replay_length_bias"]
    assert finding.params["n_samples"] == 12
    mean = score(folder, write_jsonl(tmp_path / "b.jsonl", rows), tokenizer_dir)
    assert mean.summary.length_score_corr is None  # constant score: no correlation
    assert not [f for f in mean.findings if f.rule == "replay_length_bias"]


def test_bad_lines_are_skipped_and_counted(model_dir, tokenizer_dir, tmp_path) -> None:
    rows: list[object] = [
        SAMPLES[0],
        "{not json",
        '["a list"]',
        {"id": "x", "prompt": "the"},
        {"id": "y", "teacher": "good"},
        {"id": "z", "response_ids": [1, -2]},
        {"id": "long", "prompt": "the " * 70, "response": "cat"},
        {"id": "oov", "response_ids": [5, 999]},
        SAMPLES[1],
    ]
    result = score(model_dir("value"), write_jsonl(tmp_path / "b.jsonl", rows), tokenizer_dir)
    assert [s.id for s in result.samples] == ["s1", "s2"]
    assert result.batch.lines_read == 9 and result.batch.lines_skipped == 5
    assert result.samples_skipped == 2  # too long for the context, id outside the vocabulary
    messages = [w.message for w in result.warnings]
    assert any(m.startswith("line 2: not valid JSON") for m in messages)
    assert any(m.startswith("line 7 (id long)") and "context (64)" in m for m in messages)
    assert any(m.startswith("line 8 (id oov)") and "vocabulary" in m for m in messages)


def test_nothing_to_score_and_wrong_inputs_raise(model_dir, tokenizer_dir, tmp_path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ["{", {"id": 1}])
    with pytest.raises(TrainlensError, match="no sample could be read"):
        score(model_dir("value"), bad, tokenizer_dir)
    good = write_jsonl(tmp_path / "good.jsonl", SAMPLES)
    with pytest.raises(TrainlensError, match="no value head"):
        score(model_dir("lm"), good, tokenizer_dir)
    with pytest.raises(TrainlensError, match="--eos-id 5000"):
        score(model_dir("value"), good, tokenizer_dir, eos_id=5000)
    with pytest.raises(TrainlensError, match="not a Hugging Face model directory"):
        score(tmp_path, good, tokenizer_dir)
    long = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "the " * 80, "response": "cat"}])
    with pytest.raises(TrainlensError, match="nothing could be scored"):
        score(model_dir("value"), long, tokenizer_dir)


def test_bf16_stays_within_its_tolerance(model_dir, tokenizer_dir, tmp_path) -> None:
    batch = write_jsonl(tmp_path / "b.jsonl", SAMPLES)
    fp32 = score(model_dir("value"), batch, tokenizer_dir, dtype="fp32")
    bf16 = score(model_dir("value"), batch, tokenizer_dir, dtype="bf16", batch_size=2)
    assert bf16.dtype == "bf16" and bf16.padding is not None
    assert bf16.padding.tolerance == 5e-2 and not bf16.padding.differing
    assert not [f for f in bf16.findings if f.rule == "padding_sensitivity"]
    for a, b in zip(fp32.samples, bf16.samples):
        assert b.score_with_eos == pytest.approx(
            a.score_with_eos, abs=5e-2 * max(1, abs(a.score_with_eos))
        )
