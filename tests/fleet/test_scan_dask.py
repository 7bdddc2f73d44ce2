"""``executor="dask://..."``: the same rows as the local executor, from a two-process
``LocalCluster`` (skipped where dask.distributed is not installed: ``trainlens[fleet]``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trainlens.fleet import scan

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as local:
        yield str(local.scheduler_address)


@pytest.mark.slow
def test_dask_cluster_gives_the_local_rows(logdir: Path, cluster: str, tmp_path: Path) -> None:
    local = scan(logdir, jobs=1)
    address = "dask://" + cluster.removeprefix("tcp://")
    remote = scan(logdir, executor=address)
    assert remote.executor == address
    assert remote.runs == local.runs
    assert remote.findings == local.findings
    assert len(remote.findings) >= 4  # the KL spike and the OOM log at least
