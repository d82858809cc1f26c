"""The zygote's limits as numbers, without a sandbox: the CPU-time rule of `Watchdog.check_cpu` and the
rlimits `confine` gives a child (read back from a forked process), so a changed limit fails here and not
only as "some error happened" in an end-to-end test.

`sandbox/inside/` modules import each other as top-level modules (that is how the zygote runs them), so
the directory is put on `sys.path` for the import and taken off again.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import selftaught

INSIDE = str(Path(selftaught.__file__).parent / "sandbox" / "inside")
sys.path.insert(0, INSIDE)
try:
    import clock  # type: ignore[import-not-found]
    import confine  # type: ignore[import-not-found]
    from jobstate import JobState  # type: ignore[import-not-found]
    from watchdog import Watchdog  # type: ignore[import-not-found]
finally:
    sys.path.remove(INSIDE)


class Watched(Watchdog):  # type: ignore[misc]
    """The watchdog with the zygote's other halves replaced by records of what it asked for."""

    def __init__(self, used: float) -> None:
        self.used = used
        self.jobs = {}
        self.failed: list[tuple[str, float]] = []
        self.reaped = 0

    def elapsed(self, job: Any) -> float:
        return self.used

    def reap(self, job: Any) -> str:
        self.reaped += 1
        return "killed"

    def instance_failed(self, job: Any, error: str, seconds: float) -> None:
        self.failed.append((error, seconds))


def running(limit: float, now: float, backstop_in: float = 1000.0) -> Any:
    return JobState(
        id=1,
        header={"timeout": limit},
        bodies=[b""],
        phase="run",
        deadline=now + backstop_in,
        started=now,
        cpu_start=0.0,
    )


@pytest.mark.parametrize("limit", [0.5, 2.0, 10.0])
def test_a_call_times_out_at_its_cpu_limit_not_later(limit: float) -> None:
    """Just under the limit the call goes on (looked at again no later than the CPU clock could reach
    the limit); at the limit it is ended as "timeout" with the CPU seconds it used."""
    now = time.monotonic()
    under = Watched(used=limit - 1e-6)
    job = running(limit, now)
    under.check_cpu(job, now)
    assert under.failed == [] and under.reaped == 0
    assert now < job.next_check <= now + max(clock.MIN_CHECK, 1e-6 / clock.CORES) + 1e-9
    at = Watched(used=limit)
    at.check_cpu(running(limit, now), now)
    assert at.failed == [("timeout", limit)] and at.reaped == 1


def test_the_next_look_is_as_late_as_the_cpu_clock_allows() -> None:
    """With 3 s of CPU left on CORES cores the limit cannot be reached before 3 / CORES s of wall time."""
    now = time.monotonic()
    watched = Watched(used=1.0)
    job = running(4.0, now)
    watched.check_cpu(job, now)
    assert job.next_check == pytest.approx(now + 3.0 / clock.CORES)
    job = running(4.0, now, backstop_in=0.01)
    watched.check_cpu(job, now)
    assert job.next_check == pytest.approx(now + 0.01)  # never past the backstop


def test_the_wall_backstop_ends_a_call_under_its_cpu_limit() -> None:
    now = time.monotonic()
    watched = Watched(used=0.1)
    watched.check_cpu(running(2.0, now - 10, backstop_in=7.0), now)
    [(error, seconds)] = watched.failed
    assert error.startswith("timeout") and "backstop" in error and seconds == 0.1


def test_a_confined_child_gets_the_documented_rlimits() -> None:
    """The rlimits `confine` sets, read back in a forked child: 64 processes (threads count), 128 open
    files, 256 MiB files, no core dumps, no real-time priority, CPU seconds and address space as given.
    Soft equals hard, so the program cannot raise them back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: set the limits, report them, exit without running pytest's teardown
        try:
            confine._set_limits(confine.Limits(cpu_seconds=7, address_space=3 << 30))
            names = ("NPROC", "NOFILE", "FSIZE", "CORE", "CPU", "AS", "RTPRIO", "NICE")
            found = {name: resource.getrlimit(getattr(resource, f"RLIMIT_{name}")) for name in names}
            os.write(write, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        found = {name: tuple(pair) for name, pair in json.loads(pipe.read()).items()}
    os.waitpid(pid, 0)
    assert found == {
        "NPROC": (64, 64),
        "NOFILE": (128, 128),
        "FSIZE": (256 << 20, 256 << 20),
        "CORE": (0, 0),
        "CPU": (7, 7),
        "AS": (3 << 30, 3 << 30),
        "RTPRIO": (0, 0),
        "NICE": (0, 0),
    }
    assert confine.Limits(cpu_seconds=1, address_space=0).processes == 64
