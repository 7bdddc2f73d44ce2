"""The policy grammar: every form, and malformed input pointing at the offending character."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlens.errors import TrainlensError
from trainlens.findings import Severity
from trainlens.gate import (
    Aggregate,
    Comparison,
    MetricPolicy,
    Op,
    PolicyError,
    parse_policy,
    parse_severity,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kl>10", dict(metric="kl", compare=Comparison(Op.GT, 10.0))),
        ("kl >= 10", dict(metric="kl", compare=Comparison(Op.GE, 10.0))),
        ("clipped_ratio>0.3", dict(metric="clipped_ratio", compare=Comparison(Op.GT, 0.3))),
        ("loss<-1.5e-3", dict(metric="loss", compare=Comparison(Op.LT, -1.5e-3))),
        ("entropy<=.2", dict(metric="entropy", compare=Comparison(Op.LE, 0.2))),
        ("lr==0", dict(metric="lr", compare=Comparison(Op.EQ, 0.0))),
        ("lr!=0", dict(metric="lr", compare=Comparison(Op.NE, 0.0))),
        ("grad_norm>inf", dict(metric="grad_norm", compare=Comparison(Op.GT, math.inf))),
        ("loss>-inf", dict(metric="loss", compare=Comparison(Op.GT, -math.inf))),
        ("rewards/Format/mean<0.1", dict(metric="rewards/Format/mean")),
        (
            "val-core/openai/gsm8k/reward/mean@1<0.5",
            dict(metric="val-core/openai/gsm8k/reward/mean@1"),
        ),
        ('"memory(GiB)">70', dict(metric="memory(GiB)", compare=Comparison(Op.GT, 70.0))),
        ("'train_speed(iter/s)'<0.1", dict(metric="train_speed(iter/s)")),
        ("`for`>1", dict(metric="for")),
        ("max(kl)>10", dict(metric="kl", aggregate=Aggregate.MAX)),
        (
            "MEAN( reward ) < 0.5",
            dict(metric="reward", aggregate=Aggregate.MEAN, compare=Comparison(Op.LT, 0.5)),
        ),
        ("last(eval_score)<1.8", dict(metric="eval_score", aggregate=Aggregate.LAST)),
        (
            "count(kl>10)>3",
            dict(
                metric="kl",
                aggregate=Aggregate.COUNT,
                count_of=Comparison(Op.GT, 10.0),
                compare=Comparison(Op.GT, 3.0),
            ),
        ),
        ("kl>10 for 3", dict(sustained=3)),
        ("kl>10 after 100", dict(after=100, before=None)),
        ("kl>10 before 50", dict(before=50)),
        ("kl>10 after 100 for 3 before 500", dict(sustained=3, after=100, before=500)),
        ("max(kl)>10 after 100", dict(aggregate=Aggregate.MAX, after=100)),
        ("max>1", dict(metric="max", aggregate=None)),  # a metric that is named like a function
    ],
)
def test_valid_policies(text, expected):
    policy = parse_policy(text)
    assert isinstance(policy, MetricPolicy) and policy.text == text
    for name, value in expected.items():
        assert getattr(policy, name) == value, name


def test_nan_threshold_tests_for_nan():
    import numpy as np

    values = np.array([1.0, math.nan, 3.0])
    assert parse_policy("loss==nan").compare.mask(values).tolist() == [False, True, False]
    assert parse_policy("loss!=nan").compare.mask(values).tolist() == [True, False, True]
    assert parse_policy("loss!=1").compare.mask(values).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("kl>>10", 4, "expected a number"),
        ("kl>", 4, "expected a number"),
        ("kl 10", 4, "expected a comparison"),
        ("kl", 3, "expected a comparison"),
        (">10", 1, "expected a metric name"),
        ("10>kl", 1, "expected a metric name"),
        ("kl=10", 3, "did you mean '=='"),
        ("kl=>10", 3, "did you mean '>='"),
        ("kl!10", 3, "unexpected '!'"),
        ("kl>10x", 6, "unexpected 'x' in a number"),
        ("kl>1.2.3", 7, "in a number"),
        ("kl>abc", 4, "expected a number"),
        ("kl>nan", 4, "nan compares only with == or !="),
        ("kl$>1", 3, "unexpected character '$'"),
        ("maxx(kl)>1", 1, "unknown function 'maxx'"),
        ("memory(GiB)>70", 1, "quote a metric name"),
        ("max(kl>3)>1", 7, "expected ')'"),
        ("max(kl", 7, "expected ')'"),
        ("max()>1", 5, "expected a metric name"),
        ("count(kl)>3", 9, "expected a comparison inside count()"),
        ("max(kl)", 8, "expected a comparison"),
        ("kl>10 for", 10, "expected a whole number after 'for'"),
        ("kl>10 for 0", 11, "'for' needs a whole number >= 1"),
        ("kl>10 for 2.5", 11, "'for' needs a whole number >= 1"),
        ("kl>10 after -5", 13, "'after' needs a whole number >= 0"),
        ("max(kl)>1 for 3", 11, "not to an aggregate"),
        ("kl>10 after 5 after 6", 15, "'after' given twice"),
        ("kl>10 until 5", 7, "expected 'for N', 'after STEP', 'before STEP' or the end"),
        ("kl>10 10", 7, "expected 'for N'"),
        ("kl>10)", 6, "expected 'for N'"),
        ("kl>10 after 100 before 50", 26, "no step is after 100 and before 50"),
        ('"kl>10', 1, "unterminated quoted metric name"),
        ('"">1', 1, "empty quoted metric name"),
        ("", 1, "empty policy"),
        ("   ", 1, "empty policy"),
    ],
)
def test_malformed_policies_point_at_the_character(text, column, reason):
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    err = info.value
    assert err.column == column and reason in err.reason
    assert isinstance(err, TrainlensError) and err.exit_code == 2
    first, shown, caret = err.message.split("\n")
    assert first == f'bad policy "{text}": {err.reason} at column {column}' + (
        " (end of policy)" if column > len(text) else ""
    )
    assert shown == "  " + text
    assert caret == "  " + " " * (column - 1) + "^"


def test_the_issue_example_message():
    with pytest.raises(PolicyError) as info:
        parse_policy("kl>>10")
    assert info.value.message == (
        'bad policy "kl>>10": expected a number at column 4\n  kl>>10\n     ^'
    )


def test_severity_values():
    assert parse_severity("Error").severity is Severity.ERROR
    with pytest.raises(TrainlensError, match="expected info, warning or error"):
        parse_severity("fatal")


# --------------------------------------------------------------------------- properties

_names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_./@\-]{0,12}", fullmatch=True),
    st.text(
        st.characters(blacklist_characters="'\"`\n\r", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=10,
    ),
)
_thresholds = st.one_of(st.floats(allow_nan=False, width=64), st.integers(-(10**6), 10**6))
_ops = st.sampled_from(list(Op))
_aggs = st.sampled_from([a for a in Aggregate if a is not Aggregate.COUNT])


@st.composite
def policies(draw: st.DrawFn) -> MetricPolicy:
    name = draw(_names)
    compare = Comparison(draw(_ops), float(draw(_thresholds)))
    form = draw(st.sampled_from(["point", "agg", "count"]))
    after = draw(st.none() | st.integers(0, 1000))
    before = draw(st.none() | st.integers(0, 3000))
    if after is not None and before is not None and before <= after + 1:
        before = None
    if form == "point":
        return MetricPolicy(
            "", name, compare, sustained=draw(st.integers(1, 50)), after=after, before=before
        )
    if form == "agg":
        return MetricPolicy("", name, compare, aggregate=draw(_aggs), after=after, before=before)
    inner = Comparison(draw(_ops), float(draw(_thresholds)))
    return MetricPolicy(
        "", name, compare, aggregate=Aggregate.COUNT, count_of=inner, after=after, before=before
    )


@settings(max_examples=300, deadline=None)
@given(policies())
def test_canonical_text_round_trips(policy):
    text = policy.canonical_text()
    parsed = parse_policy(text)
    assert parsed == MetricPolicy(
        text,
        policy.metric,
        policy.compare,
        policy.aggregate,
        policy.count_of,
        policy.sustained,
        policy.after,
        policy.before,
    )


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("kl_max(cnt)<>=!0123456789.e -+'\"forafterb")), max_size=25
    )
)
def test_any_input_parses_or_raises_policy_error(text):
    try:
        parse_policy(text)
    except PolicyError as err:
        assert 1 <= err.column <= len(text) + 1
