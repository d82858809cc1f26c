"""The sandbox is active on the worker nodes: same layers as locally, hostile code contained there too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.executors.ray_executor import RayExecutor
from selftaught.sandbox import Job
from selftaught.testing.cluster import LoopbackCluster

pytestmark = pytest.mark.ray

HOSTILE = """
import os, socket, subprocess

def f(what, port):
    if what == "env":
        return {k: v for k, v in os.environ.items() if "SECRET" in k or "KEY" in k or "RAY" in k}
    if what == "shadow":
        return open("/etc/shadow").read()
    if what == "raylet-logs":
        return os.listdir("/tmp")
    if what == "connect":
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        return "connected"
    if what == "subprocess":
        return subprocess.run(["id"], capture_output=True, text=True).stdout
    if what == "write":
        with open("/work/pwned", "w") as fh:
            fh.write("x")
        return "wrote"
    if what == "uid":
        return os.getuid()
"""


@pytest.fixture(scope="module")
def remote(cluster: LoopbackCluster) -> Iterator[RayExecutor]:
    with RayExecutor(address=cluster.address, workers=2) as executor:
        yield executor


def test_every_worker_reports_the_strong_sandbox(remote: RayExecutor, cluster: LoopbackCluster) -> None:
    infos = remote.worker_info()
    assert len(infos) == 2
    assert len({info["node"] for info in infos}) == 2, "one sandbox actor per node"
    for info in infos:
        assert info["mode"] == "strong"
        assert all(info["layers"].values()), info["layers"]


def test_hostile_program_is_contained_on_the_workers(
    remote: RayExecutor, cluster: LoopbackCluster, node_secret: tuple[str, str]
) -> None:
    _, secret = node_secret
    probes = ["env", "shadow", "raylet-logs", "connect", "subprocess", "write", "uid"]
    jobs = [
        Job(
            source=HOSTILE,
            entry="f",
            instances=[[probe, cluster.port] for probe in probes],
            instance_timeout=5.0,
            memory_mb=512,
        )
        for _ in range(4)
    ]
    results = list(remote.run_many(jobs))
    assert len(results) == 4
    for result in results:
        assert result.setup_error is None
        got = dict(zip(probes, result.instances, strict=True))
        assert got["env"].error is None and got["env"].output == {}, "no node environment (secret) inside"
        assert secret not in str(result.instances) + result.stdout + result.stderr
        for probe in ("shadow", "connect", "subprocess", "write"):
            assert got[probe].error is not None, f"{probe} succeeded on a worker: {got[probe].output!r}"
        assert got["raylet-logs"].error is not None or got["raylet-logs"].output == [], "a private /tmp"
        assert got["uid"].output != 0, "generated code never runs as root"
    assert len(remote.stats.by_node) == 2, f"both nodes ran jobs: {remote.stats.by_node}"


def test_the_secret_is_on_the_nodes_outside_the_sandbox(
    remote: RayExecutor, node_secret: tuple[str, str]
) -> None:
    """Control for the test above: the actor processes on both nodes (same machine here) do hold it."""
    for info in remote.worker_info():
        environ = Path(f"/proc/{info['pid']}/environ").read_bytes().split(b"\0")
        assert "=".join(node_secret).encode() in environ
