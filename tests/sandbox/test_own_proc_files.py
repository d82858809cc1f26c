"""A child may read its own `/proc/self/maps` (threadpoolctl, hence scipy and scikit-learn, list the
loaded libraries there) and nothing else of /proc: not another process's maps, not its own environment
or memory. Both sides of the decision on the real strong sandbox, beside honest jobs."""

from __future__ import annotations

import threading

import pytest

from selftaught.sandbox import JobResult, SandboxPool

from .test_hostile_boundary import beside, run_src
from .util import healthy

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

READ = (
    "import os, threading\n"
    "def read(path):\n"
    "    try:\n"
    "        with open(path, 'rb') as fh:\n"
    "            return fh.read()\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n"
)


def test_a_child_reads_its_own_maps_from_any_of_its_threads(pool: SandboxPool) -> None:
    src = READ + (
        "def f():\n"
        "    main = read('/proc/self/maps')\n"
        "    by_pid = read(f'/proc/{os.getpid()}/maps')\n"
        "    seen = []\n"
        "    worker = threading.Thread(target=lambda: seen.append(read('/proc/self/maps')))\n"
        "    worker.start(); worker.join()\n"
        "    lines = main.decode().splitlines() if isinstance(main, bytes) else []\n"
        "    return [len(lines), any('python' in line or '.so' in line for line in lines),\n"
        "            isinstance(by_pid, bytes), isinstance(seen[0], bytes)]\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[]]))
    lines, names_libraries, by_pid, from_thread = result.instances[0].output
    assert lines > 10 and names_libraries, result.instances[0]
    assert by_pid and from_thread


@pytest.mark.parametrize(
    "path",
    [
        "/proc/self/environ",
        "/proc/self/mem",
        "/proc/self/smaps",
        "/proc/self/pagemap",
        "/proc/self/task/{tid}/environ",
        "/proc/1/maps",
        "/proc/{ppid}/maps",
    ],
)
def test_every_other_proc_file_stays_refused(pool: SandboxPool, path: str) -> None:
    src = READ + (
        "def f(path):\n"
        "    path = path.format(ppid=os.getppid(), tid=threading.get_native_id())\n"
        "    got = read(path)\n"
        "    return got if isinstance(got, str) else 'read'\n"
    )
    result = run_src(pool, src, [[path]])
    assert result.instances[0].output in ("PermissionError", "FileNotFoundError"), (path, result.instances[0])


def test_no_other_process_maps_is_readable_even_a_running_sibling(pool: SandboxPool) -> None:
    """Every other pid (the zygote, bubblewrap's init, siblings running at the same time: two jobs run
    together here) has its maps refused; the child's own is the control. The child cannot list /proc,
    so it tries every pid up to 4096 (its pid namespace numbers from 1) and counts those that exist."""
    src = READ + (
        "import time\n"
        "def f(wait):\n"
        "    time.sleep(wait)  # the other job is alive meanwhile\n"
        "    others = {p: read(f'/proc/{p}/maps') for p in range(1, 4097) if p != os.getpid()}\n"
        "    present = [p for p, got in others.items() if got != 'FileNotFoundError']\n"
        "    return [isinstance(read('/proc/self/maps'), bytes), len(present),\n"
        "            sorted(p for p, got in others.items() if isinstance(got, bytes))]\n"
    )
    results: list[JobResult] = []

    def one() -> None:
        results.append(run_src(pool, src, [[0.5]]))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert result.instances[0].output is not None, result.instances[0]
        own, listed, readable = result.instances[0].output
        assert own is True and listed >= 2, result.instances[0]
        assert readable == [], readable
    assert healthy(pool)
