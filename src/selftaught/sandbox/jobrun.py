"""`JobRun`: the host's record of one job while it runs, and the budgets that bound what it holds.

A job's results, events and remote calls arrive as messages from its zygote, on several threads (the
zygote's reader, the pool's collecting thread, one thread per remote call). This record is the one place
they meet, so every cap on what one job may make the host hold (its outputs, its calls in flight, the
events the sandbox reports) is enforced here, whichever thread the message came on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from selftaught.sandbox.held import Budget, held_size
from selftaught.sandbox.inside import wire
from selftaught.sandbox.job import InstanceResult, Job, JobResult, Proxy, SandboxEvent, Verdict
from selftaught.sandbox.jobmessage import held_count
from selftaught.sandbox.worker import Message, ZygoteDied, ZygoteProcess

log = logging.getLogger("selftaught.sandbox")
MAX_RPC_IN_FLIGHT = 128  # per job; a child's own threads are capped at 64, so only a forger hits this
# Per job, as held in the host: calls not answered yet (encoded while queued, decoded while served); the
# zygote's window (inside/jobflow.RPC_WINDOW_*) keeps the queued part under the same figure.
MAX_RPC_BYTES_IN_FLIGHT = 64 << 20
# Per job, as held in the host: the outputs of all its instances together, encoded while they wait to be
# decoded, then at their decoded size (held.held_size), which is what stays until the job is judged.
MAX_JOB_OUTPUT_BYTES = 256 << 20
OUTPUT_TOO_LARGE = (
    f"output too large: the job's outputs exceed {MAX_JOB_OUTPUT_BYTES >> 20} MiB in all (as held in memory)"
)
MAX_CHILD_EVENTS_PER_KIND = 16
MAX_CHILD_EVENTS = 100


class JobRun:
    """Book-keeping of one job while it runs (results arrive as messages from the zygote)."""

    def __init__(self, job: Job, proxies: dict[str, Proxy]) -> None:
        self.job = job
        self.proxies = proxies
        self.results: list[InstanceResult | None] = [None] * len(job.instances)
        self.events: list[SandboxEvent] = []
        self.events_lock = threading.Lock()
        self.setup_error: str | None = None
        self.stdout = ""
        self.stderr = ""
        self.unfinished = "killed: job timeout"
        self.rpc_in_flight = 0
        self.rpc_bytes = Budget(MAX_RPC_BYTES_IN_FLIGHT)  # arguments of the calls in flight, as held
        self.outputs = Budget(MAX_JOB_OUTPUT_BYTES)  # outputs received so far, as held
        self.decoding = threading.Lock()  # one call's arguments decoded at a time: one transient copy
        self.child_events: dict[str, int] = {}
        # Set once the last instance has answered: the program has returned, so calls still arriving
        # from threads it left behind are refused (they would spend budget for nothing anyone reads).
        self.returned = False
        self.files: list[list[str]] = []  # per instance: its shared input files (passed as fds in its turn)
        # The instances the zygote holds until the host's verdict on the one before (job.gate); 0 once
        # the gate released the rest. `stopped` says why the gate ended the job early.
        self.held = held_count(job)
        self.stopped: str | None = None

    def add_event(self, kind: str, detail: str, reported_by: str = "host") -> None:
        """Record an event; the sandbox's own reports are capped per kind and in all, the host's never."""
        with self.events_lock:
            if reported_by == "sandbox":
                seen = self.child_events.get(kind, 0)
                if seen >= MAX_CHILD_EVENTS_PER_KIND or sum(self.child_events.values()) >= MAX_CHILD_EVENTS:
                    return
                self.child_events[kind] = seen + 1
            self.events.append(SandboxEvent(kind, detail, reported_by))

    def admit(self, message: Message) -> Message:
        """Run by the zygote's reader thread as each message arrives: an output that does not fit the
        job's budget loses its bodies there, so it is never queued, decoded or kept."""
        header, bodies = message
        if header.get("op") != "result" or not bodies:
            return message
        if self.outputs.reserve(sum(len(body) for body in bodies)):
            return message
        return {**header, "error": OUTPUT_TOO_LARGE}, []

    def record_result(self, header: dict[str, Any], bodies: list[bytes]) -> None:
        """Decode and keep one instance's output (a `result` message), within the output budget."""
        # Every output stays in the host until the job is judged: one job may not fill its memory.
        # `admit` reserved the encoded bytes; once decoded, the value's own size is what is held.
        size = sum(len(body) for body in bodies)
        index = header.get("i")
        if not isinstance(index, int) or not 0 <= index < len(self.results):
            self.outputs.release(size)
            return
        seconds = float(header.get("secs", 0.0))
        if index == len(self.results) - 1:
            self.returned = True
        if "error" in header:
            self.outputs.release(size)  # bodies beside an error were dropped by `admit` or never sent
            self.results[index] = InstanceResult(error=str(header["error"]), seconds=seconds)
            return
        try:
            output = wire.loads(bodies[0])
        except (wire.WireError, IndexError) as exc:
            self.outputs.release(size)
            self.results[index] = InstanceResult(error=f"malformed output: {exc}", seconds=seconds)
            return
        if not self.outputs.exchange(size, held_size(output)):
            del output
            self.results[index] = InstanceResult(error=OUTPUT_TOO_LARGE, seconds=seconds)
            return
        self.results[index] = InstanceResult(output=output, seconds=seconds)

    def judge(self, zygote: ZygoteProcess, job_id: int, index: Any) -> bool:
        """The gate's verdict on a held instance: tell the zygote to go on, or stop the job (True)."""
        gate = self.job.gate
        if gate is None or not isinstance(index, int) or not 0 <= index < self.held:
            return False
        result = self.results[index]
        if result is None:
            return False
        try:
            verdict = gate.verdict(index, result)
        except Exception as exc:  # a scorer bug must not stall the job: run the rest, judge later
            log.warning("instance gate of %s raised %s; running the rest", self.job.label, exc)
            verdict = Verdict(release=True)
        if verdict.stop is not None and index + 1 < len(self.results):
            self.stopped = verdict.stop
            self.unfinished = f"not run: {verdict.stop}"
            zygote.send({"op": "cancel", "id": job_id})
            return True
        upto = len(self.results) if verdict.release else index + 1
        if verdict.release:
            self.held = 0
        with contextlib.suppress(ZygoteDied):
            zygote.send({"op": "go", "id": job_id, "upto": upto})
        return False

    def result(self, wall: float) -> JobResult:
        """The job's result: an instance that never answered fails with why the job ended."""
        missing = "not run: setup failed" if self.setup_error else self.unfinished
        instances = [r if r is not None else InstanceResult(error=missing) for r in self.results]
        return JobResult(
            instances, self.setup_error, self.stdout, self.stderr, list(self.events), wall, self.stopped
        )
