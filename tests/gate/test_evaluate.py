"""Policy evaluation: vectorised results against a plain-Python reference, runs and findings."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlens.findings import Finding, Severity, Skipped
from trainlens.gate import (
    GateReport,
    RulePolicy,
    SeverityPolicy,
    Status,
    evaluate,
    evaluate_arrays,
    evaluate_findings,
    evaluate_metric,
    parse_policy,
)
from trainlens.merge import merge_frames
from trainlens.metrics import AliasTable
from trainlens.readers import make_frame
from trainlens.run import Run, RunMeta

STEPS = np.arange(10, 110, 10)  # 10, 20, ..., 100
KL = np.array([0.1, 0.2, 12.0, 15.0, 0.3, 11.0, 13.0, 14.0, 0.2, 0.1])


def run_of(name: str = "r", **series: tuple[list[int], list[float]]) -> Run:
    keys, steps, values = [], [], []
    for key, (s, v) in series.items():
        keys += [key] * len(s)
        steps += list(s)
        values += list(v)
    frame = make_frame(keys, np.asarray(steps), np.asarray(values, np.float64))
    table, restarts = merge_frames([("f", frame)])
    return Run(
        name,
        pd.io.common.Path("/x") / name,
        "swift_jsonl",
        table,
        RunMeta(restarts=restarts),
        AliasTable.load(),
    )


def check(text: str, steps=STEPS, values=KL):
    return evaluate_arrays(parse_policy(text), np.asarray(steps), np.asarray(values, float))


def test_point_test_worst_value_step_and_count():
    r = check("kl>10")
    assert r.status is Status.FAIL
    assert (r.value, r.step, r.violations, r.points, r.fired_step) == (15.0, 40, 5, 10, 30)
    assert r.samples[:2] == ((30, 12.0), (40, 15.0))
    ok = check("kl>20")
    assert ok.status is Status.PASS and (ok.value, ok.step, ok.violations) == (15.0, 40, 0)


def test_lower_bound_worst_is_the_minimum():
    r = check("kl<0.15")
    assert r.status is Status.FAIL and (r.value, r.step, r.violations) == (0.1, 10, 2)


def test_sustained_uses_consecutive_logged_points():
    r = check("kl>10 for 3")  # 12, 15 (2 in a row), then 11, 13, 14 (3 in a row)
    assert r.status is Status.FAIL and r.longest_streak == 3 and r.fired_step == 80
    assert r.samples == ((60, 11.0), (70, 13.0), (80, 14.0))
    r4 = check("kl>10 for 4")
    assert r4.status is Status.PASS and r4.longest_streak == 3 and r4.fired_step is None


def test_step_range_is_exclusive():
    r = check("kl>10 after 50")
    assert (r.status, r.points, r.violations, r.fired_step) == (Status.FAIL, 5, 3, 60)
    assert check("kl>10 after 80").status is Status.PASS
    assert check("kl>10 before 30").status is Status.PASS
    assert check("kl>10 before 31").status is Status.FAIL
    empty = check("kl>10 after 1000")  # nothing to check there: not a pass
    assert empty.status is Status.MISSING and empty.points == 0 and not empty.violations
    assert empty.note == "no logged points (after step 1000)"


def test_aggregates():
    assert (check("max(kl)>14").value, check("max(kl)>14").step) == (15.0, 40)
    assert check("max(kl)>14").status is Status.FAIL
    assert check("max(kl)>15").status is Status.PASS
    assert check("min(kl)<0.1").status is Status.PASS
    mean = check("mean(kl)>6")
    assert mean.value == pytest.approx(KL.mean()) and mean.status is Status.FAIL
    assert mean.step is None
    assert check("median(kl)<1").value == pytest.approx(np.median(KL))
    assert check("last(kl)<0.2").status is Status.FAIL and check("last(kl)<0.2").step == 100
    assert check("first(kl)>=0.1").status is Status.FAIL
    assert check("std(kl)>100").value == pytest.approx(KL.std())
    assert check("sum(kl)>80").value == pytest.approx(KL.sum())
    assert check("max(kl)>14 after 50").value == 14.0


def test_count():
    r = check("count(kl>10)>4")
    assert r.status is Status.FAIL and r.value == 5 and r.fired_step == 80  # the 5th violation
    assert check("count(kl>10)>5").status is Status.PASS
    assert check("count(kl>10 )>=5 after 35").status is Status.PASS  # 4 points after step 35


def test_nan_points_are_no_violation_but_are_counted():
    values = np.array([1.0, math.nan, 20.0, math.nan])
    r = check("loss>10", [1, 2, 3, 4], values)
    assert r.violations == 1 and r.nan_points == 2 and r.value == 20.0
    assert check("loss==nan", [1, 2, 3, 4], values).fired_step == 2
    assert check("max(loss)>10", [1, 2, 3, 4], values).value == 20.0
    last = check("last(loss)>10", [1, 2, 3, 4], values)  # a NaN cannot pass a threshold
    assert math.isnan(last.value) and last.status is Status.MISSING and "NaN (step 4)" in last.note


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 1.0, 5.0, 10.0, 11.0, math.nan]), min_size=1, max_size=40
    ),
    n=st.integers(1, 5),
    op=st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    threshold=st.sampled_from([0, 1, 5, 10]),
)
def test_vectorised_matches_a_plain_loop(values, n, op, threshold):
    steps = list(range(len(values)))
    arr = np.array(values)
    r = check(f"x{op}{threshold} for {n}", steps, arr)
    if np.isnan(arr).all():  # nothing to compare: not checked, never passed
        assert r.status is Status.MISSING
        assert check(f"count(x{op}{threshold})>={n}", steps, arr).status is Status.MISSING
        return
    import operator

    fn = {
        ">": operator.gt,
        ">=": operator.ge,
        "<": operator.lt,
        "<=": operator.le,
        "==": operator.eq,
        "!=": lambda a, b: a != b and not math.isnan(a),
    }[op]
    streak, fired = 0, None
    for s, v in zip(steps, values):
        streak = streak + 1 if fn(v, threshold) else 0
        if streak == n and fired is None:
            fired = s
    assert r.fired_step == fired
    assert (r.status is Status.FAIL) == (fired is not None)
    assert r.violations == sum(bool(fn(v, threshold)) for v in values)
    count = check(f"count(x{op}{threshold})>={n}", steps, arr)
    assert (count.status is Status.FAIL) == (r.violations >= n)
    finite = [v for v in values if not math.isnan(v)]
    if finite:
        assert check("mean(x)>0", steps, arr).value == pytest.approx(statistics.fmean(finite))


# ------------------------------------------------------------------------------ runs


def test_canonical_and_raw_names_resolve_on_a_run():
    run = run_of(**{"completions/clipped_ratio": ([1, 2, 3], [0.1, 0.5, 0.2])})
    r = evaluate_metric(parse_policy("clipped_ratio>0.3"), run)
    assert r.status is Status.FAIL and r.key == "completions/clipped_ratio" and r.step == 2
    raw = evaluate_metric(parse_policy("'completions/clipped_ratio'>0.3"), run)
    assert raw.status is Status.FAIL


def test_missing_metric_is_missing_with_suggestions():
    run = run_of(kl=([1], [0.1]), eval_reward=([1], [0.5]))
    r = evaluate_metric(parse_policy("eval_rewrd<1"), run)
    assert r.status is Status.MISSING and r.passed
    assert "'eval_rewrd' not found" in r.note and "did you mean 'eval_reward'" in r.note


def test_report_exit_codes():
    a = run_of("a", kl=([1, 2], [0.1, 20.0]))
    b = run_of("b", loss=([1, 2], [1.0, 1.0]))
    report = evaluate([parse_policy("kl>10"), parse_policy("loss>5")], [a, b])
    assert isinstance(report, GateReport)
    assert [(r.run, r.status) for r in report.results] == [
        ("a", Status.FAIL),
        ("a", Status.MISSING),
        ("b", Status.MISSING),
        ("b", Status.PASS),
    ]
    assert report.exit_code() == 1 and report.exit_code(strict=True) == 2
    ok = evaluate([parse_policy("loss>5")], [b])
    assert ok.exit_code() == 0 and ok.passed
    missing_only = evaluate([parse_policy("kl>5")], [b])
    assert missing_only.exit_code() == 0 and missing_only.exit_code(strict=True) == 2


# -------------------------------------------------------------------------- findings


def finding(rule: str, severity: Severity, run: str = "a", start: int = 10) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        run=run,
        metric="kl",
        key="kl",
        start_step=start,
        end_step=start + 5,
        peak_step=start + 2,
        peak_value=12.0,
    )


def test_severity_and_rule_policies():
    fs = [
        finding("kl_spike", Severity.ERROR, start=30),
        finding("lr_flat", Severity.WARNING),
        finding("kl_spike", Severity.ERROR, run="b"),
    ]
    err = evaluate_findings(SeverityPolicy(Severity.ERROR), "a", fs)
    assert err.status is Status.FAIL and err.violations == 1 and err.fired_step == 30
    warn = evaluate_findings(SeverityPolicy(Severity.WARNING), "a", fs)
    assert warn.violations == 2 and warn.findings[0].rule == "kl_spike"  # worst first
    assert evaluate_findings(SeverityPolicy(Severity.ERROR), "c", fs).status is Status.PASS
    rule = evaluate_findings(RulePolicy("lr_flat"), "a", fs)
    assert rule.status is Status.FAIL and rule.step == 12 and rule.value == 12.0
    skipped = [Skipped("entropy_collapse", "a", "metric entropy not logged")]
    miss = evaluate_findings(RulePolicy("entropy_collapse"), "a", fs, skipped)
    assert miss.status is Status.MISSING and "entropy not logged" in miss.note
    assert evaluate_findings(RulePolicy("entropy_collapse"), "b", fs, skipped).status is Status.PASS


def test_rule_policies_need_an_analysis():
    with pytest.raises(ValueError, match="needs an analysis"):
        evaluate([RulePolicy("x")], [run_of(kl=([1], [1.0]))])


@pytest.mark.parametrize(
    "policy",
    ["max(loss)>5", "loss<100", "loss>1 for 2", "mean(loss)>0", "count(loss>5)>0", "last(loss)>1"],
)
def test_all_nan_values_are_not_checked_never_passed(policy: str) -> None:
    r = check(policy, [1, 2, 3], np.array([math.nan] * 3))
    assert r.status is Status.MISSING and r.points == 3 and r.nan_points == 3
    assert "all 3 logged values of loss are NaN" in r.note and "loss==nan" in r.note
    report = GateReport([], [], [r])
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 2


@pytest.mark.parametrize("policy", ["loss==nan", "count(loss==nan)>2", "loss!=nan"])
def test_nan_tests_still_look_at_all_nan_values(policy: str) -> None:
    r = check(policy, [1, 2, 3], np.array([math.nan] * 3))
    assert r.status is (Status.PASS if "!=" in policy else Status.FAIL)


# --- keys the reader converts (ms-swift v4 train_speed(s/it)) -----------------------------------


def test_reader_converts_the_keys_the_gate_explains() -> None:
    from trainlens.gate.converted import RECIPROCAL_KEYS
    from trainlens.readers.swift_jsonl import _TRANSFORMS

    for key, target in RECIPROCAL_KEYS.items():
        new_key, fn = _TRANSFORMS[key]
        assert new_key == target and fn(4.0) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "policy, equivalent",
    [
        ('"train_speed(s/it)">20', "'train_speed(iter/s)'<0.05"),
        ("'train_speed(s/it)'>=4 for 3 after 10", "'train_speed(iter/s)'<=0.25 for 3 after 10"),
        ("max('train_speed(s/it)')>20", "min('train_speed(iter/s)')<0.05"),
        ("last('train_speed(s/it)')<2", "last('train_speed(iter/s)')>0.5"),
        ("count('train_speed(s/it)'>20)>3", "count('train_speed(iter/s)'<0.05)>3"),
        ("'train_speed(s/it)'==nan", "'train_speed(iter/s)'==nan"),
        ("mean('train_speed(s/it)')>20", None),
        ("'train_speed(s/it)'>0", None),
    ],
)
def test_a_policy_on_a_converted_key_is_explained(policy: str, equivalent: str | None) -> None:
    from trainlens.gate.converted import reciprocal_policy

    run = run_of("v4", **{"train_speed(iter/s)": ([1, 2, 3], [0.1, 0.05, 0.04])})
    p = parse_policy(policy)
    r = evaluate_metric(p, run)
    assert r.status is Status.MISSING
    assert "is read as train_speed(iter/s) = 1/x" in r.note
    alt = reciprocal_policy(p)
    if equivalent is None:
        assert alt is None and "no exact equivalent" in r.note
    else:
        assert alt is not None and alt.text == equivalent and repr(equivalent) in r.note
        assert parse_policy(alt.text).canonical_text() == alt.text  # it parses back
        # and it checks what the original meant, on the converted values
        original = evaluate_arrays(p, np.array([1, 2, 3]), 1 / np.array([0.1, 0.05, 0.04]))
        assert evaluate_metric(alt, run).status is original.status


def test_a_converted_key_without_its_target_is_a_plain_missing_metric() -> None:
    run = run_of("v3", loss=([1, 2], [1.0, 0.5]))
    r = evaluate_metric(parse_policy("'train_speed(s/it)'>20"), run)
    assert r.status is Status.MISSING and r.note.startswith("metric 'train_speed(s/it)' not found")
