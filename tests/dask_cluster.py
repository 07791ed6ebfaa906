"""The one LocalCluster the Dask tests share: two worker processes of two threads each,
bound to 127.0.0.1, no dashboard (cluster.local_cluster, as the CLI starts it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed", reason="needs the dask extra (distributed)")


@pytest.fixture(name="cluster", scope="session")
def cluster_fixture() -> Iterator[Any]:
    from imdsguard.cluster import local_cluster

    # Workers inherit this process's environment: conftest's fake credentials only.
    with local_cluster(processes=2, threads=2) as local:
        yield local


@pytest.fixture(name="scheduler")
def scheduler_fixture(cluster: Any) -> str:
    return str(cluster.scheduler_address)
