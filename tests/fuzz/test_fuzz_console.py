"""Fuzzed console captures: verl ``step:N - k:v`` logs and HF Trainer dict logs with tqdm bars,
CSV exports, and run configs beside a good log (a config never costs a run its data)."""

from __future__ import annotations

import itertools
import re

import pytest
from consolelogs import write_hf_console, write_verl_console
from fuzz_contract import CASE_TIMEOUT, FUZZ, check_cli, intact_lines, mutate, mutations, within
from hypothesis import given
from logwriters import write_swift_run

from trainlens.discover import SourceFormat
from trainlens.load import load_runs
from trainlens.readers.registry import read_source_file

_case = itertools.count()


def _folder(tmp_path):
    return tmp_path / f"case{next(_case)}" / "run"


@FUZZ
@given(changes=mutations)
def test_fuzz_verl_console(tmp_path, changes):
    folder = _folder(tmp_path)
    steps = [(s, {"actor/kl_loss": 0.01 * s, "critic/score/mean": 0.5 + s}) for s in range(1, 31)]
    path = write_verl_console(folder / "train.log", steps, config={"trainer": {"total": 30}})
    data, first_bad = mutate(path.read_bytes(), changes)
    path.write_bytes(data)
    result = within(CASE_TIMEOUT, read_source_file, SourceFormat.VERL_CONSOLE, path)
    head = data[: data[:first_bad].rfind(b"\n") + 1] if intact_lines(data, first_bad) else b""
    intact = {int(m) for m in re.findall(rb"step:(\d+) - ", head)}
    assert intact <= set(result.frame["step"].tolist())
    check_cli(folder.parent)


@FUZZ
@given(changes=mutations)
def test_fuzz_hf_console(tmp_path, changes):
    folder = _folder(tmp_path)
    rows = [{"loss": 1.0 / s, "learning_rate": 1e-5, "epoch": s / 10} for s in range(1, 11)]
    path = write_hf_console(folder / "train.log", rows, total=50, interval=5)
    data, _ = mutate(path.read_bytes(), changes)
    path.write_bytes(data)
    within(CASE_TIMEOUT, read_source_file, SourceFormat.HF_CONSOLE, path)
    check_cli(folder.parent)


@FUZZ
@given(changes=mutations)
def test_fuzz_csv_export(tmp_path, changes):
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    path = folder / "metrics.csv"
    path.write_text(
        "step,loss,reward\n" + "".join(f"{s},{1 / s},{0.1 * s}\n" for s in range(1, 31))
    )
    data, first_bad = mutate(path.read_bytes(), changes)
    path.write_bytes(data)
    result = within(CASE_TIMEOUT, read_source_file, SourceFormat.CSV, path)
    if first_bad > len("step,loss,reward\n"):
        kept = intact_lines(data, first_bad) - 1  # the header is a line
        loss = result.frame[result.frame["key"] == "loss"]
        assert set(range(1, kept + 1)) <= set(loss["step"].tolist())
    check_cli(folder.parent)


@FUZZ
@given(args=mutations, wandb=mutations, summary=mutations)
def test_fuzz_run_configs(tmp_path, args, wandb, summary):
    root = tmp_path / f"case{next(_case)}"
    run = write_swift_run(
        root / "swift", [(s, {"loss": 1.0 / s}) for s in range(1, 11)], 10, args={"lr": 1e-5}
    )
    files = root / "wandb" / "run-20250101_000000-abc" / "files"
    files.mkdir(parents=True)
    (files / "output.log").write_text("{'loss': 1.0, 'learning_rate': 1e-05, 'epoch': 0.1}\n")
    (files / "config.yaml").write_text("_wandb:\n  value: {}\nlr:\n  value: 1.0e-05\n")
    (files / "wandb-summary.json").write_text('{"loss": 1.0, "_step": 1}')
    for path, changes in (
        (run / "args.json", args),
        (files / "config.yaml", wandb),
        (files / "wandb-summary.json", summary),
    ):
        path.write_bytes(mutate(path.read_bytes(), changes)[0])
    loaded = within(CASE_TIMEOUT, load_runs, root)
    swift = next(r for r in loaded.runs if r.name == "swift")
    assert swift.series("loss").tolist() == pytest.approx([1.0 / s for s in range(1, 11)])
    check_cli(root)
