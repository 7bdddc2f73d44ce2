"""ms-swift logging.jsonl reader: v2/v3/v4/Megatron formats and every kind of bad line."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from logwriters import REALDATA, swift_line, write_swift_run

from trainlens.readers._rows import parse_duration, parse_scalar_text, parse_step_fraction
from trainlens.readers.swift_jsonl import read_swift_jsonl


def values(frame, key):
    part = frame[frame["key"] == key]
    return dict(zip(part["step"].tolist(), part["value"].tolist()))


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("2s", 2),
        ("1m 8s", 68),
        ("1d 21h 10m 47s", 162647),
        ("3h 0m 5s", 10805),
        ("0.5s", 0.5),
        ("46m 13s", 2773),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_scalar_text_and_step_fraction():
    assert parse_scalar_text("46.67%") == pytest.approx(46.67)
    assert parse_scalar_text("not a number") is None
    assert parse_step_fraction("2800/6000") == (2800, 6000)
    assert parse_step_fraction(12) == (12, None)
    assert parse_step_fraction(True) == (None, None)
    assert parse_step_fraction("abc/6") == (None, None)


def test_v3_run_with_summary_records(tmp_path):
    rows = [(s, {"loss": 1.0 / s, "grad_norm": 0.5, "kl": 0.01 * s}) for s in range(1, 6)]
    write_swift_run(tmp_path, rows, max_steps=5)
    result = read_swift_jsonl(tmp_path / "logging.jsonl")
    assert result.warnings == []
    assert values(result.frame, "loss") == {s: pytest.approx(1.0 / s) for s in range(1, 6)}
    assert values(result.frame, "percentage")[5] == pytest.approx(100.0)
    assert values(result.frame, "elapsed_time")[4] == pytest.approx(20.0)
    assert values(result.frame, "train_speed(iter/s)")[5] == pytest.approx(0.2)
    # the end-of-training line and the summary record (which repeats log_history) add no points
    assert (result.frame["key"] == "loss").sum() == 5
    assert "train_loss" not in set(result.frame["key"])
    assert result.meta["max_steps"] == 5
    assert result.meta["train_summary"]["train_runtime"] == pytest.approx(123.4)
    assert result.meta["last_model_checkpoint"].endswith("checkpoint-5")
    assert result.meta["global_step"] == 5


def test_v4_seconds_per_iteration_becomes_steps_per_second(tmp_path):
    write_swift_run(tmp_path, [(10, {"loss": 0.3})], max_steps=100, version=4, summary=False)
    frame = read_swift_jsonl(tmp_path / "logging.jsonl").frame
    assert "train_speed(s/it)" not in set(frame["key"])
    assert values(frame, "train_speed(iter/s)")[10] == pytest.approx(0.2)  # 5 s/it → 0.2 it/s


def test_v2_integer_step_and_megatron_iteration(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text(
        json.dumps({"loss": 5.0, "acc": 0.1, "global_step": 1})
        + "\n"
        + json.dumps({"loss": 5.0, "acc": 0.1, "global_step": 1})
        + "\n"  # second node's copy
        + json.dumps({"loss": 4.0, "acc": 0.2, "global_step": 5})
        + "\n"
    )
    result = read_swift_jsonl(path)
    assert result.meta["swift_generation"] == "v2"
    assert (result.frame["key"] == "loss").sum() == 3  # the reader keeps file order; merge dedupes
    mpath = tmp_path / "megatron.jsonl"
    mpath.write_text(json.dumps({"loss": 2.0, "iteration": "7/70"}) + "\n")
    mres = read_swift_jsonl(mpath)
    assert values(mres.frame, "loss") == {7: 2.0}
    assert mres.meta["max_steps"] == 70


def test_nan_and_infinity_literals_are_values_missing_keys_are_not(tmp_path):
    path = tmp_path / "logging.jsonl"
    lines = [
        swift_line(1, 3, {"loss": float("nan"), "kl": 0.0}),
        swift_line(2, 3, {"loss": float("inf"), "grad_norm": float("-inf")}),
        swift_line(3, 3, {"loss": 1.0}),
    ]
    assert "NaN" in lines[0] and "Infinity" in lines[1]
    path.write_text("\n".join(lines) + "\n")
    frame = read_swift_jsonl(path).frame
    loss = values(frame, "loss")
    assert math.isnan(loss[1]) and loss[2] == math.inf and loss[3] == 1.0
    assert values(frame, "grad_norm") == {2: -math.inf}
    assert values(frame, "kl") == {1: 0.0}  # absent at steps 2 and 3, not NaN rows


def test_eval_lines_are_their_own_keys(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text(
        swift_line(100, 200, {"loss": 0.5})
        + "\n"
        + json.dumps({"eval_loss": 0.7, "eval_runtime": 3.2, "global_step/max_steps": "100/200"})
        + "\n"
    )
    frame = read_swift_jsonl(path).frame
    assert values(frame, "eval_loss") == {100: 0.7}
    assert values(frame, "loss") == {100: 0.5}


def test_partial_last_line_warns_once_with_position_and_keeps_the_rest(tmp_path):
    path = tmp_path / "logging.jsonl"
    good = swift_line(1, 10, {"loss": 1.0}) + "\n" + swift_line(2, 10, {"loss": 0.9}) + "\n"
    path.write_text(good + '{"loss": 0.8, "global_st')
    result = read_swift_jsonl(path)
    assert values(result.frame, "loss") == {1: 1.0, 2: 0.9}
    assert len(result.warnings) == 1
    w = result.warnings[0]
    assert w.source == str(path)
    assert "line 3" in w.message and f"byte {len(good)}" in w.message and "partial" in w.message


def test_following_a_file_retries_the_partial_line(tmp_path):
    path = tmp_path / "logging.jsonl"
    first = swift_line(1, 10, {"loss": 1.0}) + "\n"
    second = swift_line(2, 10, {"loss": 0.9}) + "\n"
    path.write_text(first + second[:20])
    r1 = read_swift_jsonl(path, final=False)
    assert r1.warnings == [] and r1.end_offset == len(first)
    assert values(r1.frame, "loss") == {1: 1.0}
    path.write_text(first + second)
    r2 = read_swift_jsonl(path, r1.end_offset, final=False, first_line=2)
    assert values(r2.frame, "loss") == {2: 0.9} and r2.end_offset == len(first + second)


def test_garbage_and_non_object_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text(
        swift_line(1, 5, {"loss": 1.0})
        + "\n"
        + "garbage{{\n"
        + "[1, 2]\n"
        + json.dumps({"loss": 3.0})
        + "\n"
        + swift_line(2, 5, {"loss": 0.5})
        + "\n"
    )
    result = read_swift_jsonl(path)
    assert values(result.frame, "loss") == {1: 1.0, 2: 0.5}
    messages = [w.message for w in result.warnings]
    assert len(messages) == 3
    assert messages[0].startswith("line 2") and "not valid JSON" in messages[0]
    assert messages[1].startswith("line 3") and "expected a JSON object" in messages[1]
    assert messages[2].startswith("line 4") and "no step" in messages[2]


def test_empty_and_unreadable_files(tmp_path):
    empty = tmp_path / "logging.jsonl"
    empty.write_text("")
    assert [w.message for w in read_swift_jsonl(empty).warnings] == ["empty file"]
    missing = read_swift_jsonl(tmp_path / "nope.jsonl")
    assert len(missing.warnings) == 1 and "cannot read" in missing.warnings[0].message
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.jsonl"
        locked.write_text(swift_line(1, 2, {"loss": 1.0}))
        locked.chmod(0)
        assert "cannot read" in read_swift_jsonl(locked).warnings[0].message


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_corruption_never_raises_or_loses_earlier_records(tmp_path_factory, data):
    lines = [swift_line(s, 40, {"loss": 1.0 / s, "kl": 0.001 * s}) + "\n" for s in range(1, 41)]
    blob = bytearray("".join(lines).encode())
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    pos = data.draw(st.integers(0, len(blob) - 1))
    if kind == "truncate":
        blob = blob[:pos]
    elif kind == "flip":
        blob[pos] ^= data.draw(st.integers(1, 255))
    else:
        blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=40))
    path = tmp_path_factory.mktemp("c") / "logging.jsonl"
    path.write_bytes(bytes(blob))
    result = read_swift_jsonl(path)
    intact = sum(1 for i in range(len(lines)) if len("".join(lines[: i + 1]).encode()) <= pos)
    assert (result.frame["key"] == "loss").sum() >= intact


@pytest.mark.realdata
@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_real_v3_and_v2_files():
    v3 = read_swift_jsonl(REALDATA / "swift_sft_qwen3_8b_lora_deepclima" / "logging.jsonl")
    assert v3.warnings == []
    loss = values(v3.frame, "loss")
    assert loss[1] == pytest.approx(20.53074074) and len(loss) == 44
    assert values(v3.frame, "eval_loss")[400] == pytest.approx(0.12932175, rel=1e-4)
    assert v3.meta["max_steps"] == 438 and v3.meta["best_model_checkpoint"].endswith("-400")
    v2 = read_swift_jsonl(REALDATA / "swift_v2_sft_internvl2_npu" / "logging.jsonl")
    assert v2.warnings == [] and v2.meta["swift_generation"] == "v2"
    grad = v2.frame[v2.frame["key"] == "grad_norm"]
    assert grad["value"].iloc[0] == 484.0
    # every line written twice by two nodes: the raw table has each step twice
    assert grad["step"].value_counts().max() == 2
    assert np.isin([6000, 12000], v2.frame[v2.frame["key"] == "eval_loss"]["step"]).all()


def test_vectorised_scanner_matches_the_scalar_parsers():
    import pandas as pd

    from trainlens.readers._rows import scan_numbers, text_column_to_float

    cells = [
        "2s",
        "1m 8s",
        "1d 21h 10m 47s",
        "0.5s",
        "46m 13s",
        "2800/6000",
        "1/438",
        "12",
        "abc",
        "5/",
        "/5",
        "1.2.3s",
        "s",
        "3x",
        "",
        "7m",
        "10h 0m 0s",
        "1/2/3",
    ]
    first, second = scan_numbers(np.array(cells, dtype="S"))
    for cell, a, b in zip(cells, first, second):
        dur = parse_duration(cell)
        if "/" in cell and cell.count("/") == 1 and cell[0] != "/" and cell[-1] != "/":
            n, m = parse_step_fraction(cell)
            assert (a, b) == (n, m), cell
        elif dur is not None:
            assert a == pytest.approx(dur) and math.isnan(b), cell
        else:
            assert math.isnan(a) and math.isnan(b), cell
    col = pd.Series(["46.67%", "1h 2m", "0.25", 3, None, "n/a", "1e-3"], dtype=object)
    got = text_column_to_float(col)
    assert got[:4].tolist() == pytest.approx([46.67, 3720.0, 0.25, 3.0])
    assert math.isnan(got[4]) and math.isnan(got[5]) and got[6] == pytest.approx(1e-3)


def test_non_ascii_step_text_is_a_warning_not_a_crash(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text(
        swift_line(1, 10, {"loss": 1.0})
        + "\n"
        + json.dumps({"loss": 2.0, "global_step/max_steps": "é6/10"})
        + "\n"
        + swift_line(3, 10, {"loss": 3.0})
        + "\n"
    )
    result = read_swift_jsonl(path)
    assert values(result.frame, "loss") == {1: 1.0, 3: 3.0}
    assert [w.message for w in result.warnings] == ["line 2: unreadable step 'é6/10'; skipped"]


def test_lone_surrogate_in_a_text_field_is_read(tmp_path):
    """``"\\ud800"`` decodes to a string that UTF-8 (and pandas' Arrow text columns) refuse."""
    lines = [f'{{"loss": {1 / s}, "global_step/max_steps": "{s}/10"}}' for s in (1, 2, 4, 5)]
    lines.insert(2, '{"loss": 0.3, "note": "\\ud800x", "global_step/max_steps": "3/10"}')
    path = tmp_path / "logging.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = read_swift_jsonl(path)
    frame = result.frame
    assert sorted(set(frame["key"].astype(str))) == ["loss"]
    assert frame["step"].tolist() == [1, 2, 3, 4, 5]
    assert frame["value"].tolist()[2] == 0.3


@pytest.mark.parametrize("odd_cell", [None, "é6/10"])
def test_step_text_is_a_fraction_or_an_integer_whatever_else_the_column_holds(tmp_path, odd_cell):
    """``"N/M"`` and ``"N"`` in ASCII digits (spaces around them allowed) are steps; a duration,
    a decimal, a sign, ``_`` or another script's digits are not. The same whether the column's
    cells are all ASCII (read together) or one is not (read one by one)."""
    cells = ["1/9", "2", " 3 / 9 ", "37s", "1 2/9", "6/", "7/9/3", "8/10.5", "1_0", "+9", "٣"]
    if odd_cell is not None:
        cells.append(odd_cell)
    path = tmp_path / "logging.jsonl"
    path.write_text(
        "".join(
            json.dumps({"loss": float(i), "global_step/max_steps": c}) + "\n"
            for i, c in enumerate(cells)
        )
    )
    result = read_swift_jsonl(path)
    assert values(result.frame, "loss") == {1: 0.0, 2: 1.0, 3: 2.0, 6: 5.0}
    unreadable = [w.message.split(": ", 1)[1] for w in result.warnings]
    expected = ["unreadable step '37s'; skipped", "unreadable step '1 2/9'; skipped"]
    expected += [f"unreadable step {c!r}; skipped" for c in ("7/9/3", "8/10.5", "1_0", "+9", "٣")]
    if odd_cell is not None:
        expected.append(f"unreadable step {odd_cell!r}; skipped")
    assert unreadable == expected
    assert result.meta["max_steps"] == 9


@pytest.mark.parametrize("fast", [False, True])
def test_lone_surrogate_in_the_step_field_is_named_in_the_warning(tmp_path, monkeypatch, fast):
    """Read line by line or by the pyarrow path (which once crashed building pandas' Arrow
    text column): the step is unreadable, and the warning shows the escape."""
    if fast:
        from trainlens.readers import _jsonl_fast

        if not _jsonl_fast.available():
            pytest.skip("pyarrow (the fast extra) is not installed")
        monkeypatch.setattr(_jsonl_fast, "MIN_BYTES", 0)
    lines = [swift_line(s, 9, {"loss": float(s)}) for s in (1, 2, 4)]
    lines.insert(2, '{"loss": 3.0, "global_step/max_steps": "\\ud800/9"}')
    path = tmp_path / "logging.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = read_swift_jsonl(path)
    assert values(result.frame, "loss") == {1: 1.0, 2: 2.0, 4: 4.0}
    assert [w.message for w in result.warnings] == ["line 3: unreadable step '\\ud800/9'; skipped"]


def test_records_without_any_field_are_each_named(tmp_path):
    path = tmp_path / "logging.jsonl"
    path.write_text("{}\n{}\n")
    result = read_swift_jsonl(path)
    assert len(result.frame) == 0
    assert [w.message.split(":")[0] for w in result.warnings] == ["line 1", "line 2"]
    assert all("no step field" in w.message for w in result.warnings)


_CELLS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(0, 2), max_size=2),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), _CELLS, max_size=3),
        min_size=1,
        max_size=6,
    )
)
@example([{}, {"a": -(2**63) - 1}])  # below int64 with a missing cell: objects
@example([{"a": None}, {"a": 2**63}])  # uint64 range with a null: floats
@example([{"a": 2**63}, {"a": -1}])  # neither int64 nor uint64: objects
@example([{"a": True}, {"a": None}])
def test_records_table_lays_out_columns_as_pandas_from_records(rows):
    """The reader's wide table (numpy) against ``DataFrame.from_records``: the same columns in
    the same order, the same number/other split and the same cells."""
    import pandas as pd

    from trainlens.readers._rows import records_table

    got = records_table(rows)
    want = pd.DataFrame.from_records(rows)
    assert list(got) == list(want.columns)
    for key, col in got.items():
        ref = want[key]
        if ref.dtype.kind in "iuf":
            assert col.dtype == ref.dtype, key
            assert np.array_equal(col, ref.to_numpy(), equal_nan=ref.dtype.kind == "f"), key
        else:  # objects (pandas may hold text as its own string dtype): cell by cell
            assert col.dtype.kind == "O", (key, ref.dtype)
            for mine, theirs in zip(col.tolist(), ref.to_numpy(dtype=object).tolist()):
                if isinstance(theirs, float) and math.isnan(theirs):
                    assert mine is None or (isinstance(mine, float) and math.isnan(mine))
                else:
                    assert type(mine) is type(theirs) and mine == theirs, (key, mine, theirs)


_ODD_RECORDS = (
    '{"loss": NaN, "global_step/max_steps": "7/90"}',
    '{"eval_loss": 0.5, "eval_acc": 0.25, "global_step/max_steps": "5/90"}',
    '{"loss": "n/a", "flag": true, "global_step/max_steps": "6/90"}',
    '{"loss": null, "fresh": null, "global_step/max_steps": "6/90"}',
    '{"loss": [1, 2], "note": {"a": 1}, "global_step/max_steps": "6/90"}',
    '{"loss": 0.5, "global_step": 12, "big": 123456789012345678901}',
    '{"loss": 0.5, "global_step/max_steps": "x/90", "s": "\\ud800"}',
    '{"loss": 0.5, "global_step/max_steps": 40, "train_speed(s/it)": 4.0}',
    "{}",
    "not json",
)


@pytest.mark.parametrize("seed", range(6))
def test_many_records_are_laid_out_by_pandas_with_the_same_result(tmp_path, monkeypatch, seed):
    """Past ``PANDAS_ROWS`` records the wide table comes from ``DataFrame.from_records``:
    the same table, meta and warnings as the numpy layout gives."""
    import random

    from trainlens.readers import _jsonl_fast, swift_jsonl

    monkeypatch.setattr(_jsonl_fast, "MIN_BYTES", 1 << 62)  # every line decoded here
    rng = random.Random(seed)
    lines = [swift_line(s, 90, {"loss": rng.random(), "kl": rng.random()}) for s in range(1, 90)]
    for _ in range(rng.randint(1, 12)):
        lines.insert(rng.randrange(len(lines)), rng.choice(_ODD_RECORDS))
    path = tmp_path / "logging.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got = {}
    for rows in (0, 1 << 40):
        monkeypatch.setattr(swift_jsonl, "PANDAS_ROWS", rows)
        result = read_swift_jsonl(path)
        frame = result.frame
        got[rows] = (
            {c: frame[c].tolist() for c in ("key", "step")},
            frame["value"].to_numpy(),
            list(frame["key"].cat.categories),
            result.meta,
            [w.message for w in result.warnings],
        )
    (a_cols, a_values, *a_rest), (b_cols, b_values, *b_rest) = got.values()
    assert a_cols == b_cols and a_rest == b_rest
    assert np.array_equal(a_values, b_values, equal_nan=True)
