"""Helpers shared by the sandbox tests (real pools, real processes)."""

from __future__ import annotations

import os

import pytest

from selftaught.sandbox import Job, JobResult, SandboxPool

FAKE_KEY = "sk-test-SELFTAUGHT-FAKE-KEY-0123456789abcdef"

# Two tests compare the machine's shared memory (tmpfs included) before and after their jobs. They and
# the tests that fill sandbox scratch (tmpfs) by the hundred MiB hold one machine-wide lock while they
# run (conftest.py), so on parallel workers those figures never include another such test's scratch.
MACHINE_SHARED_MEMORY = pytest.mark.usefixtures("machine_shared_memory")


def run_one(
    pool: SandboxPool, source: str, *args: object, timeout: float = 5.0, memory_mb: int = 512
) -> JobResult:
    """Run `f(*args)` of `source` once."""
    return pool.run(
        Job(source=source, entry="f", instances=[list(args)], instance_timeout=timeout, memory_mb=memory_mb)
    )


def backstop_reason(pool: SandboxPool) -> str:
    """How a sleeper's timeout begins: by sleep time where the kernel reports run-queue waits."""
    return "timeout (sleep backstop" if pool.worker_layers()["schedstat"] else "timeout (wall-clock backstop"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (host view of /proc)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def healthy(pool: SandboxPool) -> bool:
    """The pool still runs an honest job correctly."""
    result = run_one(pool, "def f(x):\n    return x + 1\n", 41)
    return result.instances[0].output == 42
