"""The zygote's watch over running children: setup and call deadlines, CPU time, scratch quota.

Run once per turn of the poll loop. A cpu-clock call is measured by the child's own CPU time (`clock`),
looked at no earlier than needed; the wall clock is only a backstop. Scratch: in strong mode each child
has a tmpfs of its own capped at its share by the kernel, and the children of one zygote together may
hold the zygote's budget (1 GiB); past it, the children holding the most are ended until the rest fit
(so an idle child holds nothing, and an honest child never fails because others reserved space they do
not use). Where children share one scratch filesystem (weak mode), the one holding more than its share
is ended (`scratch`). Both checks cost the loop that serves every job, so both are bounded in how often
they run.

It decides when a child is past a limit; what that means for the job (a failed instance, a fresh
child, the job's end) is the job flow's, reached through the `Flow` it is given.

Stdlib only (runs in the zygote); imported as a top-level module with `inside/` first on sys.path.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import scratch as scratch_space
from clock import CORES, MIN_CHECK, backstop, hard_cap, waited_since
from jobstate import JobState

SCRATCH_CHECK = 0.1  # seconds between measurements of the running children's scratch
SCRATCH_FILES = 10_000  # entries one child may keep in its scratch (each costs unaccounted kernel memory)
SCRATCH_SHARE = 256 << 20  # bytes one child may keep there (at most a quarter of the filesystem)


class Flow(Protocol):
    """What the watchdog asks of the job flow (`jobflow.JobFlow`) when a child is past a limit."""

    def send_host(self, header: dict[str, Any], bodies: list[bytes] = ..., /) -> None: ...

    def reap(self, job: JobState) -> str: ...

    def finish(self, job: JobState, error: str | None = None) -> None: ...

    def elapsed(self, job: JobState) -> float: ...

    def instance_failed(self, job: JobState, error: str, seconds: float) -> None: ...

    def child_gone(self, job: JobState, why: str | None = None) -> None: ...


class Watchdog:
    """Deadlines, CPU-time limits and the scratch quota of running children.

    `jobs` is the zygote's job table (shared); `scratch_base` is what the scratch filesystem held before
    any child (entries, bytes); `scratch_share` what one child may keep; `scratch_budget` what the
    children's own tmpfs may hold together (tmpfs pages count against no rlimit); `nice` the zygote's
    own nice value (a child's thread below it gets no credit for waiting).
    """

    def __init__(
        self,
        jobs: dict[int, JobState],
        flow: Flow,
        *,
        scratch_root: str,
        scratch_base: tuple[int, int],
        scratch_share: int,
        scratch_budget: int,
        nice: int,
    ) -> None:
        self.jobs = jobs
        self.flow = flow
        self.scratch_root = scratch_root
        self.scratch_base = scratch_base
        self.scratch_share = scratch_share
        self.scratch_budget = scratch_budget
        self.nice = nice
        self.next_scratch_check = 0.0

    def check_deadlines(self) -> None:
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.child is None:
                continue
            if job.phase == "run" and job.cpu_start is not None and now >= job.next_check:
                self.check_cpu(job, now)
            elif now < job.deadline:
                continue
            elif job.phase == "setup":
                self.flow.reap(job)
                limit = job.header["setup_timeout"]
                self.flow.send_host(
                    {"op": "setup", "id": job.id, "error": f"timeout during setup ({limit} s)"}
                )
                self.flow.finish(job)
            elif job.phase == "run":
                seconds = now - job.started
                self.flow.reap(job)
                self.flow.instance_failed(job, "timeout", seconds)

    def check_scratch(self) -> None:
        """End the children that keep more scratch than they may (see `scratch.py`)."""
        now = time.monotonic()
        if now < self.next_scratch_check:
            return
        self.next_scratch_check = now + SCRATCH_CHECK
        # The measurements cost the loop that serves every job: children that each stay just under
        # their share must not keep it busy, so measuring takes at most a tenth of the zygote's time
        # (ending children is not measuring: it must not put off the next look).
        spent = self._check_private_scratch() + self._check_shared_scratch()
        self.next_scratch_check = max(self.next_scratch_check, now + 10 * spent)

    def _check_private_scratch(self) -> float:
        """Over the budget in all, end the children holding the most until the rest fit.

        Why the largest holders and not the newest: a child's tmpfs takes memory only as it is written,
        so space is never reserved; the ones that wrote the most are the ones that spent the budget.
        Returns the seconds spent measuring.
        """
        started = time.monotonic()
        held = []
        for job in self.jobs.values():
            kid = job.child
            if kid is not None and kid.private:
                try:
                    held.append((scratch_space.filesystem_use(kid.scratch)[1], job.id, job))
                except OSError:
                    continue
        spent = time.monotonic() - started
        total = sum(used for used, _, _ in held)
        held.sort(key=lambda item: item[:2])
        while total > self.scratch_budget and held:
            used, _, job = held.pop()
            why = (
                f"the sandbox worker's scratch budget is spent ({total >> 20} MiB of "
                f"{self.scratch_budget >> 20} MiB held by its children); this child holds the most: "
                f"{used >> 20} MiB"
            )
            total -= used
            self.flow.send_host(
                {"op": "event", "id": job.id, "kind": "scratch-quota", "detail": why, "from": "zygote"}
            )
            self.flow.child_gone(job, why)
        return spent

    def _check_shared_scratch(self) -> float:
        """End the child that keeps more than its share of the shared scratch filesystem; returns the
        seconds spent measuring."""
        started = time.monotonic()
        entries, used = scratch_space.filesystem_use(self.scratch_root)
        if (
            entries - self.scratch_base[0] <= SCRATCH_FILES
            and used - self.scratch_base[1] <= self.scratch_share
        ):
            return time.monotonic() - started  # all children together hold less than one share (one syscall)
        spent = time.monotonic() - started
        for job in list(self.jobs.values()):
            kid = job.child
            if kid is None or kid.private:
                continue
            walk = time.monotonic()
            entries, used = scratch_space.usage(kid.scratch, SCRATCH_FILES)
            spent += time.monotonic() - walk
            if entries > SCRATCH_FILES or used > self.scratch_share:
                share = self.scratch_share >> 20
                why = f"scratch quota exceeded: more than {SCRATCH_FILES} files or {share} MiB"
                event = {
                    "op": "event",
                    "id": job.id,
                    "kind": "scratch-quota",
                    "detail": why,
                    "from": "zygote",
                }
                self.flow.send_host(event)
                self.flow.child_gone(job, why)
        return spent

    def check_cpu(self, job: JobState, now: float) -> None:
        """A cpu-clock call: over its CPU limit, or asleep past the backstop, it times out.

        The backstop counts sleep, not wall time: wall time minus the call's CPU time minus the time
        its threads waited on a run queue (/proc schedstat). A starved call on a busy machine is not
        asleep, so load alone never ends it; its deadline moves on, and the host is told by how much
        (its own deadline for the job moves as well). Without schedstat, the wall clock as before.
        """
        limit = float(job.header["timeout"])
        used = self.flow.elapsed(job)
        if used >= limit:
            self.flow.reap(job)
            self.flow.instance_failed(job, "timeout", used)
        elif now >= job.deadline:
            wall = now - job.started
            waited = self.waited(job)
            if waited is None:
                why = f"timeout (wall-clock backstop: {wall:.1f} s waited for {used:.2f} s of CPU)"
            else:
                slept = wall - used - waited
                cap = job.started + hard_cap(limit)
                if slept < backstop(limit) and now < cap:
                    self.postpone(job, min(cap, now + backstop(limit) - slept), now, limit - used)
                    return
                why = (
                    f"timeout (sleep backstop: {max(slept, 0.0):.1f} s asleep, {waited:.1f} s waiting for "
                    f"a core, {wall:.1f} s wall for {used:.2f} s of CPU)"
                )
            self.flow.reap(job)
            self.flow.instance_failed(job, why, used)
        else:
            # CPU time grows at most CORES times as fast as the wall clock: look again no earlier than needed.
            job.next_check = min(job.deadline, now + max(MIN_CHECK, (limit - used) / CORES))

    def waited(self, job: JobState) -> float | None:
        """Seconds the current call's threads waited for a core (None: the kernel does not say)."""
        if job.waits_start is None or job.child is None:
            return None
        return waited_since(job.child.pid, job.waits_start, self.nice)

    def postpone(self, job: JobState, deadline: float, now: float, cpu_left: float) -> None:
        """Move a starved call's backstop to `deadline`, and the host's deadline of the job with it."""
        extra = deadline - job.deadline
        job.deadline = deadline
        job.next_check = min(deadline, now + max(MIN_CHECK, cpu_left / CORES))
        if extra > 0:
            self.flow.send_host({"op": "waited", "id": job.id, "secs": extra})


def wake(job: JobState) -> float:
    if job.phase == "held":
        return time.monotonic() + 3600.0  # nothing to time until the host's verdict arrives
    if job.phase == "run" and job.cpu_start is not None:
        return min(job.next_check, job.deadline)
    return job.deadline
