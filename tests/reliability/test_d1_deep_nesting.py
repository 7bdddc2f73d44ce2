"""D1: deeply nested JSON (``[`` x 100,000) anywhere trainlens parses JSON or YAML from a log
folder is one warning naming the file; every other file and record is still read."""

from __future__ import annotations

import json

import pytest
from logwriters import write_swift_run, write_trainer_state

from trainlens.load import load_runs
from trainlens.readers._json import MAX_DEPTH, JsonError, depth_exceeded, loads

pytestmark = pytest.mark.filterwarnings("error")

DEEP = "[" * 100_000
ROWS = [(s, {"loss": 1.0 / s}) for s in range(1, 6)]


def _messages(result):
    return [str(w) for w in result.warnings]


def test_d1_deep_nesting_depth_check():
    assert depth_exceeded(b"[" * MAX_DEPTH) is None
    assert depth_exceeded(b"[" * (MAX_DEPTH + 1)) == MAX_DEPTH
    text = json.dumps({"s": "[" * 5000, "t": '\\"[[[' * 300}).encode()
    assert depth_exceeded(text) is None  # brackets inside strings do not nest
    assert loads(text).value["s"] == "[" * 5000
    with pytest.raises(JsonError, match="nested deeper"):
        loads(DEEP.encode())
    with pytest.raises(JsonError, match="nested deeper"):
        loads(b'{"a": NaN, "b": ' + b"{" * 100_000)


def test_d1_deep_nesting_in_a_logging_jsonl_line(tmp_path, cli):
    run = write_swift_run(tmp_path / "run", ROWS, 5, summary=False)
    with open(run / "logging.jsonl", "a") as fh:
        fh.write(DEEP + "\n" + '{"a": NaN, "b": ' + "{" * 100_000 + "\n")
    result = load_runs(run)
    assert result.runs[0].series("loss").tolist() == pytest.approx([1.0 / s for s in range(1, 6)])
    assert sum("nested deeper" in m for m in _messages(result)) == 2
    cli("metrics", run, codes=(0,))


def test_d1_deep_nesting_in_trainer_state_and_args(tmp_path, cli):
    state = write_trainer_state(tmp_path / "hf" / "trainer_state.json", [{"step": 1, "loss": 1.0}])
    state.write_text(DEEP)
    run = write_swift_run(tmp_path / "swift", ROWS, 5, summary=False)
    (run / "args.json").write_text('{"a": ' + DEEP)
    result = load_runs(tmp_path)
    messages = _messages(result)
    assert any("trainer_state.json" in m and "nested deeper" in m for m in messages)
    assert any("args.json" in m and "nested deeper" in m for m in messages)
    swift = next(r for r in result.runs if r.name == "swift")
    assert len(swift.series("loss")) == 5
    cli("metrics", tmp_path, codes=(0,))


@pytest.mark.parametrize("name", ["notes.jsonl", "trainer_log.jsonl", "exp.jsonl"])
def test_d1_deep_nesting_in_a_jsonl_discovery_peeks_at(tmp_path, cli, name):
    run = write_swift_run(tmp_path / "run", ROWS, 5, summary=False)
    (run / name).write_text(DEEP + "\n")
    result = load_runs(tmp_path)
    assert [r.name for r in result.runs] == ["run"]
    assert any(name in m and "skipped" in m for m in _messages(result))
    cli("metrics", tmp_path, codes=(0,))


def test_d1_deep_nesting_in_yaml_configs(tmp_path, cli):
    run = tmp_path / "wandb" / "run-20250101_000000-abc" / "files"
    run.mkdir(parents=True)
    (run / "output.log").write_text("{'loss': 1.0, 'learning_rate': 1e-05, 'epoch': 0.1}\n")
    (run / "config.yaml").write_text("a: " + DEEP + "\n")
    (run / "wandb-summary.json").write_text(DEEP)
    result = load_runs(tmp_path)
    messages = _messages(result)
    assert any("config.yaml" in m for m in messages)
    assert any("wandb-summary.json" in m for m in messages)
    cli("metrics", tmp_path, codes=(0,))
