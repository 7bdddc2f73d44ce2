"""Fleet scan: every run under a logdir analysed (locally in a process pool or on a Dask
cluster) into two tables, runs and findings, that DuckDB and any Parquet reader query.

    from trainlens.fleet import scan
    result = scan("/shared/runs", out="findings.parquet", since="1d")
"""

from __future__ import annotations

from trainlens.fleet.scan import ScanResult, scan

__all__ = ["ScanResult", "scan"]
