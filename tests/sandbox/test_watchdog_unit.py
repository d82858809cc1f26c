"""The zygote's limits as numbers, without a sandbox: the CPU-time rule of `Watchdog.check_cpu` and the
rlimits `confine` gives a child (read back from a forked process), so a changed limit fails here and not
only as "some error happened" in an end-to-end test.

`sandbox/inside/` modules import each other as top-level modules (that is how the zygote runs them), so
the directory is put on `sys.path` for the import and taken off again.
"""

from __future__ import annotations

import itertools
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
    import frames as inside_frames  # type: ignore[import-not-found]
    import scratch as scratch_space  # type: ignore[import-not-found]
    import watchdog  # type: ignore[import-not-found]
    from jobstate import Child, JobState  # type: ignore[import-not-found]
    from watchdog import SCRATCH_FILES, Watchdog, wake  # type: ignore[import-not-found]
finally:
    sys.path.remove(INSIDE)


class Watched(Watchdog):  # type: ignore[misc]
    """The watchdog as the zygote builds it, its job flow replaced by records of what it asked for
    (the watchdog is its own `Flow` here)."""

    def __init__(self, used: float, waited: float | None = None) -> None:
        super().__init__(
            {},
            self,
            scratch_root="/nonexistent",
            scratch_base=(0, 0),
            scratch_share=256 << 20,
            scratch_budget=1 << 30,
            nice=0,
        )
        self.used = used
        self.waited_for = waited
        self.failed: list[tuple[str, float]] = []
        self.reaped = 0
        self.reaped_ids: list[int] = []
        self.sent: list[dict[str, Any]] = []
        self.finished: list[int] = []
        self.gone: list[tuple[int, str | None]] = []

    def waited(self, job: Any) -> float | None:
        return self.waited_for

    def send_host(self, header: dict[str, Any], bodies: list[bytes] = (), /) -> None:  # type: ignore[assignment]
        self.sent.append(header)

    def finish(self, job: Any, error: str | None = None) -> None:
        self.finished.append(job.id)

    def child_gone(self, job: Any, why: str | None = None) -> None:
        self.gone.append((job.id, why))

    def elapsed(self, job: Any) -> float:
        return self.used

    def reap(self, job: Any) -> str:
        self.reaped += 1
        self.reaped_ids.append(job.id)
        return "killed"

    def instance_failed(self, job: Any, error: str, seconds: float) -> None:
        self.failed.append((error, seconds))


FEW = 20  # the scratch tests lower the per-child file count to this (the real one is pinned below)


def child(scratch: str = "/nonexistent", private: bool = False) -> Any:
    return Child(
        pid=1,
        ctrl_w=-1,
        ctrl_r=-1,
        out_r=None,
        err_r=None,
        slot=0,
        scratch=scratch,
        reader=inside_frames.FrameReader(1),
        private=private,
    )


def running(limit: float, now: float, backstop_in: float = 1000.0) -> Any:
    return JobState(
        id=1,
        header={"timeout": limit},
        bodies=[b""],
        phase="run",
        deadline=now + backstop_in,
        started=now,
        cpu_start=0.0,
        child=child(),
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


def test_a_sleeping_call_is_ended_by_the_sleep_backstop_and_a_starved_one_postponed() -> None:
    """With schedstat: wall 10 s, CPU 0.1 s. Waiting 9.8 s for a core leaves 0.1 s asleep: not ended,
    its deadline moves on (and the host is told by how much). Waiting 0 s: 9.9 s asleep, past the 7 s
    backstop of a 2 s limit: ended, saying it slept."""
    now = time.monotonic()
    starved = Watched(used=0.1, waited=9.8)
    job = running(2.0, now - 10, backstop_in=0.0)
    job.deadline = now
    starved.check_cpu(job, now)
    assert starved.failed == [] and job.deadline > now
    assert [header["op"] for header in starved.sent] == ["waited"] and starved.sent[0]["secs"] > 0
    asleep = Watched(used=0.1, waited=0.0)
    job = running(2.0, now - 10, backstop_in=0.0)
    job.deadline = now
    asleep.check_cpu(job, now)
    [(error, seconds)] = asleep.failed
    assert "sleep backstop" in error and seconds == 0.1


def test_deadlines_end_setup_and_wall_clock_calls_and_leave_the_rest() -> None:
    now = time.monotonic()
    watched = Watched(used=0.0)
    setup = JobState(
        id=1, header={"setup_timeout": 5}, bodies=[b""], phase="setup", deadline=now - 1, child=child()
    )
    wall = JobState(
        id=2, header={}, bodies=[b""], phase="run", deadline=now - 1, started=now - 3, child=child()
    )
    early = JobState(
        id=3, header={}, bodies=[b""], phase="run", deadline=now + 100, started=now, child=child()
    )
    idle = JobState(id=4, header={}, bodies=[b""], phase="run", deadline=now - 1, started=now)
    # Held (waiting for the host's verdict on the instance before) and done jobs are nobody's timeout.
    held = JobState(
        id=5, header={}, bodies=[b""], phase="held", deadline=now - 1, started=now - 3, child=child()
    )
    done = JobState(
        id=6, header={}, bodies=[b""], phase="done", deadline=now - 1, started=now - 3, child=child()
    )
    watched.jobs = {job.id: job for job in (setup, wall, early, idle, held, done)}
    watched.check_deadlines()
    assert watched.sent == [{"op": "setup", "id": 1, "error": "timeout during setup (5 s)"}]
    assert watched.finished == [1] and watched.reaped == 2
    [(error, seconds)] = watched.failed
    assert error == "timeout" and 3.0 <= seconds < 60.0  # the wall seconds since it started


def test_wake_is_the_next_look_for_cpu_calls_and_the_deadline_otherwise() -> None:
    now = time.monotonic()
    job = running(2.0, now, backstop_in=50.0)
    job.next_check = now + 1
    assert wake(job) == now + 1
    job.next_check = now + 60
    assert wake(job) == now + 50.0
    job.cpu_start = None
    job.next_check = now + 1
    assert wake(job) == now + 50.0


def test_the_child_over_its_scratch_share_is_ended_and_the_others_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Share 4096 bytes: a child holding 64 KiB is ended with the stated reason, one holding 10 bytes is
    not; a child over the file count is ended too (the count is lowered to 20 here, to stay fast)."""
    monkeypatch.setattr(watchdog, "SCRATCH_FILES", FEW)
    dirs = {name: tmp_path / name for name in ("big", "small", "many")}
    for folder in dirs.values():
        folder.mkdir()
    (dirs["big"] / "data").write_bytes(b"x" * (64 << 10))
    (dirs["small"] / "data").write_bytes(b"x" * 10)
    for i in range(FEW + 1):
        (dirs["many"] / str(i)).touch()
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share = str(tmp_path), 4096
    watched.scratch_base, watched.next_scratch_check = (0, 0), 0.0  # everything on the disk counts as used
    watched.jobs = {
        i: JobState(id=i, header={}, bodies=[], phase="run", child=child(str(dirs[name])))
        for i, name in enumerate(("big", "small", "many"))
    }
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [0, 2]
    assert all(why == f"scratch quota exceeded: more than {FEW} files or 0 MiB" for _, why in watched.gone)
    assert [header["kind"] for header in watched.sent] == ["scratch-quota", "scratch-quota"]
    assert watched.next_scratch_check > time.monotonic() - 1  # the next walk waits


def test_the_scratch_walk_is_skipped_while_the_filesystem_holds_less_than_one_share(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"x" * (64 << 10))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share = str(tmp_path), 1 << 40
    watched.next_scratch_check = 0.0
    watched.scratch_base = (1 << 62, 1 << 62)  # far above anything in use: nobody can be over
    watched.jobs = {0: JobState(id=0, header={}, bodies=[], phase="run", child=child(str(tmp_path)))}
    watched.check_scratch()
    assert watched.gone == [] and watched.sent == []
    watched.next_scratch_check = time.monotonic() + 100
    watched.scratch_base, watched.scratch_share = (0, 0), 1
    watched.check_scratch()  # not yet time to look
    assert watched.gone == []


def test_past_the_budget_the_children_holding_the_most_are_ended_until_the_rest_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Children with a tmpfs of their own: budget 100 MiB, holders of 60, 50, 30, 0 MiB (140 in all): the
    60 is ended (80 left fit); the honest small holders keep their scratch whatever others reserved."""
    held = {"a": 50 << 20, "b": 60 << 20, "c": 30 << 20, "d": 0}
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: (1, held.get(path, 0)))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_budget = "/nonexistent", 64 << 20, 100 << 20
    watched.scratch_base, watched.next_scratch_check = (1 << 62, 1 << 62), 0.0
    watched.jobs = {
        i: JobState(id=i, header={}, bodies=[], phase="run", child=child(name, private=True))
        for i, name in enumerate(held)
    }
    watched.check_scratch()
    assert watched.gone == [
        (
            1,
            "the sandbox worker's scratch budget is spent (140 MiB of 100 MiB held by its children); "
            "this child holds the most: 60 MiB",
        )
    ]
    held["c"] = 60 << 20  # now 50 + 60 + 0 for the three left: 110 MiB, the 60 goes next
    watched.next_scratch_check = 0.0
    del watched.jobs[1]
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [1, 2]


def test_scratch_numbers_are_the_documented_ones() -> None:
    """docs/sandbox.md: a child's share is 256 MiB and 10,000 files, looked at every 0.1 s."""
    assert (watchdog.SCRATCH_SHARE, SCRATCH_FILES, watchdog.SCRATCH_CHECK) == (
        256 << 20,
        10_000,
        0.1,
    )


def _quota_case(tmp_path: Path, base: tuple[int, int], share: int) -> Any:
    many, big = tmp_path / "many", tmp_path / "big"
    many.mkdir()
    big.mkdir()
    for i in range(FEW + 1):
        (many / str(i)).touch()
    (big / "data").write_bytes(b"x" * (64 << 10))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_base = str(tmp_path), share, base
    watched.next_scratch_check = 0.0
    watched.jobs = {
        0: JobState(id=0, header={}, bodies=[], phase="run", child=child(str(many))),
        1: JobState(id=1, header={}, bodies=[], phase="run", child=child(str(big))),
    }
    return watched


def test_the_file_count_alone_is_enough_to_start_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes on the filesystem within one share, entries past the file count: the walk runs and the
    child with too many files is ended (the first look must not need both to be over)."""
    monkeypatch.setattr(watchdog, "SCRATCH_FILES", FEW)
    watched = _quota_case(tmp_path, (0, 0), 1 << 40)
    watched.scratch_base = (0, scratch_space.filesystem_use(str(tmp_path))[1])
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [0]


def test_the_bytes_alone_are_enough_to_start_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watchdog, "SCRATCH_FILES", FEW)
    watched = _quota_case(tmp_path, (0, 0), 4096)
    watched.scratch_base = (scratch_space.filesystem_use(str(tmp_path))[0], 0)
    watched.check_scratch()
    assert sorted(job_id for job_id, _ in watched.gone) == [0, 1]


def test_a_slow_walk_pushes_the_next_one_back_ten_times_its_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measuring may take at most a tenth of the zygote's time: a clock that moves 0.25 s per reading
    makes the look at 100.0 spend 0.5 s measuring (two timed measurements), so the next waits until 105."""
    clock_readings = itertools.count(100.0, 0.25)

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return next(clock_readings)

    monkeypatch.setattr(watchdog, "time", Clock)
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_base = "/", 1, (0, 0)
    watched.next_scratch_check, watched.jobs = 0.0, {}
    watched.check_scratch()
    assert watched.next_scratch_check == 105.0


def test_a_starved_call_is_still_ended_at_the_hard_cap() -> None:
    """However long it waited for a core, a call is ended once its wall time passes the hard cap
    (30 x limit + 10 s): limit 2 s, 71 s of wall, 70.8 s of it waiting, 0.1 s asleep."""
    now = time.monotonic()
    watched = Watched(used=0.1, waited=70.8)
    job = running(2.0, now - 71.0, backstop_in=0.0)
    job.deadline = now
    watched.check_cpu(job, now)
    [(error, seconds)] = watched.failed
    assert "sleep backstop: 0.1 s asleep, 70.8 s waiting" in error and seconds == 0.1 and watched.sent == []
    # Clocks read at different moments can make the sleep a little negative: it is shown as 0.
    overlapped = Watched(used=0.1, waited=71.0)
    job = running(2.0, now - 71.0, backstop_in=0.0)
    job.deadline = now
    overlapped.check_cpu(job, now)
    assert "sleep backstop: 0.0 s asleep" in overlapped.failed[0][0]


def test_postponing_tells_the_host_only_of_a_later_deadline() -> None:
    now = time.monotonic()
    watched = Watched(used=0.0)
    job = running(2.0, now, backstop_in=10.0)
    watched.postpone(job, now + 10.0, now, 1.0)  # the same deadline: nothing to tell
    watched.postpone(job, now + 5.0, now, 1.0)  # earlier: nothing to tell either
    assert watched.sent == [] and job.deadline == now + 5.0
    watched.postpone(job, now + 8.0, now, 1.0)
    assert watched.sent == [{"op": "waited", "id": 1, "secs": pytest.approx(3.0)}]
    assert job.next_check == pytest.approx(now + max(clock.MIN_CHECK, 1.0 / clock.CORES))


def test_deadline_checks_read_the_cpu_clock_of_running_cpu_calls() -> None:
    """check_deadlines ends a running CPU-clock call at its CPU limit (its wall deadline far away), and
    leaves a held job's CPU clock alone."""
    now = time.monotonic()
    watched = Watched(used=5.0)
    over = running(2.0, now, backstop_in=1000.0)
    held = running(2.0, now, backstop_in=1000.0)
    held.id, held.phase = 2, "held"
    watched.jobs = {1: over, 2: held}
    watched.check_deadlines()
    assert watched.failed == [("timeout", 5.0)] and watched.reaped_ids == [1]


def test_a_filesystem_holding_exactly_one_share_is_not_walked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first look: within one share (inclusive) and within the file count (inclusive), no walk."""
    (tmp_path / "data").write_bytes(b"x" * (64 << 10))
    monkeypatch.setattr(
        watchdog.scratch_space, "filesystem_use", lambda path: (1000 + SCRATCH_FILES, 5000 + 4096)
    )
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_base = str(tmp_path), 4096, (1000, 5000)
    watched.next_scratch_check = 0.0
    watched.jobs = {0: JobState(id=0, header={}, bodies=[], phase="run", child=child(str(tmp_path)))}
    watched.check_scratch()
    assert watched.gone == []
    watched.scratch_base, watched.next_scratch_check = (1000, 4999), 0.0  # one byte more: walked, ended
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [0]
