"""``replay kl`` on tiny causal LMs: the sign convention against a plain transformers forward,
policy == reference, a blown-up k3, the sampler mismatch, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from replay_fixtures import write_jsonl  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trainlens.cli import app  # noqa: E402
from trainlens.engine.spec import load_rules  # noqa: E402
from trainlens.errors import TrainlensError  # noqa: E402
from trainlens.replay.estimators import blowup_mask, kl_estimates  # noqa: E402
from trainlens.replay.kl import KLOptions, kl_batch  # noqa: E402

pytestmark = pytest.mark.torch
RULES = load_rules().of_kind("replay")
ROWS = [
    {"id": "a", "prompt": "the cat", "response": "sat on the mat <eos>"},
    {"id": "b", "prompt": "is it good", "response": "yes very good"},
    {"id": "c", "prompt_ids": [5, 6, 7], "response_ids": [8, 9, 10, 11, 12, 13, 1]},
]


def plain_logprobs(folder: Path, ids: list[int]) -> np.ndarray:
    """log p(ids[t] | ids[:t]) for t ≥ 1 with nothing but transformers."""
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    lp = logits[:-1].log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    return lp.numpy().astype(float)


def test_delta_is_log_p_ref_minus_log_p_policy(model_dir, tokenizer_dir, tmp_path) -> None:
    policy, ref = model_dir("lm", "qwen2", 0), model_dir("lm", "qwen2", 1)
    batch = write_jsonl(tmp_path / "b.jsonl", ROWS)
    result = kl_batch(
        policy, ref, batch, KLOptions(tokenizer=tokenizer_dir, batch_size=2), rules=RULES
    )
    c = result.samples[2]
    ids = [5, 6, 7, 8, 9, 10, 11, 12, 13, 1]
    delta = plain_logprobs(ref, ids)[2:] - plain_logprobs(policy, ids)[2:]  # response tokens
    est = kl_estimates(np.zeros_like(delta), delta)
    assert c.n_tokens == 7
    assert c.k1 == pytest.approx(est.k1.mean(), abs=1e-5)
    assert c.k2 == pytest.approx(est.k2.mean(), abs=1e-5)
    assert c.k3 == pytest.approx(est.k3.mean(), abs=1e-5)
    assert c.max_delta == pytest.approx(delta.max(), abs=1e-5)
    n = result.summary.n_tokens
    assert n == sum(s.n_tokens for s in result.samples)
    weighted = sum(s.k1 * s.n_tokens for s in result.samples) / n  # type: ignore[operator]
    assert result.summary.k1_mean == pytest.approx(weighted)


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_policy_equal_to_reference_gives_zero(arch, model_dir, tokenizer_dir, tmp_path) -> None:
    lm = model_dir("lm", arch)
    batch = write_jsonl(tmp_path / "b.jsonl", ROWS)
    result = kl_batch(lm, lm, batch, KLOptions(tokenizer=tokenizer_dir), rules=RULES)
    s = result.summary
    assert (s.k1_mean, s.k2_mean, s.k3_mean, s.blowup_share) == (0.0, 0.0, 0.0, 0.0)
    assert not result.findings and result.mismatch is None


def _opposed_heads(tmp_path: Path, base: Path, scale: float) -> tuple[Path, Path]:
    """Policy and reference with one body and opposite, sharpened output heads: tokens the
    reference likes, the policy avoids (Δ large and positive there)."""
    out = []
    for name, sign in (("policy", -1.0), ("ref", 1.0)):
        model = transformers.AutoModelForCausalLM.from_pretrained(str(base))
        with torch.no_grad():
            model.lm_head.weight.mul_(sign * scale)
        model.save_pretrained(str(tmp_path / name))
        out.append(tmp_path / name)
    return out[0], out[1]


def test_blown_up_k3_names_the_tokens(model_dir, tokenizer_dir, tmp_path) -> None:
    policy, ref = _opposed_heads(tmp_path, model_dir("lm"), 30.0)
    batch = write_jsonl(tmp_path / "b.jsonl", ROWS)
    result = kl_batch(policy, ref, batch, KLOptions(tokenizer=tokenizer_dir), rules=RULES)
    [finding] = [f for f in result.findings if f.rule == "kl_estimator_blowup"]
    blown = sum(s.blowup_tokens for s in result.samples)
    assert blown >= 1 and finding.params["count"] == blown
    assert finding.params["share"] == pytest.approx(blown / result.summary.n_tokens)
    assert (
        result.summary.k3_mean > 10 * result.summary.k2_mean or finding.params["blowup_part"] > 0.5
    )
    first = finding.params["tokens"][0]
    assert "@" in first and "Δ=" in first and "k3=" in first
    ids = [5, 6, 7, 8, 9, 10, 11, 12, 13, 1]
    delta = plain_logprobs(ref, ids)[2:] - plain_logprobs(policy, ids)[2:]
    expected = int(blowup_mask(kl_estimates(np.zeros_like(delta), delta), 10.0).sum())
    assert result.samples[2].blowup_tokens == expected


def test_sampler_logprobs_mismatch(model_dir, tmp_path) -> None:
    policy = model_dir("lm")
    ids = [5, 6, 7, 8, 9, 10, 11]
    exact = plain_logprobs(policy, ids)[1:].tolist()  # the 5 response tokens (t = 2..6)
    row = {"prompt_ids": ids[:2], "response_ids": ids[2:]}
    rows = [
        {"id": "same", **row, "sampler_logprobs": exact},
        {"id": "off", **row, "sampler_logprobs": [x - 0.3 for x in exact]},
        {"id": "short", **row, "sampler_logprobs": exact[:3]},
        {"id": "junk", **row, "sampler_logprobs": ["x"]},
    ]
    batch = write_jsonl(tmp_path / "b.jsonl", rows)
    result = kl_batch(policy, policy, batch, KLOptions(), rules=RULES)
    by_id = {s.id: s for s in result.samples}
    assert by_id["same"].sampler_mean_abs == pytest.approx(0.0, abs=1e-5)
    assert by_id["same"].importance_ratio == pytest.approx(1.0, abs=1e-4)
    assert by_id["off"].sampler_mean_abs == pytest.approx(0.3, abs=1e-5)
    assert by_id["off"].importance_ratio == pytest.approx(math.exp(1.5), rel=1e-4)
    assert by_id["short"].importance_ratio is None and by_id["junk"].importance_ratio is None
    messages = [w.message for w in result.warnings]
    assert any("line 3 (id short): sampler_logprobs has 3 values for 5" in m for m in messages)
    assert any(m.startswith("line 4: sampler_logprobs is not a list") for m in messages)
    m = result.mismatch
    assert m is not None and m.n_samples == 2 and m.n_tokens == 10
    assert m.mean_abs == pytest.approx(0.15, abs=1e-5) and m.max_abs == pytest.approx(0.3, abs=1e-5)
    [finding] = [f for f in result.findings if f.rule == "train_inference_mismatch"]
    assert finding.params["id"] == "off" and finding.params["mean_exceeded"] is True
    assert finding.params["count"] == 1 and finding.params["first_line"] == 2

    quiet = write_jsonl(tmp_path / "q.jsonl", rows[:1])
    assert not kl_batch(policy, policy, quiet, KLOptions(), rules=RULES).findings


def test_kl_cli_json_and_errors(model_dir, tokenizer_dir, tmp_path) -> None:
    runner = CliRunner()
    lm = model_dir("lm")
    batch = write_jsonl(tmp_path / "b.jsonl", [*ROWS, "{broken"])
    args = ["replay", "kl", "--policy", str(lm), "--ref", str(model_dir("lm", "qwen2", 1))]
    result = runner.invoke(
        app, [*args, "--batch", str(batch), "--tokenizer", str(tokenizer_dir), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"schema_version", "samples", "summary", "findings"} <= set(doc)
    assert doc["summary"]["n_samples"] == 3 and doc["summary"]["mismatch"] is None
    assert {"k1_mean", "k2_mean", "k3_mean", "blowup_share"} <= set(doc["summary"])
    assert "line 4: not valid JSON" in result.stderr
    bad = runner.invoke(app, [*args, "--batch", str(write_jsonl(tmp_path / "x.jsonl", ["{"]))])
    assert bad.exit_code == 2 and "no sample could be read" in bad.stderr
    value = runner.invoke(
        app,
        [
            "replay",
            "kl",
            "--policy",
            str(model_dir("value")),
            "--ref",
            str(lm),
            "--batch",
            str(batch),
        ],
    )
    assert value.exit_code == 2 and "lacks weights of the language model" in value.stderr


def test_nothing_comparable_raises(model_dir, tmp_path) -> None:
    lm = model_dir("lm")
    batch = write_jsonl(tmp_path / "b.jsonl", [{"response_ids": [5]}])  # one token, no prompt
    with pytest.raises(TrainlensError, match="nothing could be compared"):
        kl_batch(lm, lm, batch, KLOptions(), rules=RULES)
