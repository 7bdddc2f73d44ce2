"""Incremental watch: between full passes only the end of a run is re-checked, by the rules that
can judge new points from it, and the result agrees with checking the whole run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from logwriters import swift_line
from watch_helpers import tfrecord_ends

from trainlens.analysis import analyze_runs
from trainlens.engine.incremental import begins_after, context_points, lookback, windowed
from trainlens.engine.spec import load_rules
from trainlens.gate import parse_policy
from trainlens.load import load_runs
from trainlens.watch import (
    Follower,
    NewFinding,
    PolicyFailed,
    Polled,
    tail_analyzer,
    watch,
)

STEPS = 1400
START = 1000  # lines on disk when watching starts; the rest arrive 50 per poll


def grpo_rows(steps: int = STEPS, seed: int = 0) -> list[dict[str, float]]:
    """A healthy GRPO run with, after START, a KL spike, a gradient explosion and a NaN loss."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, steps + 1):
        rows.append(
            {
                "loss": float(rng.normal(0.01, 0.005)),
                "grad_norm": float(np.exp(rng.normal(np.log(0.4), 0.2))),
                "kl": float((0.01 + 0.05 * s / steps) * np.exp(rng.normal(0, 0.1))),
                "reward": float(1.0 + 0.3 * s / steps + rng.normal(0, 0.05)),
                "completions/clipped_ratio": float(np.clip(0.02 + rng.normal(0, 0.005), 0, 1)),
            }
        )
    if steps >= 1300:
        rows[1100 - 1]["kl"] = 15.0
        rows[1200 - 1]["grad_norm"] *= 40
        rows[1300 - 1]["loss"] = math.nan
    return rows


def lines(rows: list[dict[str, float]], a: int, b: int) -> str:
    return "".join(swift_line(s, STEPS, rows[s - 1]) + "\n" for s in range(a, b + 1))


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def follow(tmp_path: Path, rules, policies=(), **kw):
    """Watch a run that grows by 50 lines per poll; every check after the first incremental
    unless ``kw`` says otherwise. Returns the events."""
    rows = grpo_rows()
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.write_text(lines(rows, 1, START))
    at = [START]

    def grow(_: float) -> None:
        with open(log, "a") as fh:
            fh.write(lines(rows, at[0] + 1, at[0] + 50))
        at[0] += 50

    def analyze(runs):
        return analyze_runs(runs, rules=rules, audit={"enabled": False})

    options = {"incremental_above": -1.0, "full_every": 1000, **kw}
    events = watch(
        tmp_path,
        policies=policies,
        analyze=analyze,
        analyze_tail=tail_analyzer(rules),
        interval=0,
        max_polls=(STEPS - START) // 50 + 1,
        sleep=grow,
        **options,
    )
    return list(events), log


def test_only_the_first_poll_is_a_full_pass(tmp_path, rules):
    events, _ = follow(tmp_path, rules)
    polled = [e for e in events if isinstance(e, Polled)]
    assert [p.full for p in polled] == [1] + [0] * (len(polled) - 1)
    assert [p.new_points for p in polled][1:] == [50 * 9] * (len(polled) - 1)  # 9 keys a line


def test_live_findings_agree_with_a_full_check_of_the_finished_run(tmp_path, rules):
    events, log = follow(tmp_path, rules)
    live = [e.finding for e in events if isinstance(e, NewFinding)]
    ids = {s.id for s in windowed(rules.select((), ()))}
    (run,) = load_runs(log.parent).runs
    whole = analyze_runs([run], rules=rules, audit={"enabled": False}).findings
    after = {
        (f.rule, f.metric, f.start_step) for f in whole if f.rule in ids and f.start_step > START
    }
    seen = {(f.rule, f.metric, f.start_step) for f in live if f.start_step > START}
    assert after == seen
    # the three injected problems are among them, each found at the poll that read it
    assert {("kl_spike", "kl", 1100), ("grad_explosion", "grad_norm", 1200)} <= seen
    assert ("nan_inf", "loss", 1300) in seen
    # rules that read the whole series were not run on the end of the run
    assert not {f.rule for f in live if f.start_step > START} - ids


def test_a_spike_is_reported_at_the_poll_that_reads_it(tmp_path, rules):
    events, _ = follow(tmp_path, rules)
    poll = 0
    when = {}
    for e in events:
        if isinstance(e, Polled):
            poll = e.poll
        elif isinstance(e, NewFinding):
            when.setdefault((e.finding.rule, e.finding.start_step), poll + 1)
    # step 1100 is in lines 1051-1100: read at poll 3 (poll 1 read the first 1000 lines)
    assert when[("kl_spike", 1100)] == 3 and when[("grad_explosion", 1200)] == 5


def test_metric_policies_see_the_whole_series_between_full_passes(tmp_path, rules):
    # 1,050 points once the second poll has read 50 more: only if the first 1,000 (from the
    # full build) are counted with the new ones (from the end of the run)
    policy = parse_policy("count(grad_norm>0)>1040")
    events, _ = follow(tmp_path, rules, policies=[policy])
    (failed,) = [e for e in events if isinstance(e, PolicyFailed)]
    assert failed.result.value == 1050
    assert [e.full for e in events if isinstance(e, Polled)] == [1, 0]  # stopped at poll 2


def test_a_point_policy_fails_at_the_poll_that_reads_the_point(tmp_path, rules):
    events, _ = follow(tmp_path, rules, policies=[parse_policy("kl>10")])
    (failed,) = [e for e in events if isinstance(e, PolicyFailed)]
    assert failed.result.step == 1100 and failed.result.value == 15.0
    assert [e.poll for e in events if isinstance(e, Polled)][-1] == 3


def test_full_pass_every_n_polls(tmp_path, rules):
    events, _ = follow(tmp_path, rules, full_every=3)
    assert [e.full for e in events if isinstance(e, Polled)] == [1, 0, 0, 1, 0, 0, 1, 0, 0]


def test_a_cheap_run_gets_a_full_pass_every_poll(tmp_path, rules):
    events, _ = follow(tmp_path, rules, incremental_above=60.0)
    assert all(e.full for e in events if isinstance(e, Polled))


def test_a_rewritten_file_gets_a_full_pass(tmp_path, rules):
    rows = grpo_rows()
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.write_text(lines(rows, 1, 300))
    steps = iter([lambda: log.write_text(lines(rows, 1, 200)), lambda: None])

    events = watch(
        tmp_path,
        analyze=lambda runs: analyze_runs(runs, rules=rules, audit={"enabled": False}),
        analyze_tail=tail_analyzer(rules),
        interval=0,
        max_polls=3,
        sleep=lambda _: next(steps)(),
        incremental_above=-1.0,
    )
    assert [e.full for e in events if isinstance(e, Polled)] == [1, 1, 0]


def _event_file(tmp_path: Path, steps: int) -> bytes:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "src"))
    for s in range(1, steps + 1):
        writer.add_scalar("train/kl", 0.01 * s, s, walltime=1e9 + s)  # repeats the jsonl's kl
        writer.add_scalar("train/gpu_util", 90 + s % 7, s, walltime=1e9 + s)  # only here
    writer.close()
    (path,) = (tmp_path / "src").glob("events.out.tfevents.*")
    return path.read_bytes()


def test_the_end_of_a_run_is_the_end_of_its_rebuild(tmp_path):
    """With a TensorBoard log beside the history (its repeated tags dropped as a build drops
    them), appended in pieces that end anywhere: the tail has exactly the rebuild's last points."""
    rows = grpo_rows(120)
    out = tmp_path / "out"
    tb = out / "runs" / "events.out.tfevents.1.host"
    tb.parent.mkdir(parents=True)
    data = _event_file(tmp_path, 120)
    ends = tfrecord_ends(data)
    log = out / "logging.jsonl"
    log.write_text(lines(rows, 1, 30))
    tb.write_bytes(data[: ends[60]])
    follower = Follower(out)
    follower.poll()
    (state,) = follower.states.values()
    cut = ends[60]
    for k, end in enumerate([ends[100] + 3, ends[140], ends[200], len(data)]):
        with open(log, "a") as fh:
            fh.write(lines(rows, 31 + 20 * k, 50 + 20 * k))
        with open(tb, "ab") as fh:
            fh.write(data[cut:end])
        cut = end
        _, changed, _, warnings = follower.read()
        assert changed == [state] and warnings == []
        tail = state.tail_run(7)
        assert tail is not None
        whole = state.build(follower.aliases, warnings)
        assert set(tail.keys) == set(whole.keys)
        assert "train/kl" not in whole.keys and "train/gpu_util" in whole.keys
        for key in whole.keys:
            t_steps, t_values = tail.arrays(key)
            w_steps, w_values = whole.arrays(key)
            assert len(t_steps) >= min(len(w_steps), 7)
            np.testing.assert_array_equal(t_steps, w_steps[-len(t_steps) :])
            np.testing.assert_array_equal(t_values, w_values[-len(t_values) :])


def test_a_step_logged_again_needs_a_rebuild(tmp_path):
    rows = grpo_rows(100)
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.write_text(lines(rows, 1, 60))
    follower = Follower(tmp_path)
    follower.poll()
    (state,) = follower.states.values()
    with open(log, "a") as fh:
        fh.write(lines(rows, 50, 70))  # a resumed job logs steps 50-60 again
    follower.read()
    assert state.tail_run(5) is None


def test_lookback_of_the_rules(rules):
    specs = {s.id: s for s in rules.select((), ())}
    assert lookback(specs["kl_spike"]) == 8 * 50 + 5
    assert lookback(specs["nan_inf"]) == 0
    assert lookback(specs["instability_episode"]) == 0  # reads the other findings
    assert lookback(specs["reward_collapse"]) is None  # a change point needs the whole series
    assert lookback(specs["cuda_oom"]) is None  # a log pattern
    assert context_points(specs.values()) == 8 * 50 + 5


def test_begins_after():
    from trainlens.findings import Finding, Severity

    def f(key: str, start: int, members=()):
        return Finding(
            rule="r",
            severity=Severity.WARNING,
            run="run",
            metric=key,
            key=key,
            start_step=start,
            end_step=start,
            members=members,
        )

    episode = f("kl", 10, members=("x",))
    kept = begins_after([f("kl", 10), f("kl", 11), f("new", 1), episode], {"kl": 10}, 12)
    assert [(x.key, x.start_step) for x in kept] == [("kl", 11), ("new", 1)]
