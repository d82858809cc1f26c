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
    """The wall-clock backstop of a CPU-limited call: a few times the limit, against sleepers only."""
    return WALL_FACTOR * limit + 1.0
