"""The clock of a CPU-limited call: the child's own CPU time, read by the zygote.

Stdlib only (runs in the zygote). Why CPU time: a call's CPU seconds do not depend on how many other
processes share the cores, nor on how long the zygote took to parse another child's message, so a
score does not depend on machine load (docs/sandbox.md, "Time limits").
"""

from __future__ import annotations

import os
import time

CORES = max(1, os.cpu_count() or 1)
WALL_FACTOR = 3.0  # the wall-clock backstop, in limits, against programs that sleep instead of computing
MIN_CHECK = 0.002  # seconds: the zygote looks at a child's clock no more often than this


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system, all threads) of process `pid` so far, from its process CPU clock.

    Linux encodes another process's CPU clock id as ((~pid) << 3) | CPUCLOCK_SCHED; reading it needs no
    privilege, is exact to the nanosecond and costs one syscall. None when the process is gone.
    """
    try:
        return time.clock_gettime(((~pid) << 3) | 2)
    except OSError:
        return None


def backstop(limit: float) -> float:
    """The backstop of a CPU-limited call: a few times the limit of sleep, against sleepers only."""
    return WALL_FACTOR * limit + 1.0


HARD_FACTOR = 30.0  # the wall-clock cap of a CPU-limited call, however long it waited for a core


def hard_cap(limit: float) -> float:
    """Wall seconds after which a CPU-limited call ends even if the kernel says it was starved, not
    asleep: a call that lowered its own priority (nice, SCHED_IDLE) waits on the run queue without
    end and must not hold its core-slot for ever. Thirty limits: a load of ten per core still passes."""
    return HARD_FACTOR * limit + 10.0


def _thread_wait(pid: int, tid: str, nice_ceiling: int) -> int | None:
    """Nanoseconds thread `tid` of `pid` has waited on a run queue, from /proc/PID/task/TID/schedstat
    ("on-CPU ns, run-queue wait ns, timeslices"); 0 for a thread that lowered its priority below the
    zygote's (its waiting is its own choice); None when the files cannot be read."""
    base = f"/proc/{pid}/task/{tid}/"
    try:
        with open(base + "schedstat", "rb") as handle:
            wait = int(handle.read().split()[1])
        with open(base + "stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        nice, policy = int(fields[16]), int(fields[38])
    except (OSError, ValueError, IndexError):
        return None
    return wait if nice <= nice_ceiling and policy == 0 else 0


def run_queue_waits(pid: int, nice_ceiling: int) -> dict[str, int] | None:
    """Per live thread of `pid`: nanoseconds spent runnable but waiting for a CPU (see `_thread_wait`).

    None when the kernel does not say (no /proc/PID/task, no schedstat): the backstop is then the
    wall clock, as before. Threads that ended are gone from the sum; that only makes the backstop
    stricter (closer to the wall-clock rule), never laxer.
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    waits: dict[str, int] = {}
    for tid in tids:
        wait = _thread_wait(pid, tid, nice_ceiling)
        if wait is not None:
            waits[tid] = wait
    return waits or None


def waited_since(pid: int, start: dict[str, int], nice_ceiling: int) -> float | None:
    """Seconds the threads of `pid` waited for a CPU since the `start` reading (None: unknown)."""
    now = run_queue_waits(pid, nice_ceiling)
    if now is None:
        return None
    return sum(max(0, wait - start.get(tid, 0)) for tid, wait in now.items()) / 1e9


def schedstat_available() -> bool:
    """Whether this kernel reports run-queue waits (the zygote checks on itself)."""
    return run_queue_waits(os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)) is not None
