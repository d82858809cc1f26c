"""The brood: the zygote's bookkeeping of its children. Fork and confine one, feed it, read it, reap it.

`child.py` is the other side (the code that runs in the fork after `confine`); `jobstate.Child` is the
record kept here per process. The brood owns the poll set the zygote's loop waits on and every
descriptor registered in it (which job and role each belongs to), the uid slots, the confinement
settings each child gets, the bytes queued for a child with the descriptors to pass along them, and the
budget on everything the zygote buffers for its children: hostile children must not be able to make the
zygote hold unbounded memory, nor make an honest neighbour fail in their place.

It knows nothing of a job's course (instances, results, remote calls): when a child breaks a rule of
the brood's (unread input, buffers), it says so through the `misbehaved` callback it was given.

Stdlib only (runs in the zygote); imported as a top-level module with `inside/` first on sys.path.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
from collections.abc import Callable
from typing import Any

import child as child_side
import confine
import frames
import landlock
import scratch as scratch_space
import seccomp
from jobstate import Child, JobState, describe_status
from watchdog import SCRATCH_FILES

READ_CHUNK = 1 << 20
CHILD_BODIES = 1  # a child's messages carry at most one body (a result or a call's arguments)
BUFFER_BUDGET = 96 << 20  # all children's partial messages and unread input; over it the largest holders fail
PENDING_CAP = 80 << 20  # data for one child it has not read yet (instance inputs, remote-call answers)
UIDS_PER_ZYGOTE = 1000


def vm_size() -> int:
    """The zygote's address space now (its preloaded size): a child's memory limit is counted above it."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 << 20


class Brood:
    """Forking, feeding, draining and reaping the children of one zygote, and the poll set over their pipes.

    `jobs` is the zygote's job table (shared, read here: whose child holds what); `misbehaved(job, why)`
    is called when a job's child breaks a rule of the brood's, to end that child; `forget_in_child()`
    runs in every fresh fork, so what the zygote holds for the host is dropped before generated code runs.
    """

    def __init__(
        self,
        config: dict[str, Any],
        jobs: dict[int, JobState],
        scratch_share: int,
        misbehaved: Callable[[JobState, str], None],
        forget_in_child: Callable[[], None],
    ) -> None:
        self.config = config
        self.cap = int(config["child_cap"])
        self.output_cap = int(config["output_cap"])
        self.scratch_root: str = config["scratch_root"]
        self.scratch_share = scratch_share
        self.jobs = jobs
        self.misbehaved = misbehaved
        self.forget_in_child = forget_in_child
        self.fds: dict[
            int, tuple[JobState, str]
        ] = {}  # every watched descriptor of a child: its job and role
        self.poll = select.poll()  # the zygote's loop waits on this (it registers the host's fd 0 itself)
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
        self.baseline = vm_size() + (96 << 20)

    def owner(self, fd: int) -> tuple[JobState, str] | None:
        """The job and role ("ctrl", "input", "stdout", "stderr") of a watched descriptor."""
        return self.fds.get(fd)

    def watch(self, fd: int, job: JobState, role: str, mask: int = select.POLLIN) -> None:
        os.set_blocking(fd, False)
        self.fds[fd] = (job, role)
        self.poll.register(fd, mask)

    def unwatch(self, fd: int | None) -> None:
        if fd is None:
            return
        if self.fds.pop(fd, None) is not None:
            self.poll.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def spawn(self, job: JobState) -> str | None:
        """Fork a fresh confined child for `job` (the source is defined again in it) and watch its pipes.

        Returns why not if the machine refuses (no free uid slot, fds or memory); the caller ends the job.
        """
        if not self.free_slots:
            return "sandbox worker has too many children"
        slot = self.free_slots.pop()
        job.spawned += 1
        scratch = os.path.join(self.scratch_root, f"j{job.id}-{job.spawned}")
        fds: list[int] = []
        ruleset: int | None = None
        private = False
        try:
            os.mkdir(scratch, 0o700)
            uid = self.uid_base + slot if self.uid_base is not None else None
            if uid is not None:
                os.chown(scratch, uid, uid)
            if uid is not None and self.layers.strict:
                # Its share of scratch as a tmpfs of its own; where the kernel refuses, the quota walk
                # over the shared scratch stays the bound (`watchdog.check_scratch`).
                private = scratch_space.mount_tmpfs(scratch, uid, self.scratch_share, SCRATCH_FILES + 1)
            if self.layers.landlock_abi:
                # A ruleset built fresh for this child: read-only paths plus its own scratch dir (the
                # root of its tmpfs, mounted above) and nothing else of /scratch, so chmod 0777 on a
                # scratch dir opens no channel to others.
                ruleset, _ = landlock.build_ruleset(
                    self.layers.read_only, [scratch], self.layers.landlock_abi
                )
                fds.append(ruleset)
            # The zygote-to-child channel is a unix socket, so each call can carry the descriptors of
            # its own shared input files (the child cannot open the shared directory itself).
            to_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            fds.extend(end.detach() for end in to_child)
            for _ in range(3):
                fds.extend(os.pipe())
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            if private:
                scratch_space.unmount(scratch)
            scratch_space.remove_tree(scratch)
            self.free_slots.append(slot)
            return f"sandbox could not start a child: {exc}"
        pipes = fds[1:] if ruleset is not None else fds
        p2c, c2p, out, err = (
            (pipes[0], pipes[1]),
            (pipes[2], pipes[3]),
            (pipes[4], pipes[5]),
            (pipes[6], pipes[7]),
        )
        if pid == 0:  # the child: never returns into the zygote loop
            self._become_child(job, uid, scratch, (p2c[0], c2p[1], out[1], err[1]), ruleset)
        for fd in (p2c[0], c2p[1], out[1], err[1]):
            os.close(fd)
        if ruleset is not None:
            os.close(ruleset)
        job.child = Child(
            pid,
            p2c[1],
            c2p[0],
            out[0],
            err[0],
            slot,
            scratch,
            frames.FrameReader(self.cap, frames.HEADER_CAP, CHILD_BODIES),
            private=private,
        )
        self.watch(c2p[0], job, "ctrl")
        self.watch(out[0], job, "stdout")
        self.watch(err[0], job, "stderr")
        self.watch(p2c[1], job, "input", 0)
        self.link_peer(job)
        return None

    def link_peer(self, job: JobState) -> None:
        """A socket between the new child of `job` and the child of the job its header names as `peer`
        (the host asks it for an OpenEvolve candidate's process beside its evaluator's), each end passed
        to its child in a `peer` message (`child.take_peer` there). Why: each call of the evaluator into
        the candidate then costs one exchange between the two children instead of four trips through the
        host. Only the host links jobs; if the peer is gone, there is no socket and they use the host.
        """
        peer = job.header.get("peer")
        other = self.jobs.get(peer) if type(peer) is int else None
        if other is None or other is job or other.child is None or job.child is None:
            return
        try:
            ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:
            return
        for side, end in ((job, ends[0]), (other, ends[1])):
            fd = end.detach()
            kid = side.child
            if kid is None:
                os.close(fd)
                continue
            self.feed_child(side, frames.pack_message({"t": "peer", "fds": ["peer"], "job": job.id}))
            if side.child is kid:
                kid.marks.append([len(kid.pending), [fd]])
                self.flush_child(kid)
            else:
                os.close(fd)

    def _become_child(
        self,
        job: JobState,
        uid: int | None,
        scratch: str,
        ends: tuple[int, int, int, int],
        ruleset: int | None,
    ) -> None:
        rfd, wfd, out, err = ends
        code = 70
        try:
            header = job.header
            # The program must not find other jobs' data, nor its own later instances, in the memory it
            # inherited (gc.get_objects, frames): drop every reference (the zygote's copies are untouched).
            for other in list(self.jobs.values()):
                other.bodies.clear()
                if other is not job:
                    other.header.clear()
            self.jobs.clear()  # this fork's copies: the zygote's table and descriptors are untouched
            self.fds.clear()
            self.forget_in_child()
            memory = int(header["memory_mb"]) << 20
            limits = confine.Limits(
                cpu_seconds=int(header["cpu_seconds"]), address_space=self.baseline + memory
            )
            layers = confine.Layers(
                uid=uid,
                landlock_abi=self.layers.landlock_abi,
                seccomp_filter=self.filter,
                read_only=self.layers.read_only,
                strict=self.layers.strict,
                landlock_ruleset=ruleset,
                environment=self.layers.environment,
                library_threads=int(header.get("library_threads", 1)),
            )
            try:
                confine.confine((rfd, wfd), out, err, scratch, limits, layers)
            except Exception as exc:
                msg = f"sandbox layer failed: {type(exc).__name__}: {exc}"
                frames.write_all(child_side.CTRL_OUT, frames.pack_message({"t": "setup_error", "msg": msg}))
                return
            child_side.serve(
                header["source"],
                header["entry"],
                header.get("proxies", []),
                self.config.get("shared_dir"),
                scratch,
                self.layers.read_only,
                self.cap,
                header.get("setup_seed"),
            )
        except BaseException:
            code = 71
        finally:
            os._exit(code)

    def reap(self, job: JobState) -> str:
        """Kill the job's child (its whole process group), collect its output, wipe its scratch."""
        kid = job.child
        if kid is None:
            return ""
        job.child = None
        self._drop_marks(kid)
        with contextlib.suppress(OSError):
            os.killpg(kid.pid, signal.SIGKILL)
        _, status = os.waitpid(kid.pid, 0)
        for fd, role in ((kid.out_r, "stdout"), (kid.err_r, "stderr")):
            if fd is not None and fd in self.fds:
                self.drain(job, fd, role)
        for fd in (kid.ctrl_r, kid.ctrl_w, kid.out_r, kid.err_r):
            self.unwatch(fd)
        if kid.private:
            scratch_space.unmount(kid.scratch)  # its pages go back at once, hidden files included
        else:
            scratch_space.remove_scratch(kid.scratch)
        self.free_slots.append(kid.slot)
        return describe_status(status)

    def drain(self, job: JobState, fd: int, role: str) -> bool:
        """Read what the child wrote to stdout/stderr, keeping at most `output_cap` bytes. False at EOF."""
        buf = job.stdout if role == "stdout" else job.stderr
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            room = self.output_cap - len(buf)
            if room > 0:
                buf += data[:room]

    def feed_child(self, job: JobState, data: bytes) -> None:
        kid = job.child
        if kid is None:
            return
        kid.pending += data
        self.flush_child(kid)
        if len(kid.pending) > PENDING_CAP:
            self.misbehaved(job, f"the child does not read its input ({len(kid.pending)} bytes unread)")

    def _send_fds(self, kid: Child) -> None:
        """Pass the descriptors due at this point of the stream (one marker byte carries them)."""
        _, fds = kid.marks[0]
        with socket.socket(fileno=kid.ctrl_w) as sock:
            try:
                socket.send_fds(sock, [b"F"], fds)
            finally:
                sock.detach()
        kid.marks.pop(0)
        for fd in fds:
            os.close(fd)

    @staticmethod
    def _drop_marks(kid: Child) -> None:
        for _, fds in kid.marks:
            for fd in fds:
                os.close(fd)
        kid.marks.clear()

    def buffered(self) -> int:
        """Bytes held for all children: partial messages from them and data not yet written to them."""
        return sum(
            len(j.child.pending) + j.child.reader.buffered for j in self.jobs.values() if j.child is not None
        )

    def enforce_buffer_budget(self) -> None:
        """Over BUFFER_BUDGET, fail the children holding the most bytes until the rest fit.

        Why the largest holders and not the child whose bytes just arrived: hostile children can park
        partial messages just under the per-message cap and wait; the next honest child whose answer
        spans two reads would otherwise be the one to fail, again and again.
        """
        while (total := self.buffered()) > BUFFER_BUDGET:
            held, job = max(
                ((len(j.child.pending) + j.child.reader.buffered, j) for j in self.jobs.values() if j.child),
                key=lambda pair: pair[0],
            )
            self.misbehaved(
                job,
                f"the sandbox worker's buffers are full ({total} bytes of {BUFFER_BUDGET >> 20} MiB); "
                f"this child holds the most: {held} bytes",
            )

    def pause_reading(self, kid: Child, paused: bool) -> None:
        """Stop (or resume) reading the child's control pipe: the back-pressure of `jobflow.pace_child`."""
        if kid.ctrl_r not in self.fds:
            return
        if paused != kid.paused:
            kid.paused = paused
            self.poll.modify(kid.ctrl_r, 0 if paused else select.POLLIN)

    def flush_child(self, kid: Child) -> None:
        try:
            while kid.pending or kid.marks:
                if kid.marks and kid.marks[0][0] == 0:
                    self._send_fds(kid)
                    continue
                limit = kid.marks[0][0] if kid.marks else len(kid.pending)
                written = os.write(kid.ctrl_w, memoryview(kid.pending)[:limit])
                del kid.pending[:written]
                for mark in kid.marks:
                    mark[0] -= written
        except BlockingIOError:
            pass
        except OSError:
            kid.pending.clear()  # the child is gone; its ctrl pipe will report EOF
            self._drop_marks(kid)
        if kid.ctrl_w in self.fds:
            self.poll.modify(kid.ctrl_w, select.POLLOUT if kid.pending or kid.marks else 0)
