"""One real two-node Ray cluster on 127.0.0.1 for the whole `tests/cluster` package.

A head node and a second node, each its own `ray start` process with one CPU, so the two sandbox
actors land on different raylets. The driver (this pytest process) stays connected while this package's
tests run, and no longer: teardown (after the package's last test) disconnects it, kills exactly the
processes the cluster started and checks none is left.

Why not for the session: a Ray driver whose GCS goes away (the head killed, or starved on a busy
machine) ends its own process with `_exit(1)` after 60 s, from Ray's C++ core, with no Python cleanup.
With the driver connected for the whole session, that silently ended a full test run at 36% (exit 1, no
summary line), in tests that have nothing to do with Ray; the idle cluster also took CPU and memory
from every later test. (The package scope needs this directory's `__init__.py`.)
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


@pytest.fixture(scope="package")
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
