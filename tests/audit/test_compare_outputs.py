"""``trainlens compare`` by outputs: the GSM8K study's shape (strict accuracy falling from
55.50% to 4.17% as the SFT set grows from 128 to 7,473 samples while the diagnostic accuracy
holds) is called a format failure; both falling is lost capability; sizes from configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from auditfiles import swift_infer_records, write_jsonl
from logwriters import write_swift_run
from typer.testing import CliRunner

from trainlens.audit.scale import OutputRow, scale_findings, training_size
from trainlens.cli import app
from trainlens.engine.spec import load_rules

runner = CliRunner()
N = 1319  # GSM8K test set
#: (training samples, strict-correct answers): 55.50%, 49.13%, 50.64%, 32.90%, 4.17% of 1319
STUDY = [(128, 732), (256, 648), (512, 668), (1024, 434), (7473, 55)]
DIAGNOSTIC = 791  # 59.97%: the last number of the response is right this often in every run


def _study(tmp_path: Path, lose_capability: bool = False) -> list[Path]:
    files = []
    for size, strict in STUDY:
        right = DIAGNOSTIC if not lose_capability else max(strict, DIAGNOSTIC * strict // 732)
        records = swift_infer_records(N, correct=strict, unclosed=right - strict)
        files.append(write_jsonl(tmp_path / f"preds_{size}.jsonl", records))
    return files


def test_five_prediction_files_reproduce_the_format_failure(tmp_path: Path) -> None:
    files = _study(tmp_path)
    args = ["compare"]
    for (size, _), file in zip(STUDY, files):
        args += ["--predictions", f"sft_{size}={file}", "--label", f"sft_{size}={size}"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["outputs"]
    strict = [round(100 * r["strict"], 2) for r in out["runs"]]
    assert strict == [55.5, 49.13, 50.64, 32.9, 4.17]
    assert {round(100 * r["diagnostic"], 2) for r in out["runs"]} == {59.97}
    assert [r["size"] for r in out["runs"]] == [128, 256, 512, 1024, 7473]
    (finding,) = out["findings"]
    assert finding["rule"] == "scale_regression"
    assert finding["params"]["verdict"] == "format_failure"
    assert finding["params"]["unclosed_last_pct"] == 55.8
    assert finding["message"].startswith("Format failure, not lost capability: strict accuracy")
    text = runner.invoke(app, [*args, "--lang", "zh"])
    assert text.exit_code == 0, text.output
    assert "是格式问题而不是能力下降" in text.stdout and "只监督答案片段" in text.stdout
    assert "55.50%" in text.stdout and "7,473" in text.stdout


def test_both_accuracies_falling_is_lost_capability() -> None:
    rows = [
        OutputRow(f"r{s}", "f", s, "--label", 100, a, d, 0.0, 0.0)
        for s, a, d in [(128, 0.55, 0.6), (1024, 0.30, 0.33), (7473, 0.05, 0.06)]
    ]
    spec = load_rules().get("scale_regression")
    (finding,) = scale_findings(rows, spec)
    assert finding.params["verdict"] == "lost_capability"
    assert finding.params["best_run"] == "r128" and finding.params["last_run"] == "r7473"


def test_accuracy_that_holds_or_grows_is_quiet() -> None:
    spec = load_rules().get("scale_regression")
    rows = [
        OutputRow(f"r{s}", "f", s, "--label", 100, a, a + 0.05, 0.0, 0.0)
        for s, a in [(128, 0.50), (256, 0.52), (512, 0.47)]  # a 5-point dip only
    ]
    assert scale_findings(rows, spec) == []
    unsized = [OutputRow("a", "f", None, "", 10, 0.9, 0.9, 0, 0), rows[0]]
    assert scale_findings(unsized, spec) == []


@pytest.mark.parametrize(
    ("config", "size"),
    [
        ({"dataset": ["AI-MO/gsm8k#128"]}, (128, "dataset #N")),
        ({"dataset": "a#100, b#28"}, (128, "dataset #N")),
        ({"max_samples": 512}, (512, "max_samples")),
        (
            {"max_steps": 64, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2},
            (512, "max_steps × batch"),
        ),
        ({"dataset": ["gsm8k"]}, (None, "")),
    ],
)
def test_training_size_from_configs(config: dict, size: tuple) -> None:
    assert training_size(config) == size


def test_run_dirs_with_logs_and_predictions_found_by_name(tmp_path: Path) -> None:
    paths = []
    for size, strict in STUDY[::2]:
        run = tmp_path / f"sft_{size}"
        rows = [(s, {"loss": 1.0 / s, "learning_rate": 1e-5}) for s in range(1, 11)]
        write_swift_run(run, rows, 10, args={"dataset": [f"gsm8k#{size}"], "max_steps": 10})
        write_jsonl(
            run / "generated_predictions.jsonl",
            swift_infer_records(N, correct=strict, unclosed=DIAGNOSTIC - strict),
        )
        paths.append(str(run))
    result = runner.invoke(app, ["compare", *paths, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "## Compared by their outputs" in result.stdout
    assert "| sft\\_7473 | 7,473 | 1319 | 4.17% | 59.97% |" in result.stdout
    assert "Accuracy falls as the training set grows: a format failure" in result.stdout
    plain = runner.invoke(app, ["compare", *paths])
    assert plain.exit_code == 0 and "Compared by their outputs" in plain.stdout


def test_bad_options_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", "--predictions", "x"])
    assert result.exit_code == 2 and "RUN=VALUE" in result.stderr
    result = runner.invoke(app, ["compare", "--predictions", f"x={tmp_path / 'no.jsonl'}"])
    assert result.exit_code == 2 and "not a file" in result.stderr
    f = write_jsonl(tmp_path / "p.jsonl", [{"response": "1"}])
    result = runner.invoke(app, ["compare", "--predictions", f"x={f}", "--label", "y=5"])
    assert result.exit_code == 2 and "no run with predictions named y" in result.stderr


def test_analyze_and_report_of_a_logdir_say_which(tmp_path: Path) -> None:
    logdir = tmp_path / "study"
    for size, strict in zip((128, 256, 512, 1024, 7473), (111, 98, 101, 66, 8)):
        run = logdir / f"sft_{size}"
        rows = [(s, {"loss": 1.0 / s}) for s in range(1, 11)]
        write_swift_run(run, rows, 10, args={"dataset": [f"gsm8k#{size}"]})
        records = swift_infer_records(200, correct=strict, unclosed=120 - strict)
        write_jsonl(run / "generated_predictions.jsonl", records)
    from trainlens.analysis import analyze

    analysis = analyze(logdir)
    (finding,) = [f for f in analysis.findings if f.rule == "scale_regression"]
    assert finding.run.endswith("sft_7473") and finding.params["verdict"] == "format_failure"
    assert finding.params["best_size"] == 128 and finding.params["strict_last_pct"] == 4.0
    out = tmp_path / "postmortem.md"
    result = runner.invoke(app, ["report", str(logdir), "-o", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "Format failure, not lost capability" in text
    assert "Supervise only the answer span" in text or "supervise only the answer span" in text
