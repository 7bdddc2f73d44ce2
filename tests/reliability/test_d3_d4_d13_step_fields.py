"""D3/D4/D13: a step field of the wrong type (a JSON array, an object, text) or out of range
(``1e300``, ``10**30``, ``2**63``, negative) is one skipped record with a warning in every reader:
no exception, no numpy RuntimeWarning, the good records kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from consolelogs import tqdm_line, verl_step_line
from logwriters import swift_line, write_swift_run, write_trainer_state

from trainlens.discover import SourceFormat
from trainlens.readers._fields import MAX_STEP, as_step
from trainlens.readers.registry import read_source_file

pytestmark = pytest.mark.filterwarnings("error")

BAD_STEPS = [[1, 2], {"a": 1}, "x", 1e300, 10**30, 2**63, 2**64 + 1, -1, -(2**63) - 1, True, 1.5]


@pytest.mark.parametrize("bad", [*BAD_STEPS, float("nan"), float("inf")])
def test_d3_d4_d13_as_step_rejects(bad):
    assert as_step(bad) is None


def test_d3_d4_d13_as_step_accepts():
    assert as_step(0) == 0 and as_step(7.0) == 7 and as_step(b"12") == 12
    assert as_step(MAX_STEP - 1) == MAX_STEP - 1 and as_step(MAX_STEP) is None


def _write(fmt: str, path: Path, bad: object) -> tuple[SourceFormat, Path]:
    good = [(s, {"loss": 1.0 / s}) for s in (1, 2, 3)]
    if fmt == "swift":
        run = write_swift_run(path, good, 10, summary=False)
        with open(run / "logging.jsonl", "a") as fh:
            fh.write(json.dumps({"global_step/max_steps": bad, "loss": 9.0}) + "\n")
            fh.write(json.dumps({"global_step": bad, "loss": 9.0}) + "\n")
            fh.write(swift_line(4, 10, {"loss": 0.25}) + "\n")
        return SourceFormat.SWIFT_JSONL, run / "logging.jsonl"
    if fmt == "trainer_state":
        history = [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3)]
        history.insert(1, {"step": bad, "loss": 9.0})
        history.append({"step": 4, "loss": 0.25})
        state = path / "trainer_state.json"
        write_trainer_state(state, [{"step": 1}])
        doc = json.loads(state.read_text())
        doc["log_history"] = history
        state.write_text(json.dumps(doc))
        return SourceFormat.HF_TRAINER_STATE, state
    path.mkdir(parents=True)
    if fmt == "verl":
        lines = [{"step": s, "data": {"loss": 1.0 / s}} for s in (1, 2, 3)]
        lines.insert(1, {"step": bad, "data": {"loss": 9.0}})
        lines.append({"step": 4, "data": {"loss": 0.25}})
        out = path / "exp.jsonl"
        out.write_text("".join(json.dumps(x) + "\n" for x in lines))
        return SourceFormat.VERL_JSONL, out
    if fmt == "llamafactory":
        lines = [{"current_steps": s, "total_steps": 10, "loss": 1.0 / s} for s in (1, 2, 3)]
        lines.insert(1, {"current_steps": bad, "total_steps": bad, "loss": 9.0})
        lines.append({"current_steps": 4, "total_steps": 10, "loss": 0.25})
        out = path / "trainer_log.jsonl"
        out.write_text("".join(json.dumps(x) + "\n" for x in lines))
        return SourceFormat.LLAMAFACTORY, out
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["swift", "trainer_state", "verl", "llamafactory"])
@pytest.mark.parametrize("bad", BAD_STEPS, ids=repr)
def test_d3_d4_d13_bad_step_is_one_skipped_record(tmp_path, fmt, bad):
    source, path = _write(fmt, tmp_path / "run", bad)
    result = read_source_file(source, path)
    loss = result.frame[result.frame["key"] == "loss"]
    assert loss["step"].tolist() == [1, 2, 3, 4]
    assert loss["value"].tolist() == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    assert result.warnings
    assert all(len(w.message) < 200 for w in result.warnings)


@pytest.mark.parametrize("bad", ["99999999999999999999", "9" * 5000])
def test_d3_d4_d13_console_steps_out_of_range(tmp_path, cli, bad):
    run = tmp_path / "verl"
    run.mkdir()
    lines = [verl_step_line(s, {"actor/kl_loss": 0.01 * s}) for s in (1, 2)]
    lines.insert(1, f"step:{bad} - actor/kl_loss:0.5")
    (run / "train.log").write_text("\n".join(lines) + "\n")
    result = read_source_file(SourceFormat.VERL_CONSOLE, run / "train.log")
    assert result.frame["step"].tolist() == [1, 2]
    assert any("out of range" in w.message for w in result.warnings)
    hf = tmp_path / "hf.log"
    hf.write_text(
        tqdm_line(1, 4)
        + "\n{'loss': 1.0, 'learning_rate': 1e-05, 'epoch': 0.25}\n"
        + f"\r {bad}/{bad} [00:01<00:01, 2.50it/s]\n"
        + "{'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.5}\n"
    )
    cli("metrics", hf, codes=(0,))
