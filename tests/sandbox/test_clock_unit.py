"""The run-queue waits the sleep backstop subtracts, read from this process's own threads (no sandbox).

A thread that lowered its own priority gets no credit for waiting (its waiting is its choice), so a
hostile program cannot stay "starved" for ever by making itself unschedulable.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

import selftaught

INSIDE = str(Path(selftaught.__file__).parent / "sandbox" / "inside")
sys.path.insert(0, INSIDE)
try:
    import clock  # type: ignore[import-not-found]
finally:
    sys.path.remove(INSIDE)

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")


def test_every_live_thread_reports_its_wait() -> None:
    ceiling = os.getpriority(os.PRIO_PROCESS, 0)
    waits = clock.run_queue_waits(os.getpid(), ceiling)
    assert waits is not None and str(threading.get_native_id()) in waits
    assert all(isinstance(wait, int) and wait >= 0 for wait in waits.values())
    assert clock.schedstat_available()
    assert clock.waited_since(os.getpid(), waits, ceiling) >= 0.0


def test_a_thread_that_lowered_its_priority_gets_no_credit_for_waiting() -> None:
    ceiling = os.getpriority(os.PRIO_PROCESS, 0)
    if ceiling >= 19:
        pytest.skip("this process already runs at the lowest priority")
    ready, done = threading.Event(), threading.Event()
    tid: list[int] = []

    def niced() -> None:
        tid.append(threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, tid[0], min(19, ceiling + 5))
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=niced)
    thread.start()
    try:
        assert ready.wait(10)
        waits = clock.run_queue_waits(os.getpid(), ceiling)
        assert waits is not None and waits[str(tid[0])] == 0
    finally:
        done.set()
        thread.join()


def test_a_process_that_is_gone_reports_nothing() -> None:
    assert clock.run_queue_waits(2**22 + 12345, 0) is None
    assert clock.waited_since(2**22 + 12345, {}, 0) is None


def test_the_hard_cap_is_well_past_the_sleep_backstop() -> None:
    for limit in (0.1, 0.5, 2.0, 10.0):
        assert clock.hard_cap(limit) >= 5 * clock.backstop(limit)
