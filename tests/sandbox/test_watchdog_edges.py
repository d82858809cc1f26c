"""The watchdog's rules at their exact edges: a fixed clock (exact floats, no sleeping) puts each check
at the moment it must fire and just before, so an inclusive bound made strict (or the reverse) fails.

Companion of test_watchdog_unit.py (which has the recording `Watched` flow used here).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from .test_watchdog_unit import JobState, Watched, child, clock, running, wake, watchdog


def fresh(phase: str) -> str:
    """A phase string built at run time, not the interned literal: phases must be compared by value."""
    return "".join(list(phase))


class FixedClock:
    """`time` as the watchdog sees it: monotonic() always answers `now`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


def test_a_cpu_call_is_looked_at_from_its_next_check_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_deadlines reads the CPU clock at next_check itself, not only after it."""
    monkeypatch.setattr(watchdog, "time", FixedClock(500.0))
    watched = Watched(used=5.0)
    job = running(2.0, 400.0, backstop_in=1000.0)
    job.phase, job.next_check = fresh("run"), 500.0
    watched.jobs = {1: job}
    watched.check_deadlines()
    assert watched.failed == [("timeout", 5.0)]
    early = Watched(used=5.0)
    job = running(2.0, 400.0, backstop_in=1000.0)
    job.next_check = 500.5
    early.jobs = {1: job}
    early.check_deadlines()
    assert early.failed == []


def test_setup_and_wall_calls_end_at_their_deadline_not_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "time", FixedClock(500.0))
    for deadline, ended in ((500.0, True), (500.25, False)):
        watched = Watched(used=0.0)
        setup = JobState(
            id=1,
            header={"setup_timeout": 5},
            bodies=[],
            phase=fresh("setup"),
            deadline=deadline,
            child=child(),
        )
        wall = JobState(
            id=2, header={}, bodies=[], phase=fresh("run"), deadline=deadline, started=496.5, child=child()
        )
        # A job between children (no child now) comes first: it is passed over, not the end of the look.
        between = JobState(id=9, header={}, bodies=[], phase="run", deadline=0.0)
        watched.jobs = {9: between, 1: setup, 2: wall}
        watched.check_deadlines()
        assert (watched.finished, watched.reaped_ids) == (([1], [1, 2]) if ended else ([], []))
        assert watched.failed == ([("timeout", 3.5)] if ended else [])


def test_the_wall_backstop_fires_at_the_deadline_and_says_what_it_saw() -> None:
    """Without schedstat: at the deadline (wall 9 s, 0.25 s of CPU, limit 2 s) the call is ended with
    the wall time and the CPU time in the reason."""
    watched = Watched(used=0.25)
    job = running(2.0, 991.0)
    job.deadline = 1000.0
    watched.check_cpu(job, 1000.0)
    assert watched.failed == [("timeout (wall-clock backstop: 9.0 s waited for 0.25 s of CPU)", 0.25)]
    assert watched.reaped == 1


def test_a_starved_call_is_postponed_by_exactly_the_sleep_it_has_left() -> None:
    """Limit 2 s: backstop 7 s of sleep. Wall 10 s, CPU 0.1 s, 9.75 s waiting for a core: 0.15 s
    asleep, so the deadline moves to now + 6.85 s (the host hears of 6.85 s more) and the next look is
    as soon as the CPU clock could reach the limit."""
    assert clock.backstop(2.0) == 7.0 and clock.hard_cap(2.0) == 70.0
    watched = Watched(used=0.125, waited=9.75)
    job = running(2.0, 990.0)
    job.deadline = 1000.0
    watched.check_cpu(job, 1000.0)
    assert watched.failed == [] and watched.reaped == 0
    assert job.deadline == pytest.approx(1000.0 + 7.0 - 0.125)
    assert watched.sent == [{"op": "waited", "id": 1, "secs": pytest.approx(7.0 - 0.125)}]
    assert job.next_check == pytest.approx(1000.0 + max(clock.MIN_CHECK, 1.875 / clock.CORES))


def test_the_postponed_deadline_never_passes_the_hard_cap() -> None:
    """Started at 990 with limit 2: the hard cap is 1060. At 1058, barely asleep: postponed to 1060, not
    to 1058 + 7; at 1060 itself the call ends."""
    watched = Watched(used=0.5, waited=67.5)
    job = running(2.0, 990.0)
    job.deadline = 1058.0
    watched.check_cpu(job, 1058.0)
    assert watched.failed == [] and job.deadline == 1060.0
    at_cap = Watched(used=0.5, waited=69.5)
    job = running(2.0, 990.0)
    job.deadline = 1060.0
    at_cap.check_cpu(job, 1060.0)
    assert [error for error, _ in at_cap.failed] == [
        "timeout (sleep backstop: 0.0 s asleep, 69.5 s waiting for a core, 70.0 s wall for 0.50 s of CPU)"
    ]


def test_a_call_asleep_for_exactly_the_backstop_is_ended() -> None:
    """Wall 10 s, CPU 0.5 s, 2.5 s waiting: 7.0 s asleep, the backstop of a 2 s limit: ended."""
    watched = Watched(used=0.5, waited=2.5)
    job = running(2.0, 990.0)
    job.deadline = 1000.0
    watched.check_cpu(job, 1000.0)
    [(error, seconds)] = watched.failed
    assert error.startswith("timeout (sleep backstop: 7.0 s asleep, 2.5 s waiting") and seconds == 0.5


def test_waited_reads_the_child_s_run_queue_only_when_it_can() -> None:
    """The real `Watchdog.waited`: None without a starting reading or without a child; with both, the
    run-queue wait since the reading (never negative), or None if the kernel does not say."""
    dog = watchdog.Watchdog(
        {},
        Watched(used=0.0),
        scratch_root="/nonexistent",
        scratch_base=(0, 0),
        scratch_share=1,
        scratch_budget=1,
        nice=os.getpriority(os.PRIO_PROCESS, 0),
    )
    job = running(2.0, time.monotonic())
    job.child.pid = os.getpid()
    job.waits_start = None
    assert dog.waited(job) is None
    job.waits_start = {}
    gone = running(2.0, time.monotonic())
    gone.child, gone.waits_start = None, {}
    assert dog.waited(gone) is None
    if not clock.schedstat_available():
        assert dog.waited(job) is None
        return
    since_start = dog.waited(job)
    assert isinstance(since_start, float) and since_start >= 0.0
    job.waits_start = dict.fromkeys(os.listdir(f"/proc/{os.getpid()}/task"), 1 << 62)
    assert dog.waited(job) == 0.0  # every thread waited less than the (impossible) starting reading


def test_wake_of_a_held_job_is_an_hour_away() -> None:
    """Phases are compared by value (a phase read from a message is not the interned literal)."""
    job = JobState(id=1, header={}, bodies=[], phase=fresh("held"), deadline=0.0)
    before = time.monotonic()
    woken = wake(job)
    assert before + 3600.0 <= woken <= time.monotonic() + 3600.0


def _private(held: dict[str, int], monkeypatch: pytest.MonkeyPatch, budget: int) -> Any:
    def use(path: str) -> tuple[int, int]:
        if path == "broken":
            raise OSError("gone")
        return (1, held.get(path, 0))

    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", use)
    monkeypatch.setattr(watchdog, "time", FixedClock(100.0))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_budget = "/nonexistent", 1 << 40, budget
    watched.scratch_base, watched.next_scratch_check = (1 << 62, 1 << 62), 0.0
    return watched


def test_children_holding_exactly_the_budget_are_all_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    held = {"a": 60 << 20, "b": 40 << 20, "broken": 0}
    watched = _private(held, monkeypatch, 100 << 20)
    watched.jobs = {
        i: JobState(id=i, header={}, bodies=[], phase="run", child=child(name, private=True))
        for i, name in enumerate(held)
    }
    watched.check_scratch()
    assert watched.gone == [] and watched.sent == []
    assert watched.next_scratch_check == 100.0 + watchdog.SCRATCH_CHECK  # measuring took no time here


def test_of_equal_holders_the_later_job_is_ended_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two children holding 60 MiB each against a budget of 100 MiB: one goes, the one with the larger
    job id (whatever order the job table lists them in); a shared-scratch child is not counted."""
    held = {"x": 60 << 20, "y": 60 << 20}
    watched = _private(held, monkeypatch, 100 << 20)
    watched.jobs = {
        7: JobState(id=7, header={}, bodies=[], phase="run", child=child("y", private=True)),
        3: JobState(id=3, header={}, bodies=[], phase="run", child=child("x", private=True)),
        5: JobState(id=5, header={}, bodies=[], phase="run", child=child("/nonexistent")),
        6: JobState(id=6, header={}, bodies=[], phase="run"),
    }
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [7]
    assert watched.sent == [
        {
            "op": "event",
            "id": 7,
            "kind": "scratch-quota",
            "detail": watched.gone[0][1],
            "from": "zygote",
        }
    ]


def test_a_child_at_exactly_its_share_and_file_count_is_kept(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared-scratch walk ends a child holding more than its share or more files than allowed;
    exactly the share and exactly the file count are allowed. Children with a tmpfs of their own, and
    job entries without a child, are not walked."""
    few = 5
    monkeypatch.setattr(watchdog, "SCRATCH_FILES", few)
    usage = {"files": (few, 10), "bytes": (1, 4096), "private": (few + 1, 1 << 30)}
    monkeypatch.setattr(watchdog.scratch_space, "usage", lambda path, limit: usage[path])
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: (1 << 40, 1 << 40))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_budget = "/nonexistent", 4096, 1 << 62
    watched.scratch_base, watched.next_scratch_check = (0, 0), 0.0
    watched.jobs = {
        1: JobState(id=1, header={}, bodies=[], phase="run", child=child("files")),
        2: JobState(id=2, header={}, bodies=[], phase="run", child=child("bytes")),
        3: JobState(id=3, header={}, bodies=[], phase="run", child=child("private", private=True)),
        4: JobState(id=4, header={}, bodies=[], phase="run"),
    }
    watched.check_scratch()
    assert watched.gone == []
    usage["files"], usage["bytes"] = (few + 1, 10), (1, 4097)
    watched.next_scratch_check = 0.0
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [1, 2]


def test_within_one_share_nobody_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first look (one statfs) is all: 5 entries and 5 bytes over the base, share and file count far
    above, so no child's directory is walked."""
    walked: list[str] = []
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: (1005, 2005))
    monkeypatch.setattr(watchdog.scratch_space, "usage", lambda path, limit: walked.append(path) or (0, 0))
    watched = Watched(used=0.0)
    watched.scratch_root, watched.scratch_share, watched.scratch_base = "/nonexistent", 4096, (1000, 2000)
    watched.next_scratch_check = 0.0
    watched.jobs = {0: JobState(id=0, header={}, bodies=[], phase="run", child=child("mine"))}
    watched.check_scratch()
    assert walked == [] and watched.gone == []


def test_wake_reads_a_running_call_s_next_check_whatever_string_says_run() -> None:
    now = time.monotonic()
    job = running(2.0, now, backstop_in=50.0)
    job.phase = fresh("run")
    job.next_check = now + 1
    assert wake(job) == now + 1


def test_a_fresh_watchdog_looks_at_the_scratch_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even at a clock reading below one second: nothing has been measured yet, so nothing waits."""
    looked: list[str] = []
    monkeypatch.setattr(watchdog, "time", FixedClock(0.5))
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: looked.append(path) or (0, 0))
    dog = watchdog.Watchdog(
        {},
        Watched(used=0.0),
        scratch_root="/root-of-scratch",
        scratch_base=(0, 0),
        scratch_share=1,
        scratch_budget=1,
        nice=0,
    )
    dog.check_scratch()
    assert looked == ["/root-of-scratch"]


def test_the_host_hears_of_any_later_deadline_even_a_short_one() -> None:
    watched = Watched(used=0.0)
    job = running(2.0, 1000.0, backstop_in=10.0)
    watched.postpone(job, 1010.5, 1000.0, 1.0)
    assert watched.sent == [{"op": "waited", "id": 1, "secs": 0.5}] and job.deadline == 1010.5


@pytest.mark.parametrize("phase", ["setup", "done"])
def test_wake_of_a_setup_or_finished_job_is_its_deadline(phase: str) -> None:
    """Only a held job sleeps an hour (phases are not ordered: "done" sorts before "held")."""
    job = JobState(id=1, header={}, bodies=[], phase=fresh(phase), deadline=123.0, cpu_start=0.0)
    assert wake(job) == 123.0


def test_a_job_not_yet_due_does_not_end_the_look_at_the_jobs_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """check_deadlines passes over a job whose deadline is still ahead and goes on to the next one."""
    monkeypatch.setattr(watchdog, "time", FixedClock(500.0))
    watched = Watched(used=0.0)
    ahead = JobState(id=1, header={}, bodies=[], phase="run", deadline=600.0, started=499.0, child=child())
    due = JobState(id=2, header={}, bodies=[], phase="run", deadline=500.0, started=498.0, child=child())
    watched.jobs = {1: ahead, 2: due}
    watched.check_deadlines()
    assert watched.reaped_ids == [2] and watched.failed == [("timeout", 2.0)]


def test_an_unreadable_child_scratch_does_not_end_the_budget_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child whose tmpfs cannot be measured (listed first) is passed over: the children after it are
    still measured, and the one holding the most goes when together they are over the budget."""
    held = {"broken": 0, "a": 70 << 20, "b": 40 << 20}
    watched = _private(held, monkeypatch, 100 << 20)
    watched.jobs = {
        i: JobState(id=i, header={}, bodies=[], phase="run", child=child(name, private=True))
        for i, name in enumerate(held)
    }
    watched.check_scratch()
    assert [job_id for job_id, _ in watched.gone] == [1]


def test_the_shared_scratch_walk_goes_past_private_children_and_says_the_share_in_mib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child with a tmpfs of its own (listed first) is not walked, and does not stop the walk: the
    shared-scratch child after it, over its 256 MiB share, is ended with the share in the reason. The
    walk's own duration (none, on a fixed clock) is what postpones the next look, not the clock's
    reading: the next look is SCRATCH_CHECK later."""
    monkeypatch.setattr(watchdog, "time", FixedClock(1000.0))
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: (1 << 40, 1 << 40))
    monkeypatch.setattr(watchdog.scratch_space, "usage", lambda path, limit: (1, (256 << 20) + 1))
    watched = Watched(used=0.0)
    watched.scratch_base, watched.next_scratch_check = (0, 0), 0.0
    watched.jobs = {
        1: JobState(id=1, header={}, bodies=[], phase="run", child=child("own", private=True)),
        2: JobState(id=2, header={}, bodies=[], phase="run", child=child("shared")),
    }
    watched.scratch_budget = 1 << 62
    watched.check_scratch()
    why = f"scratch quota exceeded: more than {watchdog.SCRATCH_FILES} files or 256 MiB"
    assert watched.gone == [(2, why)]
    assert watched.next_scratch_check == 1000.0 + watchdog.SCRATCH_CHECK


def test_the_scratch_is_looked_at_when_its_time_comes_not_after(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[str] = []
    monkeypatch.setattr(watchdog, "time", FixedClock(100.0))
    monkeypatch.setattr(watchdog.scratch_space, "filesystem_use", lambda path: looked.append(path) or (0, 0))
    watched = Watched(used=0.0)
    watched.next_scratch_check = 100.25
    watched.check_scratch()
    assert looked == []
    watched.next_scratch_check = 100.0
    watched.check_scratch()
    assert looked == ["/nonexistent"] and watched.next_scratch_check == 100.0 + watchdog.SCRATCH_CHECK
