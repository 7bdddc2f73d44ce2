"""Fuzzed HF ``trainer_state.json``: every complete ``log_history`` entry before the damage."""

from __future__ import annotations

import itertools

from fuzz_contract import CASE_TIMEOUT, FUZZ, check_cli, mutate, mutations, within
from hypothesis import given
from logwriters import write_trainer_state

from trainlens.readers.hf_trainer_state import read_trainer_state

_case = itertools.count()
HISTORY = [
    {"loss": 1.0 / s, "learning_rate": 1e-5, "epoch": s / 40, "step": s} for s in range(1, 41)
]


@FUZZ
@given(changes=mutations)
def test_fuzz_trainer_state(tmp_path, changes):
    folder = tmp_path / f"case{next(_case)}" / "run"
    path = write_trainer_state(folder / "trainer_state.json", HISTORY, max_steps=40)
    raw = path.read_bytes()
    data, first_bad = mutate(raw, changes)
    path.write_bytes(data)
    result = within(CASE_TIMEOUT, read_trainer_state, path)
    steps = set(result.frame[result.frame["key"] == "loss"]["step"].tolist())
    history_at = raw.index(b'"log_history": [') + len(b'"log_history": [')
    if first_bad > history_at:
        complete = [
            s for s in range(1, 41) if raw.index(b"}", raw.index(b'"step": %d\n' % s)) < first_bad
        ]
        assert set(complete) <= steps, (complete, sorted(steps))
    check_cli(folder.parent)
