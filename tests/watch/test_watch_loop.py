"""The watch loop against logs appended by a writer thread or process: each alert appears once,
at the first poll after the data that causes it is on disk; --exit-on stops the loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from logwriters import swift_line
from watch_helpers import FakeAnalysis, ProcessWriter, ThreadWriter, ThresholdRule, findings_by_poll

from trainlens.findings import Finding, Severity
from trainlens.gate import RulePolicy, SeverityPolicy, parse_policy
from trainlens.watch import (
    NewFinding,
    PathWaiting,
    PolicyFailed,
    PolicyWaiting,
    Polled,
    ReadIssue,
    RunFound,
    watch,
)

#: kl per step: an episode above 10 at steps 6-9 (growing over several polls), another at 14-15
KL = {s: (20.0 if 6 <= s <= 9 or 14 <= s <= 15 else 0.1) for s in range(1, 19)}


def line(step: int) -> str:
    return swift_line(step, 100, {"loss": 0.5, "kl": KL[step]}) + "\n"


def appender(path: Path, text: str):
    def act() -> None:
        with open(path, "a") as fh:
            fh.write(text)

    return act


def jsonl_actions(log: Path) -> list:
    """One action per poll: steps 1-5 at once, then one line per poll, step 8 split in two."""
    acts = [appender(log, "".join(line(s) for s in range(1, 6)))]
    for s in range(6, 19):
        if s == 8:
            acts += [appender(log, line(s)[:25]), appender(log, line(s)[25:])]
        else:
            acts.append(appender(log, line(s)))
    return acts


def test_alerts_appear_once_and_in_time_with_a_writer_thread(tmp_path):
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.touch()
    actions = jsonl_actions(log)
    writer = ThreadWriter(actions)
    rule = ThresholdRule()
    events = list(
        watch(tmp_path, analyze=rule, interval=1.0, max_polls=len(actions) + 2, sleep=writer.sleep)
    )
    assert [e.run for e in events if isinstance(e, RunFound)] == ["job"]
    assert not [e for e in events if isinstance(e, ReadIssue)]
    alerts = findings_by_poll(events)
    # poll 1 sees the empty file; action k is on disk before poll k + 1
    # step 6 is written by action 2 -> seen at poll 3; step 14 by action 11 (8 took two actions)
    assert [(poll, f.start_step) for poll, f in alerts] == [(3, 6), (12, 14)]
    # the episode grew over later polls (end step 6 -> 9) without a second alert
    assert alerts[0][1].end_step == 6
    # the rules ran only on polls that read something new; never on the half-written line
    polls = [e for e in events if isinstance(e, Polled)]
    assert [p.new_points > 0 for p in polls][:6] == [False, True, True, True, False, True]
    assert len(rule.calls) == sum(p.new_points > 0 for p in polls)


def test_exit_on_stops_at_the_poll_that_sees_the_violation(tmp_path):
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    log.touch()
    writer = ThreadWriter(jsonl_actions(log))
    events = list(
        watch(tmp_path, policies=[parse_policy("kl>10 for 3")], interval=1.0, sleep=writer.sleep)
    )
    (failed,) = [e for e in events if isinstance(e, PolicyFailed)]
    assert failed.result.fired_step == 8 and failed.result.run == "job"
    assert isinstance(events[-1], Polled)
    # step 8 was split over actions 4 and 5: the policy fails at poll 6, and the loop stops there
    assert events[-1].poll == 6 and writer.done == 5


def test_alerts_with_a_writer_process_tfevents(tmp_path):
    logdir = tmp_path / "tb" / "run1"
    logdir.mkdir(parents=True)
    batches = [
        [(s, KL[s]) for s in range(1, 4)],
        [(4, KL[4]), (5, KL[5])],
        [(6, KL[6])],
        [(7, KL[7]), (8, KL[8])],
        [(9, KL[9]), (10, KL[10])],
        [(11, KL[11])],
        [(14, KL[14])],
    ]
    writer = ProcessWriter(logdir, batches)
    try:
        rule = ThresholdRule()
        events = list(
            watch(
                tmp_path / "tb",
                analyze=rule,
                interval=0.5,
                max_polls=len(batches) + 1,
                sleep=writer.sleep,
            )
        )
    finally:
        writer.close()
    assert not [e for e in events if isinstance(e, ReadIssue)]
    alerts = findings_by_poll(events)
    assert [(poll, f.start_step, f.key) for poll, f in alerts] == [
        (4, 6, "train/kl"),
        (8, 14, "train/kl"),
    ]


def test_sleep_gets_the_rest_of_the_interval():
    clock_now = [100.0]

    def clock() -> float:
        return clock_now[0]

    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock_now[0] += seconds

    def slow_rules(runs):
        clock_now[0] += 0.75  # the rules take 0.75 s
        return FakeAnalysis([])

    def run(path: Path, interval: float) -> list:
        slept.clear()
        list(
            watch(
                path, analyze=slow_rules, interval=interval, max_polls=3, sleep=sleep, clock=clock
            )
        )
        return slept

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "logging.jsonl"
        log.write_text(line(1))
        assert run(Path(tmp), 2.0) == [1.25, 2.0]  # the first poll read something
        log.write_text(line(1) + line(2))  # (file replaced: read again, rules run again)
        assert run(Path(tmp), 0.5) == [0.0, 0.5]  # fell behind: no catch-up burst


def test_severity_and_rule_policies_in_watch(tmp_path):
    log = tmp_path / "logging.jsonl"
    log.write_text("".join(line(s) for s in range(1, 8)))
    events = list(
        watch(
            log,
            policies=[SeverityPolicy(Severity.ERROR)],
            analyze=ThresholdRule(),
            max_polls=5,
            sleep=lambda s: None,
        )
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RunFound", "NewFinding", "PolicyFailed", "Polled"]
    with pytest.raises(Exception, match="need the rules"):
        list(watch(log, policies=[RulePolicy("kl_limit")], max_polls=1))


def test_missing_metric_waits_and_says_so_once(tmp_path):
    log = tmp_path / "logging.jsonl"
    log.write_text(line(1))
    writer = ThreadWriter([appender(log, line(s)) for s in range(2, 5)])
    events = list(
        watch(tmp_path, policies=[parse_policy("eval_score<1")], max_polls=4, sleep=writer.sleep)
    )
    waiting = [e for e in events if isinstance(e, PolicyWaiting)]
    assert len(waiting) == 1 and "eval_score" in waiting[0].note
    assert not [e for e in events if isinstance(e, PolicyFailed)]


def test_shifting_window_keeps_its_identity(tmp_path):
    """A detector whose window start moves while the episode overlaps it: still one alert."""
    log = tmp_path / "logging.jsonl"
    log.write_text(line(1))
    windows = iter([(5, 8), (6, 9), (4, 9), (20, 22)])

    def shifting(runs):
        start, end = next(windows)
        return FakeAnalysis(
            [
                Finding(
                    rule="r",
                    severity=Severity.WARNING,
                    run=runs[0].name,
                    metric="kl",
                    key="kl",
                    start_step=start,
                    end_step=end,
                )
            ]
        )

    writer = ThreadWriter([appender(log, line(s)) for s in range(2, 5)])
    events = list(watch(log, analyze=shifting, max_polls=4, sleep=writer.sleep))
    assert [e.finding.start_step for e in events if isinstance(e, NewFinding)] == [5, 20]


def test_real_rules_on_a_growing_log(tmp_path):
    analysis = pytest.importorskip("trainlens.analysis")
    from trainlens.config import ProjectConfig
    from trainlens.gate.rulebook import load_analyzer

    rules, analyze = load_analyzer(ProjectConfig())
    if not len(rules):
        pytest.skip("no rules shipped yet")
    log = tmp_path / "job" / "logging.jsonl"
    log.parent.mkdir()
    steps = range(1, 301)
    kl = {s: (50.0 if 200 <= s <= 210 else 0.05 + 0.0001 * (s % 7)) for s in steps}
    text = [
        swift_line(
            s,
            300,
            {
                "loss": 0.1,
                "kl": kl[s],
                "grad_norm": 0.5 + 0.01 * (s % 5),
                "reward": 0.5 + 0.001 * (s % 3),
            },
        )
        + "\n"
        for s in steps
    ]
    log.write_text("".join(text[:150]))
    writer = ThreadWriter([appender(log, "".join(text[i : i + 25])) for i in range(150, 300, 25)])
    events = list(watch(tmp_path, analyze=analyze, max_polls=8, sleep=writer.sleep))
    alerts = [e.finding for e in events if isinstance(e, NewFinding)]
    keys = [(f.run, f.rule, f.metric, f.start_step) for f in alerts]
    assert keys and len(keys) == len(set(keys))  # never reported twice
    whole = analysis.analyze_runs([r for r in _load(tmp_path)], rules=rules)
    assert {(f.rule, f.metric) for f in whole.findings} <= {(f.rule, f.metric) for f in alerts}


def _load(path: Path) -> list:
    from trainlens.load import load_runs

    return load_runs(path).runs


def test_a_path_that_does_not_exist_yet_is_waited_for(tmp_path):
    """watch started before the job made its output dir: one PathWaiting, then the run is
    picked up at the first poll after it appears; every poll counts against max_polls."""
    out = tmp_path / "exp" / "v0-run"
    log = out / "logging.jsonl"

    def create() -> None:
        out.mkdir(parents=True)
        log.write_text("".join(line(s) for s in range(1, 6)))

    nothing = lambda: None  # noqa: E731
    writer = ThreadWriter([nothing, create, appender(log, "".join(line(s) for s in (6, 7)))])
    events = list(watch(out, analyze=ThresholdRule(), max_polls=4, sleep=writer.sleep))
    waiting = [e for e in events if isinstance(e, PathWaiting)]
    assert waiting == [PathWaiting(out)] and events[0] == waiting[0]
    polls = [e for e in events if isinstance(e, Polled)]
    assert len(polls) == 4 and [p.new_points for p in polls][:2] == [0, 0]
    (found,) = [e for e in events if isinstance(e, RunFound)]
    assert events.index(found) > events.index(polls[1])  # found at poll 3, after creation
    finding = next(e for e in events if isinstance(e, NewFinding))
    assert finding.finding.start_step == 6


def test_waiting_for_a_path_that_never_appears_stops_at_max_polls(tmp_path):
    sleeps: list[float] = []
    events = list(watch(tmp_path / "nowhere", max_polls=3, sleep=sleeps.append))
    assert [type(e).__name__ for e in events] == ["PathWaiting", "Polled", "Polled", "Polled"]
    assert len(sleeps) == 2
