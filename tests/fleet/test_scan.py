"""The fleet scan API: rows of both tables, the local process pool against in-process work,
``since``, runs that fail, and the output files read back with DuckDB."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trainlens.errors import TrainlensError
from trainlens.fleet import scan
from trainlens.fleet.rows import COLUMN_TYPES, ROW_TYPES
from trainlens.fleet.since import parse_since
from trainlens.fleet.tables import output_paths


@pytest.fixture(scope="module")
def serial(logdir: Path):
    return scan(logdir, jobs=1)


def test_every_run_is_a_row_with_its_status(serial) -> None:
    by_name = {r.name: r for r in serial.runs}
    assert serial.discovered == len(serial.runs) == 6
    spike = by_name["team-a/v1-kl-spike"]
    assert spike.status == "ok" and spike.errors >= 1 and spike.format == "swift_jsonl"
    assert spike.steps == 80 and spike.first_step == 1 and spike.last_step == 80
    assert spike.last_write is not None and spike.last_write.tzinfo is not None
    assert by_name["team-a/v0-healthy"].errors == 0
    crashed = by_name["team-c/crashed"]  # a console log: what it printed, no metrics
    assert crashed.status == "ok" and crashed.errors >= 1 and crashed.steps == 0
    assert by_name["team-c/notes"].status == "no_metrics" and by_name["team-c/notes"].steps == 0
    tb = next(r for r in serial.runs if r.format == "tensorboard" and r.steps)
    assert tb.steps == 60 and tb.metrics == 2
    assert all(r.error is None for r in serial.runs)


def test_findings_carry_steps_evidence_and_both_languages(serial) -> None:
    spike = next(f for f in serial.findings if f.rule == "kl_spike")
    assert spike.run == "team-a/v1-kl-spike" and spike.severity == "error"
    assert spike.start_step <= 40 <= spike.end_step and spike.peak_value == 25.0
    assert "25" in spike.message_en and "40" in spike.message_en
    assert "第 40 步" in spike.message_zh
    assert spike.title_en != spike.title_zh
    evidence = json.loads(spike.evidence)
    assert any(row["step"] == 40 and row["value"] == 25.0 for row in evidence)
    assert isinstance(json.loads(spike.params), dict)
    oom = next(f for f in serial.findings if f.rule == "cuda_oom")
    assert oom.run == "team-c/crashed" and oom.source_line == "crashed.log:4"


def test_process_pool_gives_the_same_rows(logdir: Path, serial) -> None:
    pooled = scan(logdir, jobs=2)
    assert pooled.runs == serial.runs
    assert pooled.findings == serial.findings


def test_row_dataclasses_match_the_declared_columns() -> None:
    for table, cls in ROW_TYPES.items():
        assert [f.name for f in fields(cls)] == list(COLUMN_TYPES[table])


def test_a_run_that_fails_is_a_row_with_its_error(
    logdir: Path, serial, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trainlens.load

    real = trainlens.load.load_run

    def flaky(sources, *args, **kwargs):
        if sources.name == "team-b/v0-ok":
            raise OSError(5, "Input/output error")
        return real(sources, *args, **kwargs)

    monkeypatch.setattr(trainlens.load, "load_run", flaky)
    result = scan(logdir, jobs=1)
    bad = next(r for r in result.runs if r.name == "team-b/v0-ok")
    assert bad.status == "error" and "Input/output error" in (bad.error or "")
    assert bad.last_write is not None
    assert [r.name for r in result.runs] == [r.name for r in serial.runs]
    assert result.summary()["status"]["error"] == 1
    assert len(result.findings) == len(serial.findings)  # v0-ok had none


def test_since_keeps_only_runs_written_after(tmp_path: Path) -> None:
    from fleet_builders import swift_rows
    from logwriters import write_swift_run

    old = write_swift_run(tmp_path / "old", swift_rows(1, steps=20), 20)
    write_swift_run(tmp_path / "new", swift_rows(2, steps=20), 20)
    week_ago = time.time() - 7 * 86400
    for f in old.iterdir():
        os.utime(f, (week_ago, week_ago))
    result = scan(tmp_path, since="2d", jobs=1)
    assert [r.name for r in result.runs] == ["new"]
    assert result.unchanged == 1 and result.discovered == 2
    everything = scan(tmp_path, since=datetime.now(UTC) - timedelta(days=30), jobs=1)
    assert len(everything.runs) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T08:30Z", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2026-12-01T16:30+08:00", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2d", datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
        ("90m", datetime(2026, 12, 3, 10, 30, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert parse_since(text, now=now) == expected


def test_parse_since_local_date_and_bad_input() -> None:
    day = parse_since("2026-12-01")
    assert day.tzinfo is not None and (day.year, day.month, day.day, day.hour) == (2026, 12, 1, 0)
    with pytest.raises(TrainlensError, match="--since 'yesterday'"):
        parse_since("yesterday")


def test_output_names() -> None:
    assert output_paths(Path("out/findings.parquet"))["runs"] == Path("out/runs.parquet")
    assert output_paths(Path("2026-12-03-findings.parquet"))["runs"] == Path(
        "2026-12-03-runs.parquet"
    )
    assert output_paths(Path("nightly.parquet"))["runs"] == Path("nightly_runs.parquet")
    assert set(output_paths(Path("fleet.duckdb")).values()) == {Path("fleet.duckdb")}


def test_bad_arguments_fail_before_any_work(logdir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainlensError, match="no such file"):
        scan(tmp_path / "missing")
    with pytest.raises(TrainlensError, match=r"\.parquet or \.duckdb"):
        scan(logdir, out=tmp_path / "x.csv")
    with pytest.raises(TrainlensError, match="dask://HOST:PORT"):
        scan(logdir, executor="ray://head:10001")
    with pytest.raises(TrainlensError, match="--jobs 0"):
        scan(logdir, jobs=0)
    with pytest.raises(TrainlensError, match="--jobs sizes the local executor"):
        scan(logdir, executor="dask://head:8786", jobs=4)


def test_missing_pyarrow_names_the_extra(
    logdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow → ImportError
    with pytest.raises(TrainlensError, match=r"needs pyarrow.*pip install 'trainlens\[fleet\]'"):
        scan(logdir, out=tmp_path / "findings.parquet")
    assert not list(tmp_path.iterdir())


def test_parquet_tables_answer_duckdb_queries(logdir: Path, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    out = tmp_path / "nightly" / "findings.parquet"
    result = scan(logdir, out=out, jobs=1)
    assert result.outputs == [out, out.with_name("runs.parquet")]
    rows = duckdb.sql(
        f"select r.name, f.rule, f.start_step, f.message_zh from '{out}' f "
        f"join '{out.with_name('runs.parquet')}' r on f.path = r.path "
        "where f.severity = 'error' order by r.name, f.rule"
    ).fetchall()
    assert ("team-a/v1-kl-spike", "kl_spike") in {(r[0], r[1]) for r in rows}
    assert ("team-c/crashed", "cuda_oom") in {(r[0], r[1]) for r in rows}
    evidence = duckdb.sql(
        f"select json_extract(evidence, '$[0].step')::int from '{out}' where rule = 'kl_spike'"
    ).fetchall()
    assert len(evidence) == 1 and evidence[0][0] > 0
    status = duckdb.sql(
        f"select status, count(*) from '{out.with_name('runs.parquet')}' group by 1 order by 1"
    ).fetchall()
    assert status == [("no_metrics", 1), ("ok", 5)]
    described = duckdb.sql(f"describe select * from '{out.with_name('runs.parquet')}'").fetchall()
    kinds = {row[0]: row[1] for row in described}
    assert kinds["last_write"].startswith("TIMESTAMP WITH TIME ZONE")


def test_duckdb_output_replaces_its_tables(logdir: Path, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("pyarrow")
    db = tmp_path / "fleet.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table notes as select 1 as x")
    con.close()
    scan(logdir, out=db, jobs=1)
    scan(logdir, out=db, jobs=1)  # a second night: tables replaced, not appended
    con = duckdb.connect(str(db))
    try:
        assert con.sql("select count(*) from runs").fetchall() == [(6,)]
        n = con.sql("select count(*) from findings where rule = 'kl_spike'").fetchall()
        assert n[0][0] >= 1
        assert con.sql("select x from notes").fetchall() == [(1,)]
    finally:
        con.close()


def test_empty_tables_keep_their_types(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from fleet_builders import swift_rows
    from logwriters import write_swift_run

    write_swift_run(tmp_path / "logs" / "calm", swift_rows(5, steps=20), 20)
    out = tmp_path / "findings.parquet"
    result = scan(tmp_path / "logs", out=out, jobs=1, since="2099-01-01")
    assert result.runs == [] and result.unchanged == 1
    table = pq.read_table(out)
    assert table.num_rows == 0 and str(table.schema.field("peak_value").type) == "double"


def test_findings_are_those_analyze_reports(logdir: Path, serial) -> None:
    """Per-run work gives what ``analyze`` of the whole logdir gives (rules comparing runs,
    like ``scale_regression`` over evaluation files, are the exception: none here)."""
    from trainlens.analysis import analyze

    analysis = analyze(logdir)
    expected = [
        (f.run, f.rule, f.start_step, f.end_step, analysis.message(f, "zh"))
        for f in analysis.findings
    ]
    got = [(f.run, f.rule, f.start_step, f.end_step, f.message_zh) for f in serial.findings]
    assert got == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool forks only on Linux")
def test_a_run_that_kills_its_worker_is_the_only_error(
    logdir: Path, serial, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-run (out of memory, a signal) breaks the pool; the unfinished runs
    are retried one by one and only the run that killed its worker becomes an error row."""
    import trainlens.load

    real = trainlens.load.load_run

    def deadly(sources, *args, **kwargs):
        if sources.name == "team-a/v1-kl-spike":
            os._exit(9)  # the forked worker inherits this patch
        return real(sources, *args, **kwargs)

    monkeypatch.setattr(trainlens.load, "load_run", deadly)
    seen: list[int] = []
    result = scan(logdir, jobs=2, progress=lambda done, total, name: seen.append(done))
    errors = [r for r in result.runs if r.status == "error"]
    assert [r.name for r in errors] == ["team-a/v1-kl-spike"]
    assert "worker died" in (errors[0].error or "")
    assert [r.name for r in result.runs] == [r.name for r in serial.runs]
    others = [r for r in result.runs if r.status != "error"]
    assert others == [r for r in serial.runs if r.name != "team-a/v1-kl-spike"]
    assert seen == list(range(1, len(serial.runs) + 1))
