"""Busy loops beside a benchmark: `with busy_loops(4): ...` runs four `while True: pass` processes.

Why: "idle" and "under load" figures must be taken under a load the benchmark sets itself, not only
whatever else the machine runs. Each loop is a child process of the benchmark, ended when the block
ends (and with the benchmark, if it dies: the loops poll their parent).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

LOOP = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """`count` CPU-bound processes for the duration of the block (0: none)."""
    loops = [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(max(0, count))]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def load() -> float:
    """The one-minute load average now."""
    return os.getloadavg()[0]
