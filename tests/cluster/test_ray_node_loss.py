"""Losing a worker node mid-run: its jobs are retried on the others, every result is used exactly once."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from selftaught.executors.ray_executor import RayExecutor
from selftaught.sandbox import Job
from selftaught.testing.cluster import LoopbackCluster, _descendants, _zombie

pytestmark = pytest.mark.ray

SLOW_SQUARE = "import time\n\ndef f(i):\n    time.sleep(0.1)\n    return i * i\n"
JOBS = 36


def _job(i: int) -> Job:
    return Job(
        source=SLOW_SQUARE, entry="f", instances=[[i], [i + 1000]], instance_timeout=5.0, label=f"job {i}"
    )


def _inputs_dirs(pids: list[int]) -> set[str]:
    """The shared-inputs directories bound into the sandboxes among `pids` (from bwrap's command line)."""
    found = set()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for i in range(len(argv) - 2):
            if argv[i] == b"--ro-bind" and argv[i + 2] == b"/inputs":
                found.add(argv[i + 1].decode())
    return found


def pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)


def test_killing_a_worker_node_mid_run_still_completes_with_correct_counts(cluster: LoopbackCluster) -> None:
    doomed = cluster.add_node(cpus=1)
    cluster.wait_for_cpus(3)
    doomed_pids: list[int] = []
    leftover_dirs: set[str] = set()
    with RayExecutor(address=cluster.address, workers=3) as executor:
        nodes = {info["node"] for info in executor.worker_info()}
        assert len(nodes) == 3, "one sandbox actor on each of the three nodes"
        pulled: list[int] = []
        results = []
        killed = threading.Event()

        def jobs():
            for i in range(JOBS):
                pulled.append(i)
                yield _job(i)

        for i, result in enumerate(executor.run_many(jobs())):
            results.append(result)
            if i == 5 and not killed.is_set():
                doomed_pids = [doomed.proc.pid, *_descendants(doomed.proc.pid)]
                leftover_dirs = _inputs_dirs(doomed_pids)
                cluster.kill_node(doomed)  # raylet, workers and their zygotes, SIGKILL at once
                killed.set()
        stats = executor.stats

    assert killed.is_set()
    assert len(results) == JOBS and pulled == list(range(JOBS))
    for i, result in enumerate(results):
        assert [r.output for r in result.instances] == [i * i, (i + 1000) ** 2], f"job {i}"
        assert all(r.error is None for r in result.instances)
    assert stats.completed == stats.submitted == JOBS, "each job's result counted once"
    assert stats.workers_lost >= 1 and stats.retried >= 1, stats
    assert sum(stats.by_node.values()) == JOBS
    assert len(stats.by_node) >= 2
    assert not any(pid_alive(pid) for pid in doomed_pids), "the lost node left nothing running"
    # A SIGKILLed pool cannot remove its shared-inputs directory (on a real node, tmpfs is cleared at
    # reboot); remove exactly the ones of the killed node so repeated runs leave nothing behind.
    assert leftover_dirs, "the killed node had a sandbox pool"
    for directory in leftover_dirs:
        shutil.rmtree(directory, ignore_errors=True)
    cluster.wait_for_nodes(alive=2)  # the head's view catches up, so later tests see a clean cluster
