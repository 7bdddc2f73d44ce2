"""Writing a scan's two tables: two Parquet files (``findings.parquet`` + ``runs.parquet``) or
one DuckDB database holding tables ``runs`` and ``findings``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from trainlens.errors import TrainlensError
from trainlens.fleet.rows import COLUMN_TYPES, FindingRow, RunRow, columns

FLEET_INSTALL = "pip install 'trainlens[fleet]'"
SUFFIXES = (".parquet", ".duckdb")


def output_paths(out: Path) -> dict[str, Path]:
    """Where each table goes. ``X.duckdb``: both tables in that database. ``X.parquet``: the
    findings there, the runs beside it, named by replacing the last ``findings`` in the name
    with ``runs`` (``findings.parquet`` → ``runs.parquet``, ``2026-12-03-findings.parquet`` →
    ``2026-12-03-runs.parquet``), else by adding ``_runs`` (``nightly.parquet`` →
    ``nightly_runs.parquet``)."""
    if out.suffix == ".duckdb":
        return {"runs": out, "findings": out}
    stem = out.stem
    head, found, tail = stem.rpartition("findings")
    runs = f"{head}runs{tail}" if found else f"{stem}_runs"
    return {"runs": out.with_name(runs + out.suffix), "findings": out}


def check_output(out: Path) -> None:
    """Fail before any work when ``out`` cannot be written: unknown suffix, a missing library
    (with how to install it), a folder in the way."""
    if out.suffix not in SUFFIXES:
        raise TrainlensError(f"--out {out}: expected a .parquet or .duckdb file name")
    needs = ["pyarrow"] + (["duckdb"] if out.suffix == ".duckdb" else [])
    for module in needs:
        try:
            importlib.import_module(module)
        except ImportError:
            raise TrainlensError(
                f"--out {out.name} needs {module}, which is not installed: {FLEET_INSTALL}"
            ) from None
    for path in set(output_paths(out).values()):
        if path.is_dir():
            raise TrainlensError(f"--out {path}: is a directory")


def arrow_table(name: str, rows: list[RunRow] | list[FindingRow]) -> Any:
    """One table as a ``pyarrow.Table`` with the declared column types (typed even when empty)."""
    import pyarrow as pa

    kinds = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(col, kinds[kind]) for col, kind in COLUMN_TYPES[name].items()])
    return pa.table(columns(name, list(rows)), schema=schema)


def write_tables(out: Path, runs: list[RunRow], findings: list[FindingRow]) -> list[Path]:
    """Write both tables to ``out`` (see :func:`output_paths`); the files written."""
    check_output(out)
    tables = {"runs": arrow_table("runs", runs), "findings": arrow_table("findings", findings)}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".duckdb":
            _write_duckdb(out, tables)
            return [out]
        paths = output_paths(out)
        for name in ("runs", "findings"):
            _write_parquet(paths[name], tables[name])
        return [paths["findings"], paths["runs"]]
    except OSError as exc:
        raise TrainlensError(f"{out}: cannot write ({exc.strerror or exc})") from exc


def _write_parquet(path: Path, table: Any) -> None:
    """Write through a temporary file beside ``path``: a reader never sees half a file."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_duckdb(path: Path, tables: dict[str, Any]) -> None:
    """Replace tables ``runs`` and ``findings`` in the database in one transaction (other
    tables in it are kept)."""
    import duckdb

    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise TrainlensError(f"{path}: cannot open as a DuckDB database ({exc})") from None
    try:
        con.execute("BEGIN TRANSACTION").fetchall()  # each result read to its end: DuckDB 2
        for name, table in tables.items():
            con.register("_trainlens_new", table)
            sql = f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _trainlens_new"
            con.execute(sql).fetchall()
            con.unregister("_trainlens_new")
        con.execute("COMMIT").fetchall()
    except duckdb.Error as exc:
        raise TrainlensError(f"{path}: cannot write the tables ({exc})") from None
    finally:
        con.close()
