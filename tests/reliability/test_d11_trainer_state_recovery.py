"""D11: a ``trainer_state.json`` cut while saving, or with a broken byte, keeps every complete
``log_history`` entry (one warning), and its metadata where readable."""

from __future__ import annotations

import pytest
from logwriters import write_trainer_state

from trainlens.readers.hf_trainer_state import read_trainer_state

pytestmark = pytest.mark.filterwarnings("error")

HISTORY = [{"epoch": s / 60, "loss": 2.0 / s, "step": s} for s in range(1, 61)]


def _loss_steps(result):
    return result.frame[result.frame["key"] == "loss"]["step"].tolist()


@pytest.fixture()
def state(tmp_path):
    return write_trainer_state(tmp_path / "trainer_state.json", HISTORY, max_steps=60)


def test_d11_cut_mid_save_keeps_complete_entries(state):
    raw = state.read_bytes()
    cut = raw.index(b'"step": 51') + 4  # inside entry 51
    state.write_bytes(raw[:cut])
    result = read_trainer_state(state)
    assert _loss_steps(result) == list(range(1, 51))
    assert len(result.warnings) == 1
    assert "50 complete log_history entries kept" in result.warnings[0].message
    assert result.meta["global_step"] == 60  # written before log_history (sorted keys)


@pytest.mark.parametrize("cut", [1, 17, 100, 1000, 5000])
def test_d11_every_cut_keeps_a_prefix(state, cut):
    raw = state.read_bytes()
    state.write_bytes(raw[: len(raw) - cut])
    result = read_trainer_state(state)
    steps = _loss_steps(result)
    assert steps == list(range(1, len(steps) + 1))
    complete = raw[: len(raw) - cut].count(b"}")  # entries closed before the cut
    assert len(steps) >= min(complete, 60) - 1


def test_d11_invalid_utf8_byte_keeps_the_file(state):
    raw = state.read_bytes()
    state.write_bytes(raw.replace(b'"max_steps": 60', b'"max_steps": 60, "name": "r\xe9"', 1))
    result = read_trainer_state(state)
    assert _loss_steps(result) == list(range(1, 61))
    assert result.meta["max_steps"] == 60
    assert "not UTF-8" in result.warnings[0].message


def test_d11_broken_entry_in_the_middle(state):
    raw = state.read_bytes()
    state.write_bytes(raw.replace(b'"step": 20\n', b'"step": 2\xff0 oops\n', 1))
    result = read_trainer_state(state)
    assert _loss_steps(result) == [s for s in range(1, 61) if s != 20]
    assert len(result.warnings) == 1
