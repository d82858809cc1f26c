"""The zygote: a pre-started, trusted process (inside bubblewrap) that forks one confined child per job.

It imports numpy and common modules once, builds the seccomp filter once, and then multiplexes many jobs
at the same time with a single poll loop over its host pipe and every child's pipes (messages carry a job
id). That is essential: improver jobs wait minutes on remote calls and trigger nested jobs that must not
wait for a free worker. The zygote never runs generated code itself. It feeds instances one at a time,
measures each from sending the input to receiving the output, kills a child's process group on timeout
and continues the remaining instances in a fresh child. Inputs and outputs are forwarded as raw frames,
never decoded here.

Run as: python -I -S -c "import sys; sys.path[:0] = [INSIDE, SITE]; import zygote; zygote.main()" CONFIG
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import re
import resource
import select
import signal
import socket
import sys
import time
from typing import Any

import child as child_side
import confine
import landlock
import preload
import scratch as scratch_space
import seccomp
import wire
from clock import CORES, MIN_CHECK, backstop, cpu_seconds
from jobstate import Child, JobState, describe_status

READ_CHUNK = 1 << 20
HOST_CAP = 1 << 30
MAX_EVENTS_PER_JOB = 100
MAX_EVENTS_PER_KIND = 16
_EVENT_KIND = re.compile(r"[a-z][a-z0-9-]{0,47}")
MAX_REQUEST_ID = 1 << 53
CHILD_BODIES = 1  # a child's messages carry at most one body (a result or a call's arguments)
RPC_BODY_CAP = 4 << 20  # one remote call's arguments: a 200k-character program or a 400k-character prompt fit
BUFFER_BUDGET = 96 << 20  # all children's partial messages and unread input; over it the largest holders fail
PENDING_CAP = 80 << 20  # data for one child it has not read yet (instance inputs, remote-call answers)
MEMORY_HEADROOM = 3 << 30  # the zygote's own soft address-space limit above its preloaded size
UIDS_PER_ZYGOTE = 1000
SCRATCH_CHECK = 0.1  # seconds between measurements of the running children's scratch
SCRATCH_FILES = 10_000  # entries one child may keep in its scratch (each costs unaccounted kernel memory)
SCRATCH_SHARE = 256 << 20  # bytes one child may keep there (at most a quarter of the filesystem)


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 << 20


class Zygote:
    """The poll loop and the job table."""

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
        )
        self.baseline = _vm_size() + (96 << 20)
        self.next_scratch_check = 0.0
        self.scratch_base = scratch_space.filesystem_use(self.scratch_root)
        self.scratch_share = min(SCRATCH_SHARE, scratch_space.filesystem_size(self.scratch_root) // 4)

    # ---------------------------------------------------------------- plumbing

    def send_host(self, header: dict[str, Any], bodies: list[bytes] = ()) -> None:  # type: ignore[assignment]
        try:
            wire.write_all(1, wire.pack_message(header, bodies))
        except BrokenPipeError:
            self.shutdown()  # the host is gone

    def _watch(self, fd: int, job: JobState, role: str, mask: int = select.POLLIN) -> None:
        os.set_blocking(fd, False)
        self.fds[fd] = (job, role)
        self.poll.register(fd, mask)

    def _unwatch(self, fd: int | None) -> None:
        if fd is None:
            return
        if self.fds.pop(fd, None) is not None:
            self.poll.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    # ---------------------------------------------------------------- children

    def spawn(self, job: JobState) -> None:
        """Fork a fresh confined child for `job` (the source is defined again in it).

        If the machine refuses (no free uid slot, fds or memory), the job ends with that reason.
        """
        if not self.free_slots:
            self.finish(job, "sandbox worker has too many children")
            return
        slot = self.free_slots.pop()
        job.spawned += 1
        scratch = os.path.join(self.scratch_root, f"j{job.id}-{job.spawned}")
        fds: list[int] = []
        ruleset: int | None = None
        try:
            os.mkdir(scratch, 0o700)
            uid = self.uid_base + slot if self.uid_base is not None else None
            if uid is not None:
                os.chown(scratch, uid, uid)
            if self.layers.landlock_abi:
                # A ruleset built fresh for this child: read-only paths plus its own scratch dir and
                # nothing else of /scratch, so chmod 0777 on a scratch dir opens no channel to others.
                ruleset, _ = landlock.build_ruleset(self.layers.read_only, [scratch], self.layers.landlock_abi)
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
            remove_tree(scratch)
            self.free_slots.append(slot)
            self.finish(job, f"sandbox could not start a child: {exc}")
            return
        pipes = fds[1:] if ruleset is not None else fds
        p2c, c2p, out, err = (pipes[0], pipes[1]), (pipes[2], pipes[3]), (pipes[4], pipes[5]), (pipes[6], pipes[7])
        if pid == 0:  # the child: never returns into the zygote loop
            self._become_child(job, uid, scratch, (p2c[0], c2p[1], out[1], err[1]), ruleset)
        for fd in (p2c[0], c2p[1], out[1], err[1]):
            os.close(fd)
        if ruleset is not None:
            os.close(ruleset)
        job.child = Child(
            pid, p2c[1], c2p[0], out[0], err[0], slot, scratch, wire.FrameReader(self.cap, wire.HEADER_CAP, CHILD_BODIES)
        )
        self._watch(c2p[0], job, "ctrl")
        self._watch(out[0], job, "stdout")
        self._watch(err[0], job, "stderr")
        self._watch(p2c[1], job, "input", 0)
        job.phase = "setup"
        job.deadline = time.monotonic() + float(job.header["setup_timeout"])

    def _become_child(
        self, job: JobState, uid: int | None, scratch: str, ends: tuple[int, int, int, int], ruleset: int | None
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
            self.jobs, self.fds, self.host_reader = {}, {}, wire.FrameReader(1)
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
            )
            try:
                confine.confine((rfd, wfd), out, err, scratch, limits, layers)
            except Exception as exc:
                msg = f"sandbox layer failed: {type(exc).__name__}: {exc}"
                wire.write_all(child_side.CTRL_OUT, wire.pack_message({"t": "setup_error", "msg": msg}))
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
                self._drain(job, fd, role)
        for fd in (kid.ctrl_r, kid.ctrl_w, kid.out_r, kid.err_r):
            self._unwatch(fd)
        _remove_scratch(kid.scratch)
        self.free_slots.append(kid.slot)
        return describe_status(status)

    def _drain(self, job: JobState, fd: int, role: str) -> bool:
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
        self._flush_child(kid)
        if len(kid.pending) > PENDING_CAP:
            self.protocol_violation(
                job, f"the child does not read its input ({len(kid.pending)} bytes unread)"
            )

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
            self.protocol_violation(
                job,
                f"the sandbox worker's buffers are full ({total} bytes of {BUFFER_BUDGET >> 20} MiB); "
                f"this child holds the most: {held} bytes",
            )

    def _flush_child(self, kid: Child) -> None:
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

    # ---------------------------------------------------------------- job flow

    def start_job(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        job = JobState(int(header["id"]), header, bodies)
        self.jobs[job.id] = job
        if not bodies:
            self.finish(job)
            return
        self.spawn(job)

    def next_instance(self, job: JobState) -> None:
        if job.next_i >= len(job.bodies):
            self.finish(job)
            return
        job.phase = "run"
        limit = float(job.header["timeout"])
        job.started = time.monotonic()
        if job.header.get("clock") == "cpu" and job.child is not None:
            # Limited and measured by the child's own CPU clock (all its threads), read here: machine
            # load and this loop's own delays cannot change a score. The wall clock is only a backstop
            # against programs that sleep or block instead of computing.
            job.cpu_start = cpu_seconds(job.child.pid)
            job.deadline = job.started + backstop(limit)
            job.next_check = job.started + limit / CORES
        else:
            job.cpu_start = None
            job.deadline = job.next_check = job.started + limit
        # A fresh nonce per call: an answer must echo it, so a child cannot queue answers in advance
        # for instances it has not read yet.
        job.nonce = os.urandom(8).hex()
        call: dict[str, Any] = {"t": "call", "n": job.nonce}
        seeds = job.header.get("seeds")
        if isinstance(seeds, list) and job.next_i < len(seeds):
            call["s"] = seeds[job.next_i]
        names, fds = self.open_inputs(job)
        if names:
            call["fds"] = names
        self.feed_child(job, wire.pack_message(call, [job.bodies[job.next_i]]))
        if fds and job.child is not None:
            job.child.marks.append([len(job.child.pending), fds])
            self._flush_child(job.child)
        else:
            for fd in fds:
                os.close(fd)

    def open_inputs(self, job: JobState) -> tuple[list[str], list[int]]:
        """Open this instance's shared input files, and only them, to pass to the child with the call."""
        files = job.header.get("files")
        if not isinstance(files, list) or job.next_i >= len(files):
            return [], []
        names: list[str] = []
        fds: list[int] = []
        for name in files[job.next_i]:
            if not isinstance(name, str) or "/" in name or name.startswith("."):
                continue
            try:
                fds.append(os.open(os.path.join(self.config["shared_dir"], name), os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                continue
            names.append(name)
        return names, fds

    def elapsed(self, job: JobState) -> float:
        """The current call's time: the child's CPU seconds for cpu-clock jobs, else wall seconds."""
        if job.cpu_start is not None and job.child is not None:
            used = cpu_seconds(job.child.pid)
            if used is not None:
                return max(0.0, used - job.cpu_start)
        return time.monotonic() - job.started

    def instance_failed(self, job: JobState, error: str, seconds: float) -> None:
        """Report instance `next_i` as failed and go on with the rest in a fresh child."""
        self.send_host({"op": "result", "id": job.id, "i": job.next_i, "secs": seconds, "error": error})
        job.next_i += 1
        if job.next_i < len(job.bodies):
            self.spawn(job)
        else:
            self.finish(job)

    def finish(self, job: JobState, error: str | None = None) -> None:
        """End the job: reap its child, send captured output; `error` explains unfinished instances."""
        self.reap(job)
        self.jobs.pop(job.id, None)
        job.phase = "done"
        done = {
            "op": "done",
            "id": job.id,
            "stdout": job.stdout.decode("utf-8", "replace"),
            "stderr": job.stderr.decode("utf-8", "replace"),
        }
        if error is not None:
            done["error"] = error
        self.send_host(done)

    def on_child_message(self, job: JobState, header: dict[str, Any], bodies: list[bytes]) -> None:
        kind = header.get("t")
        if kind == "event":
            self.child_event(job, header)
        elif kind == "rpc" and len(bodies) == 1 and _request_id(header.get("req")) and len(bodies[0]) > RPC_BODY_CAP:
            # A per-call error, answered here: the host never holds or decodes an oversized call.
            why = f"remote call of {len(bodies[0])} bytes exceeds the cap of {RPC_BODY_CAP}"
            self.send_host({"op": "event", "id": job.id, "kind": "rpc-too-large", "detail": why, "from": "zygote"})
            self.feed_child(job, wire.pack_message({"t": "rpc_result", "req": header["req"], "error": why}))
        elif kind == "rpc" and len(bodies) == 1 and _request_id(header.get("req")):
            self.send_host(
                {
                    "op": "rpc",
                    "id": job.id,
                    "req": header["req"],
                    "proxy": wire.safe_text(header.get("proxy"), 64),
                    "method": wire.safe_text(header.get("method"), 64),
                },
                bodies,
            )
        elif kind == "ready" and job.phase == "setup":
            self.next_instance(job)
        elif kind == "setup_error" and job.phase == "setup":
            self.send_host({"op": "setup", "id": job.id, "error": wire.safe_text(header.get("msg"), 4000)})
            self.finish(job)
        elif kind in ("result", "error") and job.phase == "run" and header.get("n") == job.nonce:
            seconds = self.elapsed(job)
            if job.cpu_start is not None and seconds > float(job.header["timeout"]):
                self.reap(job)
                self.instance_failed(job, "timeout", seconds)
                return
            if kind == "result" and len(bodies) == 1:
                self.send_host({"op": "result", "id": job.id, "i": job.next_i, "secs": seconds}, bodies)
            else:
                error = wire.safe_text(header.get("msg"), 4000)
                self.send_host(
                    {"op": "result", "id": job.id, "i": job.next_i, "secs": seconds, "error": error}
                )
            job.next_i += 1
            self.next_instance(job)
        else:
            self.protocol_violation(
                job, f"unexpected message {wire.safe_text(kind, 40)!r} in phase {job.phase}"
            )

    def child_event(self, job: JobState, header: dict[str, Any]) -> None:
        """Relay an event the child reports, labelled as the sandbox's word and capped per kind.

        The kind must look like one of ours (lowercase words and dashes) or it is relayed as `other`;
        at most MAX_EVENTS_PER_KIND of a kind and MAX_EVENTS_PER_JOB in all, so a flood can neither
        fill the host's record nor push out the events the zygote and host report themselves.
        """
        kind = header.get("kind")
        kind = kind if isinstance(kind, str) and _EVENT_KIND.fullmatch(kind) else "other"
        seen = job.event_counts.get(kind, 0)
        total = sum(job.event_counts.values())
        if seen >= MAX_EVENTS_PER_KIND or total >= MAX_EVENTS_PER_JOB:
            return
        job.event_counts[kind] = seen + 1
        detail = wire.safe_text(header.get("detail"), 500)
        self.send_host({"op": "event", "id": job.id, "kind": kind, "detail": detail, "from": "sandbox"})

    def protocol_violation(self, job: JobState, why: str) -> None:
        detail = wire.safe_text(why, 300)
        self.send_host(
            {"op": "event", "id": job.id, "kind": "protocol-violation", "detail": detail, "from": "zygote"}
        )
        self.child_gone(job, f"protocol violation: {why}"[:300])

    def child_gone(self, job: JobState, why: str | None = None) -> None:
        """The child died, closed its pipe or misbehaved: fail the current step and go on."""
        seconds = self.elapsed(job)
        status = self.reap(job)
        reason = why or f"crashed: {status}"
        if job.phase == "setup":
            self.send_host({"op": "setup", "id": job.id, "error": f"{reason} (during setup)"})
            self.finish(job)
        elif job.phase == "run":
            self.instance_failed(job, reason, seconds)

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
                self.reap(job)
                limit = job.header["setup_timeout"]
                self.send_host({"op": "setup", "id": job.id, "error": f"timeout during setup ({limit} s)"})
                self.finish(job)
            elif job.phase == "run":
                seconds = now - job.started
                self.reap(job)
                self.instance_failed(job, "timeout", seconds)

    def check_scratch(self) -> None:
        """End the child that keeps more than its share of the scratch space (see `scratch.py`)."""
        now = time.monotonic()
        if now < self.next_scratch_check:
            return
        self.next_scratch_check = now + SCRATCH_CHECK
        entries, used = scratch_space.filesystem_use(self.scratch_root)
        if entries - self.scratch_base[0] <= SCRATCH_FILES and used - self.scratch_base[1] <= self.scratch_share:
            return  # all children together hold less than one share: nobody is over (one syscall)
        for job in list(self.jobs.values()):
            kid = job.child
            if kid is None:
                continue
            entries, used = scratch_space.usage(kid.scratch, SCRATCH_FILES)
            if entries > SCRATCH_FILES or used > self.scratch_share:
                share = self.scratch_share >> 20
                why = f"scratch quota exceeded: more than {SCRATCH_FILES} files or {share} MiB"
                event = {"op": "event", "id": job.id, "kind": "scratch-quota", "detail": why, "from": "zygote"}
                self.send_host(event)
                self.child_gone(job, why)
        # The walks cost the loop that serves every job: children that each stay just under their share
        # must not keep it busy, so walking takes at most a tenth of the zygote's time.
        spent = time.monotonic() - now
        self.next_scratch_check = max(self.next_scratch_check, now + 10 * spent)

    def check_cpu(self, job: JobState, now: float) -> None:
        """A cpu-clock call: over its CPU limit, or past the wall backstop, it times out."""
        limit = float(job.header["timeout"])
        used = self.elapsed(job)
        if used >= limit:
            self.reap(job)
            self.instance_failed(job, "timeout", used)
        elif now >= job.deadline:
            self.reap(job)
            wall = now - job.started
            why = f"timeout (wall-clock backstop: {wall:.1f} s waited for {used:.2f} s of CPU)"
            self.instance_failed(job, why, used)
        else:
            # CPU time grows at most CORES times as fast as the wall clock: look again no earlier than needed.
            job.next_check = min(job.deadline, now + max(MIN_CHECK, (limit - used) / CORES))

    # ---------------------------------------------------------------- host

    def on_host_message(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        op = header.get("op")
        if op == "job":
            self.start_job(header, bodies)
        elif op == "cancel":
            job = self.jobs.get(int(header["id"]))
            if job is not None:
                self.finish(job)
        elif op == "rpc_result":
            job = self.jobs.get(int(header["id"]))
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
            }
        )
        while True:
            timeout = None
            if self.jobs:
                nearest = min((_wake(j) for j in self.jobs.values() if j.child is not None), default=None)
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
                self._flush_child(job.child)
        elif role in ("stdout", "stderr"):
            if not self._drain(job, fd, role):
                self._unwatch(fd)
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


def _wake(job: JobState) -> float:
    if job.phase == "run" and job.cpu_start is not None:
        return min(job.next_check, job.deadline)
    return job.deadline


def _request_id(value: Any) -> bool:
    """A remote call's id: a plain non-negative int below 2**53 (anything else is a forgery)."""
    return type(value) is int and 0 <= value < MAX_REQUEST_ID


def _remove_scratch(path: str) -> None:
    """Wipe a child's scratch dir; most programs write nothing, so try the one-syscall case first."""
    try:
        os.rmdir(path)
    except OSError:
        remove_tree(path)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str) -> None:
    """Delete a directory tree without recursion and with one open directory at a time.

    Why not `shutil.rmtree`: a program can build a tree thousands of levels deep (recursion depth) whose
    paths exceed PATH_MAX. This walks by file descriptor: names are resolved relative to the current
    directory's fd, never as long paths, and it climbs back with "..". It runs after the child's process
    group is dead, and never follows symlinks, so nothing can move the tree under it. Best effort: what
    cannot be removed is left (the scratch tmpfs is per zygote).
    """
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return
    # One entry per level below `path`: (this directory's name in its parent, subdirectories still to visit).
    stack: list[tuple[str, list[str]]] = [("", _clear_files(fd))]
    try:
        while stack:
            _name, todo = stack[-1]
            if todo:
                sub = todo.pop()
                try:
                    child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                os.close(fd)
                fd = child
                stack.append((sub, _clear_files(fd)))
                continue
            stack.pop()
            if not stack:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            with contextlib.suppress(OSError):
                os.rmdir(_name, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _clear_files(fd: int) -> list[str]:
    """Unlink every non-directory in the directory `fd`; return the names of its subdirectories."""
    subdirs: list[str] = []
    try:
        names = os.listdir(fd)
    except OSError:
        return subdirs
    for name in names:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if (st.st_mode & 0o170000) == 0o040000:
                subdirs.append(name)
            else:
                os.unlink(name, dir_fd=fd)
        except OSError:
            continue
    return subdirs


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
    os.environ.clear()  # BLAS/malloc settings were read at import; children start from an empty environment
    zygote = Zygote(config)
    gc.collect()
    gc.freeze()  # keep the preloaded heap shared with children (fewer copy-on-write faults)
    zygote.run()


if __name__ == "__main__":
    main()
