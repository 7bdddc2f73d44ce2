"""Failure signatures (``log_pattern`` rules): each fires on its real message and stays quiet
on a clean log; tracebacks are followed to their exception; repeats are counted once."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlens.engine.spec import load_rules, render_message
from trainlens.logscan import log_findings, looks_like_failure, scan_logs

RULES = load_rules()
LOG_RULES = RULES.of_kind("log_pattern")

CLEAN = """\
{'loss': 0.4123, 'grad_norm': 1.02, 'learning_rate': 1e-05, 'epoch': 0.5}
 20%|██        | 40/200 [02:18<07:14,  2.72s/it]
step:12 - actor/kl_loss:0.001 - actor/pg_loss:-0.02 - critic/score/mean:0.5
Saving model checkpoint to output/checkpoint-500
max memory allocated: 30.2 GiB of 80 GiB; nothing was killed; no traceback; loss scale 65536
NCCL version 2.21.5+cuda12.4
The following generation flags are valid: [temperature]
"""

#: rule -> a real message (as the frameworks print it), and what its finding must name
FIRING = {
    "cuda_oom": (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.78 GiB. GPU 0 has a "
        "total capacity of 39.56 GiB of which 4.51 GiB is free. Including non-PyTorch memory",
        "4.78 GiB",
    ),
    "nonfinite_loss_message": (
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing "
        "to 32768",
        "OVERFLOW",
    ),
    "ignored_generation_flags": (
        "The following generation flags are not valid and may be ignored: ['temperature', "
        "'top_p']. Set `TRANSFORMERS_VERBOSITY=info` for more details.",
        "'temperature', 'top_p'",
    ),
    "python_traceback": (
        "Traceback (most recent call last):\n"
        '  File "/home/u/verl/trainer/main_ppo.py", line 64, in main\n'
        "    run_ppo(config)\n"
        '  File "/home/u/recipe/retool/retool.py", line 210, in compute_score\n'
        "    raise NotImplementedError(f'reward for {data_source} is not implemented')\n"
        "NotImplementedError: reward for gsm8k is not implemented",
        "compute_score (retool.py:210)",
    ),
    "nccl_timeout": (
        "[rank3]:[E ProcessGroupNCCL.cpp:616] [Rank 3] Watchdog caught collective operation "
        "timeout: WorkNCCL(SeqNum=5, OpType=ALLREDUCE, Timeout(ms)=1800000) ran for 1800426 ms",
        "Watchdog",
    ),
    "sequence_too_long": (
        "Token indices sequence length is longer than the specified maximum sequence length "
        "for this model (357 > 256). Running this sequence through the model will result in "
        "indexing errors",
        "357 > 256",
    ),
    "process_killed": (
        "torch.distributed.elastic.multiprocessing.api:failed (exitcode: -9) local_rank: 0",
        "-9",
    ),
}


def _scan(tmp_path: Path, text: str) -> list:
    path = tmp_path / "train.log"
    path.write_text(text, encoding="utf-8")
    scans, warnings = scan_logs([path], LOG_RULES)
    assert warnings == []
    return log_findings(scans, list(RULES), "run", step=0, has_metrics=True)


@pytest.mark.parametrize("rule", sorted(FIRING))
def test_each_signature_fires_on_its_real_message(tmp_path: Path, rule: str) -> None:
    text, named = FIRING[rule]
    findings = [f for f in _scan(tmp_path, CLEAN + text + "\n" + CLEAN) if f.rule == rule]
    assert len(findings) == 1, [f.rule for f in findings]
    (finding,) = findings
    for lang in ("en", "zh"):
        message = render_message(finding, RULES.get(rule), lang)
        assert named in message, message
        assert "{" not in message.replace("{data_source}", "")
    assert finding.params["first_line"] == CLEAN.count("\n") + 1
    assert finding.params["count"] == 1


@pytest.mark.parametrize("rule", sorted(FIRING))
def test_each_signature_stays_quiet_on_a_clean_log(tmp_path: Path, rule: str) -> None:
    assert [f.rule for f in _scan(tmp_path, CLEAN * 3) if f.rule == rule] == []
    assert not looks_like_failure(CLEAN.encode())


def test_every_log_pattern_rule_has_cases() -> None:
    covered = set(FIRING) | {"job_died_before_training"}
    assert {s.id for s in LOG_RULES} == covered


def test_repeats_are_counted_once_with_their_lines(tmp_path: Path) -> None:
    oom = FIRING["cuda_oom"][0]
    findings = _scan(tmp_path, f"a\n{oom}\nb\n{oom}\n{oom}\n")
    (f,) = [f for f in findings if f.rule == "cuda_oom"]
    assert f.params["count"] == 3 and f.params["lines"] == [2, 4, 5]


def test_distinct_tracebacks_are_separate_findings_and_ray_blocks_count(tmp_path: Path) -> None:
    ray = (
        "Unhandled error (suppress with 'RAY_IGNORE_UNHANDLED_ERRORS=1'): "
        "ray::WorkerDict.actor_rollout_update_actor() (pid=1, ip=10.0.0.1)\n"
        '  File "/x/verl/workers/actor/dp_actor.py", line 483, in update_policy\n'
        "    loss.backward()\n"
        '  File "/env/lib/python3.10/site-packages/torch/autograd/graph.py", line 824, in run\n'
        "    return Variable._execution_engine.run_backward(\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.78 GiB.\n"
    )
    findings = _scan(tmp_path, ray * 3 + FIRING["python_traceback"][0] + "\n")
    tbs = sorted(
        (f for f in findings if f.rule == "python_traceback"), key=lambda f: f.params["count"]
    )
    assert [(f.params["exc_type"], f.params["count"]) for f in tbs] == [
        ("NotImplementedError", 1),
        ("torch.OutOfMemoryError", 3),
    ]
    # the innermost frame outside installed packages is where the job's own code failed
    assert tbs[1].params["frame"] == "update_policy (dp_actor.py:483)"


def test_a_log_with_a_crash_and_no_metrics_is_a_job_that_died(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_text("loading...\n" + FIRING["python_traceback"][0] + "\n", encoding="utf-8")
    scans, _ = scan_logs([path], LOG_RULES)
    died = [
        f
        for f in log_findings(scans, list(RULES), "r", step=0, has_metrics=False)
        if f.rule == "job_died_before_training"
    ]
    (finding,) = died
    message = render_message(finding, RULES.get("job_died_before_training"), "en")
    assert message.startswith("The job died before step 1: NotImplementedError: reward for gsm8k")
    assert "compute_score" in message
    with_metrics = log_findings(scans, list(RULES), "r", step=5, has_metrics=True)
    assert "job_died_before_training" not in {f.rule for f in with_metrics}


def test_ctrl_c_is_said_but_not_an_error(tmp_path: Path) -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "    time.sleep(1)\n"
        "KeyboardInterrupt\n"
    )
    (f,) = _scan(tmp_path, text)
    assert f.severity.value == "info"
