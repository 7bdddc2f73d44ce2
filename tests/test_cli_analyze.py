"""``trainlens analyze`` and ``trainlens rules``: output formats, languages, rule selection and
parameters, the report on stdout and summaries on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from logwriters import write_swift_run
from typer.testing import CliRunner

from trainlens.cli import app
from trainlens.engine.spec import load_rules

runner = CliRunner()


@pytest.fixture(scope="module")
def grpo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ms-swift GRPO run with a KL spike (7.0, below the limit) at step 60, and checkpoints."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(1, 121):
        rows.append(
            (
                s,
                {
                    "loss": float(rng.normal(0.0, 0.01)),
                    "kl": 0.0 if s == 1 else float(0.02 + 0.001 * s * np.exp(rng.normal(0, 0.1))),
                    "grad_norm": float(np.exp(rng.normal(np.log(0.4), 0.2))),
                    "reward": float(1.0 + rng.normal(0, 0.05)),
                    "completions/mean_length": float(250 + rng.normal(0, 5)),
                    "learning_rate": 1e-6,
                },
            )
        )
    rows[59][1]["kl"] = 7.0
    out = write_swift_run(
        tmp_path_factory.mktemp("cli") / "v0-grpo", rows, 120, args={"beta": 0.04}
    )
    return out


def test_text_report_on_stdout_summary_on_stderr(grpo_run: Path) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run)])
    assert result.exit_code == 0, result.output
    assert "kl_spike" in result.stdout and "KL reached 7 at step 60" in result.stdout
    assert "step" in result.stdout and "+6.9" in result.stdout  # the evidence table
    assert "1 errors, 0 warnings, 0 info in 1 run(s)" in result.stderr
    assert "kl_spike" not in result.stderr


def test_json_document_shape(grpo_run: Path) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert set(doc) >= {"runs", "findings", "skipped", "warnings"}
    (r,) = doc["runs"]
    assert {"name", "path", "framework", "first_step", "last_step"} <= set(r)
    assert (r["name"], r["framework"], r["first_step"], r["last_step"]) == (
        "v0-grpo",
        "ms-swift",
        1,
        120,
    )
    (f,) = doc["findings"]
    assert {
        "rule",
        "severity",
        "run",
        "metric",
        "key",
        "start_step",
        "end_step",
        "peak_step",
        "peak_value",
        "baseline",
        "message",
        "evidence",
    } <= set(f)
    assert (f["rule"], f["severity"], f["metric"], f["start_step"], f["peak_value"]) == (
        "kl_spike",
        "error",
        "kl",
        60,
        7.0,
    )
    assert all(set(e) == {"step", "value", "change"} for e in f["evidence"])
    assert {s["rule"] for s in doc["skipped"]} >= {"score_collapse", "d_acc_jump"}
    assert all(set(s) >= {"rule", "run", "reason", "message"} for s in doc["skipped"])


def test_chinese_messages(grpo_run: Path) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run), "--lang", "zh", "-f", "json"])
    doc = json.loads(result.stdout)
    assert doc["findings"][0]["message"].startswith("第 60 步 KL 升至 7")
    text = runner.invoke(app, ["analyze", str(grpo_run), "--lang", "zh"])
    assert "KL 散度突升" in text.stdout and "严重 1 个" in text.stderr


def test_select_ignore_and_params(grpo_run: Path) -> None:
    def rules(*args: str) -> list[str]:
        result = runner.invoke(app, ["analyze", str(grpo_run), "-f", "json", *args])
        assert result.exit_code == 0, result.output
        return [f["rule"] for f in json.loads(result.stdout)["findings"]]

    assert rules("--ignore", "kl_spike") == []
    assert rules("--select", "grad_explosion,kl_spike") == ["kl_spike"]
    assert rules("--param", "kl_spike.factor=1000") == []
    assert rules("--param", "kl_spike.factor=1000", "--param", "kl_spike.limit=5") == ["kl_spike"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "kl_spike.nope=1"], "unknown parameter"),
        (["--param", "kl_spike"], "expected RULE.NAME=VALUE"),
        (["--param", "kl_spike.limit=high"], "expected float"),
        (["--select", "kl_spik"], "unknown rule 'kl_spik'"),
        (["--rules", "/nonexistent/rules"], "rules directory not found"),
    ],
)
def test_usage_errors_exit_2(grpo_run: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run), *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_missing_path_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "error:" in result.stderr


def test_project_config_params_and_user_rules(grpo_run: Path, tmp_path: Path) -> None:
    rules_dir = tmp_path / "my_rules"
    rules_dir.mkdir()
    doc = yaml.safe_load(Path(load_rules().get("kl_spike").path).read_text("utf-8"))
    doc.update(id="kl_over_5", params={"limit": 5.0, "factor": 1000.0}, severity="warning")
    (rules_dir / "kl_over_5.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text(
        'lang = "zh"\nrules_dirs = ["my_rules"]\n[rules.kl_spike]\nfactor = 1000.0\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["analyze", str(grpo_run), "--config", str(cfg), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["lang"] == "zh"
    assert [f["rule"] for f in doc["findings"]] == ["kl_over_5"]
    # the command line wins over the config
    result = runner.invoke(
        app,
        [
            "analyze",
            str(grpo_run),
            "--config",
            str(cfg),
            "-f",
            "json",
            "--param",
            "kl_spike.factor=5",
            "--lang",
            "en",
        ],
    )
    doc = json.loads(result.stdout)
    assert sorted(f["rule"] for f in doc["findings"]) == ["kl_over_5", "kl_spike"]
    assert doc["lang"] == "en"


def test_output_file(grpo_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["analyze", str(grpo_run), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text("utf-8"))["findings"][0]["rule"] == "kl_spike"
    txt = tmp_path / "report.txt"
    runner.invoke(app, ["analyze", str(grpo_run), "-o", str(txt)])
    assert "KL reached 7" in txt.read_text("utf-8")


def test_markdown_format(grpo_run: Path) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run), "-f", "markdown"])
    try:
        import trainlens.render.markdown  # noqa: F401
    except ModuleNotFoundError:
        assert result.exit_code == 2 and "not available" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert "kl_spike" in result.stdout or "KL" in result.stdout


def test_crashing_rule_is_a_warning_not_a_dead_run(
    grpo_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from trainlens.engine.registry import DETECTORS

    def boom(*a: object, **k: object) -> list:
        raise RuntimeError("detector bug")

    name = load_rules().get("kl_spike").detector  # the detector kl_spike runs
    monkeypatch.setitem(DETECTORS, name, replace(DETECTORS[name], fn=boom))
    result = runner.invoke(app, ["analyze", str(grpo_run)])
    assert result.exit_code == 0
    assert "warning: rule kl_spike" in result.stderr and "detector bug" in result.stderr


def test_rules_list_and_show() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    assert "kl_spike" in result.stdout and "instability_episode" in result.stdout
    listed = json.loads(runner.invoke(app, ["rules", "-f", "json"]).stdout)
    assert {r["id"] for r in listed} == set(load_rules().ids)
    en = runner.invoke(app, ["rules", "show", "kl_spike"])
    assert en.exit_code == 0
    for section in (
        "What it does",
        "Why it matters",
        "Common causes",
        "What to do",
        "Parameters (defaults)",
        "limit = 10.0",
    ):
        assert section in en.stdout
    zh = runner.invoke(app, ["rules", "show", "degradation_after_best", "--lang", "zh"])
    for section in ("作用", "为何重要", "常见原因", "建议", "参数（默认值）", "drop = 0.2"):
        assert section in zh.stdout
    missing = runner.invoke(app, ["rules", "show", "nope"])
    assert missing.exit_code == 2 and "unknown rule 'nope'" in missing.stderr


def test_every_rule_doc_has_the_same_sections() -> None:
    from trainlens.engine.docs import rule_doc

    for spec in load_rules():
        for lang, heads in (
            (
                "en",
                (
                    "What it does",
                    "Why it matters",
                    "Common causes",
                    "What to do",
                    "Parameters (defaults)",
                ),
            ),
            ("zh", ("作用", "为何重要", "常见原因", "建议", "参数（默认值）")),
        ):
            out = rule_doc(spec, lang)
            positions = [out.index(h) for h in heads]
            assert positions == sorted(positions), (spec.id, lang)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--param", "kl_spike.window=-1"],
            "--param kl_spike.window: -1 is out of range for rule kl_spike parameter window "
            "(allowed: [1, 1000000])",
        ),
        (["--param", "kl_spike.window=0"], "(allowed: [1, 1000000])"),
        (
            ["--param", "degradation_after_best.drop=-1"],
            "--param degradation_after_best.drop: -1 is out of range",
        ),
        (["--param", "entropy_collapse.drop=1.5"], "(allowed: (0, 1])"),
        (["--select", "nosuch*"], "no rule matches 'nosuch*'"),
        (["--ignore", "kl_*,nosuch?"], "no rule matches 'nosuch?'"),
    ],
)
def test_out_of_range_params_and_empty_globs_exit_2(
    grpo_run: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["analyze", str(grpo_run), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_out_of_range_config_param_names_the_file(grpo_run: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "trainlens.toml"
    cfg.write_text("[rules.grad_explosion]\nwindow = -3\n", encoding="utf-8")
    for command in (["analyze", str(grpo_run)], ["rules"]):
        result = runner.invoke(app, [*command, "--config", str(cfg)])
        assert result.exit_code == 2, result.output
        assert (
            f"{cfg}: [rules.grad_explosion] window: -3 is out of range for rule grad_explosion "
            "parameter window (allowed: [1, 1000000])"
        ) in " ".join(result.stderr.split())
    py = tmp_path / "pyproject.toml"
    py.write_text("[tool.trainlens.rules.reward_collapse]\nafter = 0\n", encoding="utf-8")
    result = runner.invoke(app, ["analyze", str(grpo_run), "--config", str(py)])
    assert result.exit_code == 2
    assert "[tool.trainlens.rules.reward_collapse] after: 0 is out of range" in " ".join(
        result.stderr.split()
    )


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three ms-swift GRPO runs; only ``a_bad`` has a finding: its completion length collapses
    from step 60 on (a long window, so its evidence table skips logged steps)."""
    root = tmp_path_factory.mktemp("logdir")
    for name in ("a_bad", "b_ok", "c_ok"):
        rng = np.random.default_rng(len(name) + ord(name[0]))
        rows = [
            (
                s,
                {
                    "loss": float(rng.normal(0.0, 0.01)),
                    "grad_norm": float(np.exp(rng.normal(np.log(0.4), 0.2))),
                    "completions/mean_length": float(
                        (40.0 if name == "a_bad" and s >= 60 else 250.0) + rng.normal(0, 3)
                    ),
                },
            )
            for s in range(1, 121)
        ]
        write_swift_run(root / name, rows, 120, args={"beta": 0.0})
    return root


def test_terminal_report_scales_to_many_runs(logdir: Path) -> None:
    result = runner.invoke(app, ["analyze", str(logdir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)  # no trailing whitespace anywhere
    assert lines[0].startswith("a_bad ")  # findings first
    clean = [line for line in lines if line.endswith("no findings")]
    assert [line.split()[0] for line in clean] == ["b_ok", "c_ok"]  # one line per clean run
    assert lines.index(clean[0]) > max(
        i for i, line in enumerate(lines) if "length_collapse" in line
    )
    # what was not checked: once, at the end, for all runs
    heads = [i for i, line in enumerate(lines) if line.startswith("not checked")]
    assert len(heads) == 1 and heads[0] > lines.index(clean[-1])
    assert lines[heads[0]] == "not checked (all 3 runs):"
    assert "  d_acc_jump: not logged: d_acc" in lines


def test_terminal_evidence_marks_skipped_rows(logdir: Path) -> None:
    result = runner.invoke(app, ["analyze", str(logdir), "--select", "length_collapse"])
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("step"))
    table = []
    for line in lines[start + 1 :]:
        if not line.startswith("     "):
            break
        table.append(line.split())
    assert ["…"] in table
    # every logged step is 1..120: rows without a "…" between them are consecutive steps, so
    # each "change" is the change from the row above
    previous = None
    for row in table:
        if row == ["…"]:
            previous = None
            continue
        step = int(row[0])
        if previous is not None:
            assert step == previous + 1, table
        previous = step
    assert table[-1][0] == "120" and ["…"] != table[-1]


def test_json_findings_first_and_skips_grouped_by_rule(logdir: Path) -> None:
    doc = json.loads(runner.invoke(app, ["analyze", str(logdir), "-f", "json"]).stdout)
    assert list(doc) == [
        "schema_version",
        "lang",
        "findings",
        "warnings",
        "runs",
        "skipped",
        "rules",
    ]
    assert [f["run"] for f in doc["findings"]] == ["a_bad"]
    pairs = [(s["rule"], s["run"]) for s in doc["skipped"]]
    assert pairs == sorted(pairs)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.skipif(not (EXAMPLES / "degrading_runs").is_dir(), reason="no examples/")
def test_episode_table_lists_the_members_start_steps() -> None:
    result = runner.invoke(
        app,
        [
            "analyze",
            str(EXAMPLES / "degrading_runs"),
            "--select",
            "instability_episode,length_collapse,entropy_collapse,reward_collapse",
        ],
    )
    lines = result.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if "instability_episode" in line)
    assert "steps 133–200" in lines[head]  # the members run to the end of the log
    assert lines[head + 2].split() == ["start", "step", "metric", "value"]
    rows = [lines[head + 3 + i].split() for i in range(3)]
    assert [(r[0], r[1]) for r in rows] == [
        ("133", "response_length_mean"),
        ("134", "entropy"),
        ("135", "reward"),
    ]
    assert rows[2][2] == "1.787"  # critic/score/mean at step 135


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_output_into_a_missing_folder_or_onto_a_file(tmp_path, fmt):
    from typer.testing import CliRunner

    from trainlens.cli import app

    runner = CliRunner()
    example = Path(__file__).resolve().parents[1] / "examples" / "healthy_grpo"
    target = tmp_path / "new" / "folder" / f"out.{fmt}"
    result = runner.invoke(app, ["analyze", str(example), "-f", fmt, "-o", str(target)])
    assert result.exit_code == 0 and target.is_file() and target.stat().st_size > 0
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = runner.invoke(app, ["analyze", str(example), "-f", fmt, "-o", str(blocker / "x")])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert "cannot write the analysis" in result.stderr


def _occurrence(f: dict) -> str:
    """An occurrence as the terminal report lists it, from its JSON form."""
    from trainlens.render.findings_terminal import fmt_number

    steps = str(f["start_step"])
    if f["end_step"] != f["start_step"]:
        steps += f"–{f['end_step']}"
        return f"{steps} ({fmt_number(f['peak_value'])} @ {f['peak_step']})"
    return f"{steps} ({fmt_number(f['peak_value'])})"


@pytest.mark.skipif(not (EXAMPLES / "grpo_kl_episodes").is_dir(), reason="no examples/")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_repeated_findings_print_one_block_with_every_occurrence(lang: str) -> None:
    """A rule firing on the same metric several times prints one block: the most pronounced
    occurrence in full, then all occurrences on one line; the JSON keeps every finding."""
    path = str(EXAMPLES / "grpo_kl_episodes")
    doc = json.loads(runner.invoke(app, ["analyze", path, "-f", "json"]).stdout)
    result = runner.invoke(app, ["analyze", path, "--lang", lang])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[" not in result.stdout  # piped: plain text
    findings = doc["findings"]
    assert len(findings) == 27 and len(lines) < 80  # was ~200 lines, one block per finding

    groups: dict[tuple[str, str, str], list[dict]] = {}
    for f in findings:
        groups.setdefault((f["severity"], f["rule"], f["metric"]), []).append(f)
    heads = [line for line in lines if line.startswith("  ") and line[2] in "✖▲●"]
    assert len(heads) == len(groups)  # one block per (rule, metric)
    times = "{n} times" if lang == "en" else "{n} 次"
    occ_label = "occurrences: " if lang == "en" else "全部出现："
    occ_lines = [line.strip() for line in lines if line.strip().startswith(occ_label)]
    assert len(occ_lines) == sum(len(g) > 1 for g in groups.values())
    for (_, rule, metric), group in groups.items():
        at = (f"—  {metric},", f"—  {metric} [")
        head = next(h for h in heads if f" {rule} " in h and any(a in h for a in at))
        if len(group) == 1:
            assert times.format(n=1) not in head
            continue
        assert head.endswith(times.format(n=len(group)))
        # every occurrence, with its steps and peak value, in step order
        expected = occ_label + ", ".join(_occurrence(f) for f in group)
        assert expected in occ_lines, (expected, occ_lines)

    # the severity headers count findings, and say how many groups they make
    if lang == "en":
        assert " ERRORS (20 findings in 5 groups)" in lines
        assert " WARNINGS (7 findings in 1 group)" in lines
    else:
        assert " 严重 (20 个发现，共 5 组)" in lines
        assert " 警告 (7 个发现，共 1 组)" in lines
    # episodes first
    errors = [line for line in heads if "✖" in line]
    assert [("instability_episode" in h) for h in errors] == [True, True, False, False, False]

    # the block shows the most pronounced occurrence: the KL spike at 2800 (144×), the gradient
    # explosion at 5145 (24×), with its evidence table
    if lang == "en":
        assert "    KL reached 19.6 at step 2800, 144× its rolling median 0.137" in lines
        grad = lines.index("    grad_norm reached 10.7 at step 5145, 24× its rolling median 0.442")
        assert lines[grad + 1].split() == ["step", "value", "change"]
        assert lines[grad + 4].split() == ["5145", "10.7", "+10.25"]
        assert sum("KL reached" in line for line in lines) == 1


def test_representative_and_occurrence_text() -> None:
    from trainlens.findings import Finding, Severity
    from trainlens.render.findings_terminal import (
        group_findings,
        occurrence_text,
        representative,
    )

    def f(start: int, end: int, peak: float | None, base: float | None, **kw: object) -> Finding:
        args: dict = {"rule": "r", "severity": Severity.WARNING, "run": "x", "metric": "m"}
        args.update(kw)
        return Finding(
            key="m", start_step=start, end_step=end, peak_step=start,
            peak_value=peak, baseline=base, **args,
        )  # fmt: skip

    # relative to the baseline: 3 on 1 (2×) beats 10 on 5 (1×)
    a, b = f(10, 10, 10.0, 5.0), f(20, 22, 3.0, 1.0)
    assert representative([a, b]) is b
    assert [occurrence_text(a), occurrence_text(b)] == ["10 (10)", "20–22 (3 @ 20)"]
    # no baseline: the most severe, then the earliest
    c = f(5, 5, None, None)
    d = f(7, 7, None, None, severity=Severity.ERROR)
    e = f(9, 9, None, None, severity=Severity.ERROR)
    assert representative([c, e, d]) is d
    assert occurrence_text(c) == "5"
    # grouped by rule and metric, episodes first, occurrences in step order
    ep = f(30, 30, 1.0, 1.0, rule="instability_episode")
    other = f(1, 1, 1.0, 1.0, metric="n")
    assert group_findings([b, other, a, ep]) == [[ep], [a, b], [other]]
