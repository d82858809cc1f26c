"""Back-pressure (a lazy job stream through a fixed window), routing of remote-call jobs, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from selftaught.executors.ray_executor import RayExecutor
from selftaught.sandbox import Job, Proxy
from selftaught.testing.cluster import LoopbackCluster, free_port

pytestmark = pytest.mark.ray

ECHO = "def f(i):\n    return i\n"


@pytest.fixture(scope="module")
def remote(cluster: LoopbackCluster) -> Iterator[RayExecutor]:
    with RayExecutor(address=cluster.address, workers=2) as executor:
        yield executor


def test_run_many_pulls_jobs_lazily_through_a_bounded_window(remote: RayExecutor) -> None:
    pulled = 0

    def endless() -> Iterator[Job]:
        nonlocal pulled
        i = 0
        while True:  # a stream that would exhaust memory if it were materialised
            pulled += 1
            yield Job(source=ECHO, entry="f", instances=[[i]])
            i += 1

    window = 4
    stream = remote.run_many(endless(), window=window)
    outputs = [next(stream).instances[0].output for _ in range(50)]
    stream.close()
    assert outputs == list(range(50))
    assert pulled <= 50 + window, f"pulled {pulled} jobs for 50 results"
    assert remote.capacity == 2 * remote.slots


def test_jobs_with_remote_calls_stay_on_the_driver(remote: RayExecutor) -> None:
    """An improver-like job calls back into the host: it runs in the driver's pool, its calls answered."""
    before = remote.stats.local_jobs
    calls: list[tuple[str, str, list]] = []

    def handler(proxy: str, method: str, args: list, kwargs: dict) -> object:
        calls.append((proxy, method, args))
        return args[0] * 10

    source = "def f(x, u):\n    return u(x) + 1\n"
    job = Job(source=source, entry="f", instances=[[4, Proxy("utility", callable=True)]], cpu_bound=False)
    result = remote.run(job, rpc=handler)
    assert result.instances[0].output == 41
    assert calls == [("utility", "__call__", [4])]
    assert remote.stats.local_jobs == before + 1


def test_a_bad_job_raises_on_the_host_like_the_local_pool(remote: RayExecutor) -> None:
    with pytest.raises(ValueError, match="entry"):
        remote.run(Job(source=ECHO, entry="not a name", instances=[[1]]))
    assert remote.run(Job(source=ECHO, entry="f", instances=[[7]])).instances[0].output == 7


def test_no_cluster_at_the_address_is_a_usage_error(tmp_path) -> None:
    """In a fresh process (this one is connected): a clear one-line error, no traceback, exit code 2."""
    env = {**os.environ, "RAY_ADDRESS": ""}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "selftaught",
            "meta-eval",
            "seed",
            "--tests",
            "1",
            "--executor",
            "ray",
            "--ray-address",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr


def test_without_ray_installed_the_error_names_the_extra(tmp_path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from selftaught.config import Settings\nfrom selftaught.executors import make_executor\n"
        "from selftaught.errors import UsageError\n"
        "try:\n    make_executor(Settings(executor='ray'))\nexcept UsageError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert "pip install 'selftaught[ray]'" in done.stdout, done.stdout + done.stderr
