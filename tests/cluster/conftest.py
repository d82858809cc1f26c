"""One real two-node Ray cluster on 127.0.0.1 for the whole `tests/cluster` package.

A head node and a second node, each its own `ray start` process with one CPU, so the two sandbox
actors land on different raylets. The driver (this pytest process) stays connected for the session;
teardown kills exactly the processes the cluster started and checks none is left.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("ray")

from selftaught.testing.cluster import LoopbackCluster, use_loopback_driver

SECRET_NAME = "SELFTAUGHT_RAY_TEST_SECRET"
SECRET = "sk-ray-node-secret-0123456789"


@pytest.fixture(scope="session")
def node_secret() -> tuple[str, str]:
    """(name, value) of the variable every node's `ray start` process has in its environment."""
    return SECRET_NAME, SECRET


@pytest.fixture(scope="session")
def cluster() -> Iterator[LoopbackCluster]:
    import ray

    use_loopback_driver()
    cluster = LoopbackCluster(head_cpus=1, env={SECRET_NAME: SECRET})
    try:
        cluster.wait_for_head()
        cluster.add_node(cpus=1)
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        cluster.wait_for_cpus(2)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
    assert cluster.leftovers() == [], "Ray processes of the test cluster survived its teardown"
