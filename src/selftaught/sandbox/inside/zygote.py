"""The zygote: a pre-started, trusted process (inside bubblewrap) that forks one confined child per job.

It imports numpy and common modules once, builds the seccomp filter once, and then multiplexes many jobs
at the same time with a single poll loop over its host pipe and every child's pipes (messages carry a job
id). That is essential: improver jobs wait minutes on remote calls and trigger nested jobs that must not
wait for a free worker. The zygote never runs generated code itself. It feeds instances one at a time,
measures each from sending the input to receiving the output, kills a child's process group on timeout
and continues the remaining instances in a fresh child. Inputs and outputs are forwarded as raw frames,
never decoded here.

This module is the loop and the host channel; the rest is split by concept into `children` (forking,
feeding and reaping children, the buffer budget), `jobflow` (a job's instances, routing what its child
sends: results, events, remote calls) and `watchdog` (deadlines, CPU time, scratch quota).

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
import landlock
import preload
import scratch as scratch_space
import seccomp
import wire
from children import READ_CHUNK, UIDS_PER_ZYGOTE, Children
from clock import schedstat_available
from jobflow import JobFlow
from jobstate import JobState
from watchdog import SCRATCH_CHECK, SCRATCH_SHARE, Watchdog, wake

HOST_CAP = 1 << 30
MEMORY_HEADROOM = 3 << 30  # the zygote's own soft address-space limit above its preloaded size


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 << 20


class Zygote(JobFlow, Watchdog, Children):
    """The poll loop, the host channel and the job table.

    The rest of its behaviour lives in three mixins, one concept each: `children.Children` (forking,
    feeding and reaping children, buffer budget), `jobflow.JobFlow` (a job's instances and the routing
    of its child's messages) and `watchdog.Watchdog` (deadlines, CPU time, scratch quota).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.cap = int(config["child_cap"])
        self.output_cap = int(config["output_cap"])
        self.scratch_root = config["scratch_root"]
        self.jobs: dict[int, JobState] = {}
        self.fds: dict[int, tuple[JobState, str]] = {}
        self.poll = select.poll()
        self.host_reader = wire.FrameReader(HOST_CAP)
        self.free_slots = list(range(UIDS_PER_ZYGOTE - 1, -1, -1))
        self.filter = (
            seccomp.Prepared(seccomp.build_filter()) if config["seccomp"] and seccomp.supported() else None
        )
        abi = landlock.abi_version() if config["landlock"] else 0
        uid_base = config.get("uid_base")
        self.uid_base = (
            int(uid_base) if uid_base is not None else None  # a block locked for this zygote (sandbox.uids)
        )
        self.layers = confine.Layers(
            uid=None,
            landlock_abi=abi,
            seccomp_filter=self.filter,
            # Children never get the shared-inputs directory: each call brings its own files (open_inputs).
            read_only=[path for path in config["read_only"] if path != config.get("shared_dir")],
            strict=bool(config["strict"]),
            environment={str(k): str(v) for k, v in config.get("environment", {}).items()},
        )
        self.baseline = _vm_size() + (96 << 20)
        self.next_scratch_check = 0.0
        self.nice = os.getpriority(os.PRIO_PROCESS, 0)
        self.scratch_base = scratch_space.filesystem_use(self.scratch_root)
        self.scratch_share = min(SCRATCH_SHARE, scratch_space.filesystem_size(self.scratch_root) // 4)
        # What the children's own scratch tmpfs may hold together (tmpfs pages count against no rlimit).
        self.scratch_budget = scratch_space.filesystem_size(self.scratch_root)

    # ---------------------------------------------------------------- host

    def send_host(self, header: dict[str, Any], bodies: list[bytes] = ()) -> None:  # type: ignore[assignment]
        try:
            wire.write_all(1, wire.pack_message(header, bodies))
        except BrokenPipeError:
            self.shutdown()  # the host is gone

    def on_host_message(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        op = header.get("op")
        if op == "job":
            self.start_job(header, bodies)
        elif op == "cancel":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.finish(job)
        elif op == "go":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.release(job, header.get("upto"))
        elif op == "rpc_result":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.call_answered(job, header.get("req"))
            if job is not None and job.child is not None:
                reply = {"t": "rpc_result", "req": header.get("req")}
                if "error" in header:
                    reply["error"] = header["error"]
                self.feed_child(job, wire.pack_message(reply, bodies))

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            self.reap(job)
        sys.exit(0)

    def run(self) -> None:
        os.set_blocking(0, False)
        self.poll.register(0, select.POLLIN)
        self.send_host(
            {
                "op": "hello",
                "pid": os.getpid(),
                "landlock_abi": self.layers.landlock_abi,
                "seccomp": self.filter is not None,
                "uid_drop": self.uid_base is not None and os.geteuid() == 0,
                "baseline_mb": self.baseline >> 20,
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
                ready = self.poll.poll(timeout)
            except InterruptedError:
                ready = []
            for fd, mask in ready:
                self.on_ready(fd, mask)
            self.check_deadlines()
            self.check_scratch()

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
        entry = self.fds.get(fd)
        if entry is None:
            return
        job, role = entry
        if role == "input":
            if job.child is not None:
                self.flush_child(job.child)
        elif role in ("stdout", "stderr"):
            if not self.drain(job, fd, role):
                self.unwatch(fd)
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
                self.child_gone(job)
            return
        if not data:
            self.child_gone(job)
            return
        kid.reader.feed(data)
        try:
            messages = kid.reader.messages()
        except wire.WireError as exc:
            self.protocol_violation(job, str(exc))
            return
        self.enforce_buffer_budget()
        for header, bodies in messages:
            if job.child is not kid:
                break  # the child was replaced or the job ended while handling an earlier message
            self.on_child_message(job, header, bodies)


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
    # A soft limit of its own, above what any child may take (children set theirs, soft = hard, in
    # `confine`): a runaway buffer fails the zygote with MemoryError, not the machine.
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = _vm_size() + MEMORY_HEADROOM
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
