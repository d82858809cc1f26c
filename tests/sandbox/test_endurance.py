"""The pool survives thousands of jobs (and hostile ones) without leaking processes, fds or scratch dirs."""

from __future__ import annotations

import os
import threading
import time

import pytest

from selftaught.sandbox import Job, SandboxPool

from .util import descendants, healthy

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


def _zygote_pids(pool: SandboxPool) -> list[int]:
    pids = []
    for zygote in pool._zygotes:
        for pid in descendants(zygote.proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
                if b"zygote.main()" in b" ".join(argv) and not argv[0].endswith(b"bwrap"):
                    pids.append(pid)
            except OSError:
                pass
    return pids


def _snapshot(pool: SandboxPool) -> tuple[int, int, list[str]]:
    fds = len(os.listdir("/proc/self/fd"))
    procs = len(descendants(os.getpid()))
    scratch = [name for pid in _zygote_pids(pool) for name in os.listdir(f"/proc/{pid}/root/scratch")]
    return fds, procs, scratch


@pytest.mark.long  # thousands of jobs
def test_thousands_of_jobs_leak_nothing(pool: SandboxPool) -> None:
    honest = Job(
        source="def f(x):\n    open('tmp', 'w').write('x')\n    return x\n", entry="f", instances=[[1], [2]]
    )
    crashing = Job(source="import os\ndef f():\n    os.abort()\n", entry="f", instances=[[]])
    looping = Job(source="def f():\n    while True: pass\n", entry="f", instances=[[]], instance_timeout=0.05)
    healthy(pool)
    before = _snapshot(pool)
    assert before[2] == []
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(n):
            job = crashing if i % 97 == 0 else looping if i % 251 == 0 else honest
            result = pool.run(job)
            if job is honest and [r.output for r in result.instances] != [1, 2]:
                errors.append(repr(result))

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(300,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert errors == []
    after = _snapshot(pool)
    assert after == before, (before, after)
    print(f"1200 jobs in {elapsed:.1f} s")  # a figure, not a test: load decides it


def test_a_dead_zygote_is_replaced(pool: SandboxPool) -> None:
    victims = _zygote_pids(pool)
    assert len(victims) == 2
    os.kill(victims[0], 9)
    deadline = time.monotonic() + 5
    while all(z.alive for z in pool._zygotes) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(healthy(pool) for _ in range(4))
    assert all(z.alive for z in pool._zygotes)
    assert victims[0] not in _zygote_pids(pool)


def test_close_leaves_no_process_and_no_directory() -> None:
    before = set(descendants(os.getpid()))
    sandbox = SandboxPool(workers=2)
    assert (
        sandbox.run(Job(source="def f():\n    return 1\n", entry="f", instances=[[]])).instances[0].output
        == 1
    )
    assert len(set(descendants(os.getpid())) - before) >= 4  # two bwrap + two zygotes at least
    shared = sandbox._inputs.directory
    sandbox.close()
    deadline = time.monotonic() + 5
    while set(descendants(os.getpid())) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(descendants(os.getpid())) - before == set()
    assert not os.path.exists(shared)
