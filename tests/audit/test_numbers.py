"""Numbers as graders compare them, answers found in responses, gold answers read."""

from __future__ import annotations

from fractions import Fraction

import pytest

from trainlens.audit.extract import AnswerFormat, AnswerStyle, choose_format, extract, read_gold
from trainlens.audit.numbers import boxed, last_number, parse_number, same_value


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1,000", "1000"),
        ("5.0", "5"),
        ("-3/4", "-0.75"),
        ("\\frac{1}{2}", "0.5"),
        ("\\dfrac{3}{6}", "1/2"),
        ("$1,234,567.00", "1234567"),
        ("-.5", "-0.5"),
        ("72.", "72"),
        ("\\boxed{12}", "12"),
    ],
)
def test_equal_numbers_written_differently(a: str, b: str) -> None:
    left = parse_number(boxed(a) or a)
    assert left is not None and same_value(left, parse_number(b))


@pytest.mark.parametrize("text", ["1,2,3", "3 + 4 = 7", "about 5 or 6", "", "five", "1/0"])
def test_text_that_is_not_one_number(text: str) -> None:
    assert parse_number(text) is None


def test_last_number_skips_word_tails_and_reads_signs() -> None:
    assert last_number("x2 costs 1,250 then -3 and v3") == -3
    assert last_number("5-3") == 3
    assert last_number("no numbers") is None
    assert not same_value(Fraction(5), "5")  # a number never equals text


def test_boxed_is_balanced_and_an_unfinished_box_is_none() -> None:
    assert boxed("so \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"
    assert boxed("cut \\boxed{\\frac{1}{2") is None


def test_answers_under_each_convention() -> None:
    tag = AnswerFormat(AnswerStyle.STOP, stop="</answer>")
    got = extract("<think>2+2</think><answer> 4.0 </answer>", tag)
    assert got.closed and got.value == 4 and got.think_chars == 3
    assert not extract("<answer>4", tag).closed
    assert extract("<answer>4", tag, stop_reason="</answer>").value == 4  # vLLM dropped it
    several = extract("<answer>3 + 4 = 7</answer>", tag)
    assert several.closed and several.value is None  # unparseable
    assert extract("<answer>42 so 42</answer>", tag).value == 42
    assert extract("<answer>Paris.</answer>", tag).value == "paris"
    hashed = AnswerFormat(AnswerStyle.HASH)
    assert extract("work\n#### 1,000", hashed).value == 1000
    fmt = choose_format([], pattern=r"Answer: (?P<answer>\S+)")
    assert extract("bla Answer: 7", fmt).value == 7


def test_format_found_from_the_responses() -> None:
    assert choose_format(["a \\boxed{1}", "b \\boxed{2}", "c"]).style is AnswerStyle.BOXED
    assert choose_format(["<answer>1</answer>", "x"]).stop == "</answer>"
    assert choose_format(["plain 1", "plain 2"]).style is AnswerStyle.NONE
    with pytest.raises(ValueError, match="invalid regex"):
        choose_format([], pattern="(")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Natalia sold 48/2 = 24 clips in May.\n#### 72", 72),
        ("#### 1,000", 1000),
        ("\\boxed{-2}", -2),
        (5.0, 5),
        ([" 12 "], 12),
        ("<answer>3</answer>", 3),
        ("Paris", "paris"),
        (None, None),
    ],
)
def test_gold_answers(raw: object, value: object) -> None:
    assert read_gold(raw) == value
