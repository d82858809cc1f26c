"""The zygote: a pre-started, trusted process (inside bubblewrap) that forks one confined child per job.

It imports numpy and common modules once, builds the seccomp filter once, and then multiplexes many jobs
at the same time with a single poll loop over its host pipe and every child's pipes (messages carry a job
id). That is essential: improver jobs wait minutes on remote calls and trigger nested jobs that must not
wait for a free worker. The zygote never runs generated code itself. It feeds instances one at a time,
measures each from sending the input to receiving the output, kills a child's process group on timeout
and continues the remaining instances in a fresh child. Inputs and outputs are forwarded as raw frames,
never decoded here.

This module is the loop and the host channel, and it wires three collaborators, one concept each, that
share only the job table: `brood.Brood` (the zygote's bookkeeping of its children: forking, feeding,
reading and reaping them, the poll set and descriptors, the buffer budget), `jobflow.JobFlow` (a job's
instances, routing what its child sends: results, events, remote calls) and `watchdog.Watchdog`
(deadlines, CPU time, scratch quota). `child` is the code that runs in a child, after the fork.

Run as: python -I -S -c "import sys; sys.path[:0] = [INSIDE, SITE]; import zygote; zygote.main()" CONFIG
"""

from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import resource
import select
import signal
import sys
import time
from typing import Any

import confine
import frames
import libthreads
import preload
import scratch as scratch_space
import wire
from brood import READ_CHUNK, Brood, vm_size
from clock import schedstat_available
from jobflow import JobFlow
from jobstate import JobState
from watchdog import SCRATCH_CHECK, SCRATCH_SHARE, Watchdog, wake

HOST_CAP = 1 << 30
MEMORY_HEADROOM = 3 << 30  # the zygote's own soft address-space limit above its preloaded size


class Zygote:
    """The poll loop, the host channel and the job table, shared by the collaborators it wires."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.jobs: dict[int, JobState] = {}
        self.host_reader = frames.FrameReader(HOST_CAP)
        scratch_root = config["scratch_root"]
        share = min(SCRATCH_SHARE, scratch_space.filesystem_size(scratch_root) // 4)
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        self.brood = Brood(config, self.jobs, share, self._misbehaved, self._forget_host)
        self.flow = JobFlow(self.jobs, self.brood, self.send_host, config.get("shared_dir"), nice)
        self.watchdog = Watchdog(
            self.jobs,
            self.flow,
            scratch_root=scratch_root,
            scratch_base=scratch_space.filesystem_use(scratch_root),
            scratch_share=share,
            # What the children's own scratch tmpfs may hold together (tmpfs pages count against no rlimit).
            scratch_budget=scratch_space.filesystem_size(scratch_root),
            nice=nice,
        )

    def _misbehaved(self, job: JobState, why: str) -> None:
        """A child broke a rule of the brood's (unread input, buffers): the flow ends it like any violation."""
        self.flow.protocol_violation(job, why)

    def _forget_host(self) -> None:
        """In a fresh child: drop the host's partial frames (other jobs' data) before generated code runs."""
        self.host_reader = frames.FrameReader(1)

    # ---------------------------------------------------------------- host

    def send_host(self, header: dict[str, Any], bodies: list[bytes] = (), /) -> None:  # type: ignore[assignment]
        try:
            frames.write_all(1, frames.pack_message(header, bodies))
        except BrokenPipeError:
            self.shutdown()  # the host is gone

    def on_host_message(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        op = header.get("op")
        if op == "job":
            self.flow.start_job(header, bodies)
        elif op == "cancel":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.flow.finish(job)
        elif op == "go":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.flow.release(job, header.get("upto"))
        elif op == "rpc_result":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.flow.call_answered(job, header.get("req"))
            if job is not None and job.child is not None:
                reply = {"t": "rpc_result", "req": header.get("req")}
                if "error" in header:
                    reply["error"] = header["error"]
                self.brood.feed_child(job, frames.pack_message(reply, bodies))

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            self.brood.reap(job)
        sys.exit(0)

    def run(self) -> None:
        os.set_blocking(0, False)
        self.brood.poll.register(0, select.POLLIN)  # the host's pipe, beside the children's
        self.send_host(
            {
                "op": "hello",
                "pid": os.getpid(),
                "landlock_abi": self.brood.layers.landlock_abi,
                "seccomp": self.brood.filter is not None,
                "uid_drop": self.brood.uid_base is not None and os.geteuid() == 0,
                "baseline_mb": self.brood.baseline >> 20,
                "schedstat": schedstat_available(),
            }
        )
        while True:
            timeout = None
            if self.jobs:
                nearest = min((wake(j) for j in self.jobs.values() if j.child is not None), default=None)
                if nearest is not None:
                    timeout = max(0, int((nearest - time.monotonic()) * 1000) + 1)
                    timeout = min(timeout, int(SCRATCH_CHECK * 1000))
            try:
                ready = self.brood.poll.poll(timeout)
            except InterruptedError:
                ready = []
            for fd, mask in ready:
                self.on_ready(fd, mask)
            self.watchdog.check_deadlines()
            self.watchdog.check_scratch()

    def on_ready(self, fd: int, mask: int) -> None:
        if fd == 0:
            try:
                data = os.read(0, READ_CHUNK)
            except BlockingIOError:
                return
            if not data:
                self.shutdown()
            self.host_reader.feed(data)
            del data  # not left in this frame for a child forked below to find
            for header, bodies in self.host_reader.messages():
                self.on_host_message(header, bodies)
            return
        entry = self.brood.owner(fd)
        if entry is None:
            return
        job, role = entry
        if role == "input":
            if job.child is not None:
                self.brood.flush_child(job.child)
        elif role in ("stdout", "stderr"):
            if not self.brood.drain(job, fd, role):
                self.brood.unwatch(fd)
                if job.child is not None:
                    setattr(job.child, "out_r" if role == "stdout" else "err_r", None)
        else:
            self.on_ctrl(job, fd)

    def on_ctrl(self, job: JobState, fd: int) -> None:
        kid = job.child
        if kid is None or kid.ctrl_r != fd:
            return
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                self.flow.child_gone(job)
            return
        if not data:
            self.flow.child_gone(job)
            return
        kid.reader.feed(data)
        try:
            messages = kid.reader.messages()
        except wire.WireError as exc:
            self.flow.protocol_violation(job, str(exc))
            return
        self.brood.enforce_buffer_budget()
        for header, bodies in messages:
            if job.child is not kid:
                break  # the child was replaced or the job ended while handling an earlier message
            self.flow.on_child_message(job, header, bodies)


def main() -> None:
    config = json.loads(sys.argv[1])
    import ctypes

    ctypes.CDLL(None).prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # weak mode: die with the host
    # A child that closes its end of a pipe must cost only its own job: writes to it fail with EPIPE
    # (handled per child) instead of killing the zygote. Children restore the default in `confine`.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    flags = fcntl.fcntl(1, fcntl.F_GETFD)
    fcntl.fcntl(1, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # four pipes per concurrent child
    preload.preload()
    libthreads.find_setters()  # numpy's BLAS, loaded above with one thread; a child may ask for more
    # A soft limit of its own, above what any child may take (children set theirs, soft = hard, in
    # `confine`): a runaway buffer fails the zygote with MemoryError, not the machine.
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = vm_size() + MEMORY_HEADROOM
    resource.setrlimit(
        resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )
    # BLAS/malloc settings were read at import; children get the job environment of `confine`.
    os.environ.clear()
    zygote = Zygote(config)
    gc.collect()
    gc.freeze()  # keep the preloaded heap shared with children (fewer copy-on-write faults)
    zygote.run()


if __name__ == "__main__":
    main()
