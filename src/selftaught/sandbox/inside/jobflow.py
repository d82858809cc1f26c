"""A job's course through the zygote: its instances one at a time, and what its child says.

Sends instance i+1 only after the child answered instance i, timing each call from sending the input to
receiving the output; routes each message of the child (a result, an error, an event, a remote call) to
the host after checking it fits the phase, the nonce and the caps; and turns any failure of a child
(crash, timeout, protocol violation) into a failed instance followed by a fresh child for the rest.
Whatever a child sends is hostile: nothing here raises on it, and only capped, sanitised text reaches
the host.

Its collaborators are explicit: the zygote's job table, the `brood.Brood` that forks, feeds and reaps
the children, and `send_host` (the zygote's channel to the host).

Stdlib only (runs in the zygote); imported as a top-level module with `inside/` first on sys.path.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Protocol

import frames
import wire
from brood import Brood
from clock import CORES, backstop, cpu_seconds, run_queue_waits
from jobstate import JobState

MAX_EVENTS_PER_JOB = 100
MAX_EVENTS_PER_KIND = 16
_EVENT_KIND = re.compile(r"[a-z][a-z0-9-]{0,47}")
MAX_REQUEST_ID = 1 << 53
# CPU seconds of a child's set-up not charged to its first call: our start-up code (confinement, the
# runner) takes ~3 ms; the rest is the program's module-level code, charged like the call itself.
SETUP_ALLOWANCE = 0.02
RPC_BODY_CAP = 4 << 20  # one remote call's arguments: a 200k-character program or a 400k-character prompt fit
# A job's remote calls forwarded to the host and not answered yet: over either, the zygote stops reading
# the child's pipe (the child blocks in its write) until answers come back, so what the host holds for a
# job's calls is bounded whatever the host's handler is (threaded or inline) and however fast the child
# writes. A child's own threads are capped at 64, so honest programs never wait here.
RPC_WINDOW_CALLS = 128
RPC_WINDOW_BYTES = 64 << 20


class SendHost(Protocol):
    """The zygote's channel to the host: one message, a header and its raw bodies."""

    def __call__(self, header: dict[str, Any], bodies: list[bytes] = ..., /) -> None: ...


class JobFlow:
    """Starting, advancing and ending jobs, and routing their children's messages.

    `nice` is the zygote's own nice value: a child's thread below it gets no credit for waiting.
    """

    def __init__(
        self,
        jobs: dict[int, JobState],
        brood: Brood,
        send_host: SendHost,
        shared_dir: str | None,
        nice: int,
    ) -> None:
        self.jobs = jobs
        self.brood = brood
        self.send_host = send_host
        self.shared_dir = shared_dir
        self.nice = nice

    def spawn(self, job: JobState) -> None:
        """A fresh child for `job`, in its set-up phase; if the machine refuses one, the job ends saying why."""
        refused = self.brood.spawn(job)
        if refused is not None:
            self.finish(job, refused)
            return
        job.phase = "setup"
        job.deadline = time.monotonic() + float(job.header["setup_timeout"])
        self.pace_child(job)

    def reap(self, job: JobState) -> str:
        """Kill the job's child and collect it (`brood.Brood.reap`); how it ended, in words."""
        return self.brood.reap(job)

    def pace_child(self, job: JobState) -> None:
        """Read the child's control pipe only while the job's remote-call window has room.

        Not reading is the back-pressure: the child's next write blocks once the pipe is full, so a
        child forging calls faster than the host answers them waits instead of piling them up anywhere.
        """
        if job.child is not None:
            self.brood.pause_reading(job.child, self.window_full(job))

    def start_job(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        job = JobState(int(header["id"]), header, bodies)
        held = header.get("held")
        job.held = held if type(held) is int and 0 <= held <= len(bodies) else 0
        self.jobs[job.id] = job
        if not bodies:
            self.finish(job)
            return
        self.spawn(job)

    def next_instance(self, job: JobState) -> None:
        if job.next_i >= len(job.bodies):
            self.finish(job)
            return
        if not job.may_send():
            job.phase = "held"  # until the host's verdict on the instance before (`release`)
            return
        job.phase = "run"
        limit = float(job.header["timeout"])
        job.started = time.monotonic()
        if job.header.get("clock") == "cpu" and job.child is not None:
            # Limited and measured by the child's own CPU clock (all its threads), read here: machine
            # load and this loop's own delays cannot change a score. The wall clock is only a backstop
            # against programs that sleep or block instead of computing.
            job.cpu_start = cpu_seconds(job.child.pid)
            if job.child.calls == 0 and job.cpu_start is not None:
                # The child's clock started at the fork: its set-up (the program's module-level code)
                # counts toward its first call, beyond a small allowance for our own start-up code, so
                # work done at import time is not free time.
                job.cpu_start = min(job.cpu_start, SETUP_ALLOWANCE)
            job.waits_start = run_queue_waits(job.child.pid, self.nice)
            job.deadline = job.started + backstop(limit)
            job.next_check = job.started + limit / CORES
        else:
            job.cpu_start = None
            job.deadline = job.next_check = job.started + limit
        # A fresh nonce per call: an answer must echo it, so a child cannot queue answers in advance
        # for instances it has not read yet.
        if job.child is not None:
            job.child.calls += 1
        job.nonce = os.urandom(8).hex()
        call: dict[str, Any] = {"t": "call", "n": job.nonce}
        seeds = job.header.get("seeds")
        if isinstance(seeds, list) and job.next_i < len(seeds):
            call["s"] = seeds[job.next_i]
        names, fds = self.open_inputs(job)
        if names:
            call["fds"] = names
        self.brood.feed_child(job, frames.pack_message(call, [job.bodies[job.next_i]]))
        if fds and job.child is not None:
            job.child.marks.append([len(job.child.pending), fds])
            self.brood.flush_child(job.child)
        else:
            for fd in fds:
                os.close(fd)

    def open_inputs(self, job: JobState) -> tuple[list[str], list[int]]:
        """Open this instance's shared input files, and only them, to pass to the child with the call."""
        files = job.header.get("files")
        if not isinstance(files, list) or job.next_i >= len(files) or self.shared_dir is None:
            return [], []
        names: list[str] = []
        fds: list[int] = []
        for name in files[job.next_i]:
            if not isinstance(name, str) or "/" in name or name.startswith("."):
                continue
            try:
                fds.append(os.open(os.path.join(self.shared_dir, name), os.O_RDONLY | os.O_CLOEXEC))
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
        if job.next_i >= len(job.bodies):
            self.finish(job)
        elif job.may_send():
            self.spawn(job)
        else:
            job.phase = "held"  # no fresh child (and no setup to pay) before the host says go on

    def release(self, job: JobState, upto: Any) -> None:
        """The host's verdict: instances up to `upto` may be sent (it stops a job by cancelling it)."""
        if type(upto) is not int:
            return
        job.released = max(job.released, upto + 1)
        if job.phase != "held" or not job.may_send():
            return
        if job.child is None:
            self.spawn(job)
        else:
            self.next_instance(job)

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
        elif (
            kind == "rpc"
            and len(bodies) == 1
            and request_id(header.get("req"))
            and len(bodies[0]) > RPC_BODY_CAP
        ):
            # A per-call error, answered here: the host never holds or decodes an oversized call.
            why = f"remote call of {len(bodies[0])} bytes exceeds the cap of {RPC_BODY_CAP}"
            self.refuse_call(job, header["req"], "rpc-too-large", why)
        elif kind == "rpc" and len(bodies) == 1 and request_id(header.get("req")):
            req, size = header["req"], len(bodies[0])
            if req in job.rpc_out:
                self.refuse_call(job, req, "rpc-flood", f"request id {req} is already in flight")
                return
            if len(job.rpc_out) >= RPC_WINDOW_CALLS or job.rpc_out_bytes + size > RPC_WINDOW_BYTES:
                # Only messages read together with the one that filled the window get here.
                why = f"more than {RPC_WINDOW_CALLS} remote calls or {RPC_WINDOW_BYTES >> 20} MiB in flight"
                self.refuse_call(job, req, "rpc-flood", why)
                return
            job.rpc_out[req] = size
            job.rpc_out_bytes += size
            self.send_host(
                {
                    "op": "rpc",
                    "id": job.id,
                    "req": header["req"],
                    "proxy": wire.safe_text(header.get("proxy"), 64),
                    "method": wire.safe_text(header.get("method"), 64),
                    # the instance being timed when the call came (-1: none, e.g. module-level code)
                    "i": job.next_i if job.phase == "run" else -1,
                },
                bodies,
            )
            self.pace_child(job)
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

    def refuse_call(self, job: JobState, req: int, kind: str, why: str) -> None:
        """Answer a remote call here with an error (a per-call failure): the host never sees it.

        The event telling the host is capped like the child's own, so a stream of refused calls cannot
        become a stream of messages to the host.
        """
        if self.count_event(job, kind):
            self.send_host({"op": "event", "id": job.id, "kind": kind, "detail": why, "from": "zygote"})
        self.brood.feed_child(job, frames.pack_message({"t": "rpc_result", "req": req, "error": why}))

    def call_answered(self, job: JobState, req: Any) -> None:
        """The host answered remote call `req`: it leaves the job's window (reading may resume)."""
        size = job.rpc_out.pop(req, None) if isinstance(req, int) else None
        if size is not None:
            job.rpc_out_bytes -= size
            self.pace_child(job)

    @staticmethod
    def window_full(job: JobState) -> bool:
        return len(job.rpc_out) >= RPC_WINDOW_CALLS or job.rpc_out_bytes + RPC_BODY_CAP > RPC_WINDOW_BYTES

    @staticmethod
    def count_event(job: JobState, kind: str) -> bool:
        """Whether one more event of `kind` fits the job's caps (and count it if so)."""
        seen = job.event_counts.get(kind, 0)
        if seen >= MAX_EVENTS_PER_KIND or sum(job.event_counts.values()) >= MAX_EVENTS_PER_JOB:
            return False
        job.event_counts[kind] = seen + 1
        return True

    def child_event(self, job: JobState, header: dict[str, Any]) -> None:
        """Relay an event the child reports, labelled as the sandbox's word and capped per kind.

        The kind must look like one of ours (lowercase words and dashes) or it is relayed as `other`;
        at most MAX_EVENTS_PER_KIND of a kind and MAX_EVENTS_PER_JOB in all, so a flood can neither
        fill the host's record nor push out the events the zygote and host report themselves.
        """
        kind = header.get("kind")
        kind = kind if isinstance(kind, str) and _EVENT_KIND.fullmatch(kind) else "other"
        if not self.count_event(job, kind):
            return
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


def request_id(value: Any) -> bool:
    """A remote call's id: a plain non-negative int below 2**53 (anything else is a forgery)."""
    return type(value) is int and 0 <= value < MAX_REQUEST_ID
