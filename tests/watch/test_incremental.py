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
from trainlens.engine.detectors import spike_lookback
from trainlens.engine.incremental import context_points, lookback, reaching_past, windowed
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


def grpo_rows(
    steps: int = STEPS, seed: int = 0, collapse: int | None = None
) -> list[dict[str, float]]:
    """A healthy GRPO run with, after START, a KL spike, a gradient explosion and a NaN loss
    (and with ``collapse``, the reward down to a fifth from that step on)."""
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
    if collapse is not None:
        for row in rows[collapse - 1 :]:
            row["reward"] *= 0.2
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


def follow(tmp_path: Path, rules, policies=(), *, rows=None, polls=None, **kw):
    """Watch a run that grows by 50 lines per poll; every check after the first incremental
    unless ``kw`` says otherwise. Returns the events."""
    rows = rows or grpo_rows()
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.write_text(lines(rows, 1, START))
    at = [START]

    def grow(_: float) -> None:
        if at[0] < STEPS:
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
        max_polls=polls or (STEPS - START) // 50 + 1,
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
    # copy-truncate: the file starts again, shorter, with later steps (which would extend the
    # run as an append would); then a plain append
    steps = iter(
        [
            lambda: log.write_text(lines(rows, 301, 320)),
            lambda: open(log, "a").write(lines(rows, 321, 340)),
        ]
    )
    events = list(
        watch(
            tmp_path,
            analyze=lambda runs: analyze_runs(runs, rules=rules, audit={"enabled": False}),
            analyze_tail=tail_analyzer(rules),
            interval=0,
            max_polls=3,
            sleep=lambda _: next(steps)(),
            incremental_above=-1.0,
        )
    )
    assert [(e.full, e.new_points) for e in events if isinstance(e, Polled)] == [
        (1, 300 * 9),
        (1, 20 * 9),
        (0, 20 * 9),
    ]


def test_a_run_that_goes_quiet_gets_its_full_pass(tmp_path, rules):
    """Rules that need the whole series wait for a full pass: it comes at the first poll after
    the run stopped growing, however few polls it grew for."""
    events, _ = follow(tmp_path, rules, rows=grpo_rows(collapse=1250), polls=12)
    polled = [e for e in events if isinstance(e, Polled)]
    assert [p.full for p in polled] == [1] + [0] * 8 + [1, 0, 0]
    poll, when = 0, {}
    for e in events:
        if isinstance(e, Polled):
            poll = e.poll
        elif isinstance(e, NewFinding):
            when.setdefault(e.finding.rule, poll + 1)
    assert when["reward_collapse"] == 10  # the full pass at the first quiet poll


def test_no_incremental_analyzer_when_no_selected_rule_can(rules):
    assert tail_analyzer(rules, select=["reward_collapse"]) is None
    tail = tail_analyzer(rules, select=["kl_spike", "reward_collapse"])
    assert tail is not None and tail.context == lookback(rules.get("kl_spike"))


def test_shares_of_the_whole_run_count_the_points_before_the_end(tmp_path, rules):
    """A long truncation surge judged on the end of a run has its share of the whole run (the
    severity depends on it), as a full check does."""
    rng = np.random.default_rng(0)
    n, m = 2000, 450
    rows = []
    for s in range(1, n + m + 1):
        clipped = 0.02 + rng.normal(0, 0.005) if s <= n else 0.6 + rng.normal(0, 0.01)
        rows.append({"loss": 0.01, "completions/clipped_ratio": float(np.clip(clipped, 0, 1))})
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    write = lambda a, b: "".join(swift_line(s, n + m, rows[s - 1]) + "\n" for s in range(a, b + 1))  # noqa: E731
    log.write_text(write(1, n))

    def grow(_: float) -> None:
        with open(log, "a") as fh:
            fh.write(write(n + 1, n + m))

    events = watch(
        tmp_path,
        analyze=lambda runs: analyze_runs(runs, rules=rules, audit={"enabled": False}),
        analyze_tail=tail_analyzer(rules),
        interval=0,
        max_polls=2,
        sleep=grow,
        incremental_above=-1.0,
    )
    (live,) = [
        e.finding
        for e in events
        if isinstance(e, NewFinding) and e.finding.rule == "clipped_ratio_surge"
    ]
    (run,) = load_runs(log.parent).runs
    (whole,) = [
        f
        for f in analyze_runs([run], rules=rules, audit={"enabled": False}).findings
        if f.rule == "clipped_ratio_surge"
    ]
    assert (live.severity, live.start_step) == (whole.severity, whole.start_step)
    assert live.params["share"] == pytest.approx(m / (n + m))


def test_the_end_of_a_run_reads_raw_keys_not_the_metric_they_share_a_name_with(tmp_path):
    """Raw ``clip_ratio`` is also the canonical name of another key: the end of the run keeps
    each raw key's own points."""
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()

    def rows(a: int, b: int) -> str:
        return "".join(
            swift_line(s, 200, {"loss": 0.1, "clip_ratio": 0.001, "clip_ratio/region_mean": s})
            + "\n"
            for s in range(a, b + 1)
        )

    log.write_text(rows(1, 60))
    follower = Follower(tmp_path)
    follower.poll()
    (state,) = follower.states.values()
    with open(log, "a") as fh:
        fh.write(rows(61, 70))
    follower.read()
    tail = state.tail_run(5)
    assert tail is not None and tail.resolve("clip_ratio") != "clip_ratio"
    steps, values = tail.key_arrays("clip_ratio")
    assert steps.tolist() == list(range(56, 71)) and set(values.tolist()) == {0.001}
    assert tail.head_points["clip_ratio"] == 55


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
            t_steps, t_values = tail.key_arrays(key)
            w_steps, w_values = whole.key_arrays(key)
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
    kl = specs["kl_spike"].params
    assert lookback(specs["kl_spike"]) == spike_lookback(kl) > kl["window"]
    assert lookback(specs["nan_inf"]) == 0
    assert lookback(specs["instability_episode"]) == 0  # reads the other findings
    assert lookback(specs["reward_collapse"]) is None  # a change point needs the whole series
    assert lookback(specs["cuda_oom"]) is None  # a log pattern
    # the spike rules need the longest context today; log patterns and change points add none
    assert context_points(specs.values()) == lookback(specs["kl_spike"])
    assert context_points([specs["reward_collapse"], specs["cuda_oom"]]) == 1


def test_reaching_past():
    from trainlens.findings import Finding, Severity

    def f(key: str, start: int, end: int, members=()):
        return Finding(
            rule="r",
            severity=Severity.WARNING,
            run="run",
            metric=key,
            key=key,
            start_step=start,
            end_step=end,
            members=members,
        )

    found = [f("kl", 5, 10), f("kl", 8, 11), f("new", 1, 1), f("kl", 3, 12, members=("x",))]
    kept = reaching_past(found, {"kl": 10}, 12)
    # ending after the judged step counts (evidence that arrived late); an episode by the run
    assert [(x.key, x.start_step) for x in kept] == [("kl", 8), ("new", 1)]


def test_an_episode_that_grows_into_a_higher_severity_is_reported_again():
    from trainlens.findings import Finding, Severity
    from trainlens.watch import _Reported

    def f(end: int, severity: Severity) -> Finding:
        return Finding(
            rule="clipped_ratio_surge",
            severity=severity,
            run="run",
            metric="clipped_ratio",
            key="clipped_ratio",
            start_step=50,
            end_step=end,
        )

    seen = _Reported()
    assert seen.is_new(f(52, Severity.WARNING))
    assert not seen.is_new(f(60, Severity.WARNING))  # the same surge, longer
    assert seen.is_new(f(80, Severity.ERROR))  # it lasted: now an error, said once more
    assert not seen.is_new(f(90, Severity.ERROR))
    assert not seen.is_new(f(95, Severity.WARNING))  # a full pass that rates it lower
