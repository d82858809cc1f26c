"""`SandboxPool`: the local executor of sandboxed jobs (zygotes, scheduling, deadlines, remote calls).

The pool keeps one zygote per core. Any number of host threads may call `run` at once; each job goes to
the least-loaded zygote, which multiplexes it with the others. `cpu_bound` jobs are limited to one per
worker by a semaphore, jobs that mostly wait on remote calls (improvers) are not, so nested evaluations
started from an improver's `utility(...)` never wait for the improver to finish. The host enforces each
job's wall-clock deadline; a zygote that dies or does not answer a cancel in time is replaced.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import keyword
import logging
import math
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from selftaught.errors import SandboxUnavailable
from selftaught.sandbox import launch, uids
from selftaught.sandbox.executor import RpcHandler, Stop, answering_for
from selftaught.sandbox.fairness import FairGate, current_owner, owned_by
from selftaught.sandbox.held import Budget, held_size
from selftaught.sandbox.inputs import SharedInputs
from selftaught.sandbox.inside import wire
from selftaught.sandbox.job import InstanceResult, Job, JobResult, Proxy, SandboxEvent, Verdict
from selftaught.sandbox.layers import check_layers, require_strong, weak_reason
from selftaught.sandbox.worker import Message, ZygoteDied, ZygoteProcess

log = logging.getLogger("selftaught.sandbox")
SETUP_TIMEOUT = 10.0
CANCEL_GRACE = 3.0
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
# The pool's own event when a job's zygote died under it (the job's unfinished instances then fail as
# "killed: sandbox worker died"): the worker's fault, not the program's (the Ray executor retries it).
WORKER_DIED = "worker-died"
MAX_CHILD_EVENTS = 100
_STOPPED: Any = object()  # put in a job's message box when its `Stop` is set (no zygote can send it)
WALL_FACTOR = 3.0  # the zygote's backstop of a CPU-limited call (clock.backstop), in limits of sleep


def default_job_timeout(job: Job) -> float:
    """Setup, every instance at its limit (its backstop for CPU-limited jobs), a respawn each, slack.

    For CPU-limited jobs this is a starting point: whenever the zygote finds a call starved rather
    than asleep, it moves that call's backstop and reports by how much ("waited"), and the deadline
    moves by the same amount, so a busy machine never ends a job that is still computing.
    """
    per_call = job.instance_timeout if job.time_clock == "wall" else WALL_FACTOR * job.instance_timeout + 1.0
    return SETUP_TIMEOUT + len(job.instances) * (per_call + 0.5) + 5.0


class _JobRun:
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
        self.held = _held(job)
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

    def result(self, wall: float) -> JobResult:
        missing = "not run: setup failed" if self.setup_error else self.unfinished
        instances = [r if r is not None else InstanceResult(error=missing) for r in self.results]
        return JobResult(
            instances, self.setup_error, self.stdout, self.stderr, list(self.events), wall, self.stopped
        )


class SandboxPool:
    """Runs `Job`s in sandboxed children of pre-started zygotes; implements `Executor`."""

    def __init__(self, workers: int | None = None, mode: Literal["strong", "weak"] = "strong") -> None:
        if mode not in ("strong", "weak"):
            raise SandboxUnavailable(f"unknown sandbox mode {mode!r}; use 'strong' or 'weak'")
        if not sys.platform.startswith("linux"):
            raise SandboxUnavailable("the sandbox needs Linux (run in a Linux VM or container)")
        self.mode = mode
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.layers = check_layers(mode)
        if mode == "strong":
            require_strong(self.layers)
            self.weak_note = ""
        else:
            self.weak_note = weak_reason(self.layers)
            log.warning("%s", self.weak_note)
        self._uid_drop = any(s.name == "uid-drop" and s.active for s in self.layers)
        self._inputs = SharedInputs()
        self._scratch_root = ""
        if mode == "weak":
            self._scratch_root = tempfile.mkdtemp(prefix="selftaught-scratch-")
            os.chmod(self._scratch_root, 0o711)
        self._cpu = FairGate(self.workers)  # CPU-bound jobs: one per core, fair shares between owners
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        # Zygotes are started from this one long-lived thread: their parent-death signal follows the
        # thread that forked them, so a short-lived caller thread must never be their parent.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")
        self._zygotes: list[ZygoteProcess] = []
        try:
            self._zygotes = list(self._spawner.map(self._start, range(self.workers)))
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- zygotes

    def _start(self, index: int) -> ZygoteProcess:
        # Uids no other live zygote on this machine holds (other pools, processes, Ray workers).
        block = uids.acquire() if self.mode == "strong" or self._uid_drop else None
        try:
            if self.mode == "strong":
                assert block is not None
                # Beside the shared inputs (removed with them); a dot name is never a shared array's.
                etc = os.path.join(self._inputs.directory, f".etc-{block.index}")
                launch.identity_files(etc, block.base, uids.BLOCK)
                spec = launch.strong_spec(index, self._inputs.directory, block.base, etc)
            else:
                base = block.base if block is not None else None
                spec = launch.weak_spec(index, self._inputs.directory, self._scratch_root, base)
            zygote = ZygoteProcess(index, spec, block)
        except BaseException:
            if block is not None:
                block.release()
            raise
        if self.mode == "strong":
            hello = zygote.hello
            missing = [
                name
                for name, ok in (
                    ("landlock", hello.get("landlock_abi", 0) >= 1),
                    ("seccomp", hello.get("seccomp")),
                    ("uid-drop", hello.get("uid_drop")),
                )
                if not ok
            ]
            if missing:
                zygote.kill()
                raise SandboxUnavailable(
                    f"sandbox layers inactive inside the worker: {', '.join(missing)} ({layers_hint()})"
                )
        return zygote

    def _pick(self) -> ZygoteProcess:
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox pool is closed")
            for i, zygote in enumerate(self._zygotes):
                if not zygote.alive:
                    log.warning("replacing sandbox worker %d", i)
                    zygote.kill()  # reaps it and releases its uid block
                    self._zygotes[i] = self._spawner.submit(self._start, i).result()
            return min(self._zygotes, key=lambda z: z.load)

    # ---------------------------------------------------------------- jobs

    def cpu_slot(self, owner: str) -> contextlib.AbstractContextManager[None]:
        """One of the CPU slots `cpu_bound` jobs take, held for `owner` (see `Executor.cpu_slot`)."""
        return self._cpu.slot(owner)

    def run(self, job: Job, rpc: RpcHandler | None = None, stop: Stop | None = None) -> JobResult:
        """Run `job` to completion (thread-safe); never raises for anything the program does.

        `stop`, once set, ends the job: its zygote kills the child, whatever the child does.
        """
        _validate(job)
        proxies: dict[str, Proxy] = {}
        bodies: list[bytes] = []
        files: list[list[str]] = []
        for args in job.instances:
            names: list[str] = []
            bodies.append(wire.dumps(args, _recording(self._inputs.hook, names), _proxy_hook(proxies)))
            files.append(sorted(set(names)))
        gate = self._cpu.slot(current_owner()) if job.cpu_bound else contextlib.nullcontext()
        with gate:
            # The deadline and the wall time start when the job may run, not while it queues for a core.
            started = time.monotonic()
            run = _JobRun(job, proxies)
            run.files = files
            if stop is not None and stop.is_set():
                run.unfinished = "killed: stopped by the host"  # the work it belonged to is over
            else:
                self._execute(job, bodies, run, rpc, started, stop)
            wall = time.monotonic() - started
        if self.weak_note:
            run.events.insert(0, SandboxEvent("weak-sandbox", self.weak_note))
        return run.result(wall)

    def _beside(self, job: Job) -> tuple[ZygoteProcess, int] | None:
        """The worker running the job `job.peer_of` names (this pool's, still running), if any."""
        peer = job.peer_of
        if not isinstance(peer, CallingJob) or peer.pool is not self:
            return None
        with self._lock:
            zygotes = list(self._zygotes)
        for zygote in zygotes:
            if zygote.alive and peer.job_id in zygote.jobs:
                return zygote, peer.job_id
        return None

    def _execute(
        self,
        job: Job,
        bodies: list[bytes],
        run: _JobRun,
        rpc: RpcHandler | None,
        started: float,
        stop: Stop | None = None,
    ) -> None:
        job_id = next(self._ids)
        beside = self._beside(job)
        zygote = beside[0] if beside is not None else self._pick()
        header = _job_header(job, job_id, run.proxies) | {"files": run.files}
        try:
            box = zygote.register(job_id, run.admit)
            if beside is not None:
                header["peer"] = beside[1]
        except ZygoteDied:
            zygote = self._pick()
            box = zygote.register(job_id, run.admit)
        forget = stop.on_set(lambda: box.put((_STOPPED, []))) if stop is not None else (lambda: None)
        try:
            zygote.send(header, bodies)
            limit = job.job_timeout if job.job_timeout is not None else default_job_timeout(job)
            self._collect(zygote, job_id, box, run, rpc, started + limit)
        except ZygoteDied as exc:
            run.unfinished = f"killed: sandbox worker died ({exc})"
            run.add_event(WORKER_DIED, str(exc))
        finally:
            forget()
            zygote.unregister(job_id)

    def _collect(
        self,
        zygote: ZygoteProcess,
        job_id: int,
        box: queue.Queue[Any],
        run: _JobRun,
        rpc: RpcHandler | None,
        deadline: float,
    ) -> None:
        cancelled_at: float | None = None
        while True:
            # Checked before every message, not only when none is waiting: a job whose messages keep
            # the queue busy (slow inline calls) must still end at its deadline.
            wait = (deadline if cancelled_at is None else cancelled_at + CANCEL_GRACE) - time.monotonic()
            try:
                if wait <= 0:
                    raise queue.Empty
                header, bodies = box.get(timeout=wait)
            except queue.Empty:
                if cancelled_at is None:
                    cancelled_at = time.monotonic()
                    run.add_event(
                        "job-timeout", f"wall-clock deadline of the job passed ({run.job.label or job_id})"
                    )
                    zygote.send({"op": "cancel", "id": job_id})
                    continue
                run.add_event(
                    "worker-hung", f"sandbox worker {zygote.index} did not answer a cancel; replaced"
                )
                zygote.kill()
                return
            if header is _STOPPED:
                if cancelled_at is None:
                    cancelled_at = time.monotonic()
                    run.unfinished = "killed: stopped by the host"
                    zygote.send({"op": "cancel", "id": job_id})
                continue
            op = header.get("op")
            if op == "result":
                self._on_result(run, header, bodies)
                if cancelled_at is None and self._judge(zygote, job_id, run, header.get("i")):
                    cancelled_at = time.monotonic()
            elif op == "waited":
                # The zygote saw the current call wait for a core (not sleep): the machine is busy,
                # and the job's wall-clock deadline moves by that much (load never decides a score).
                waited = header.get("secs")
                if isinstance(waited, int | float) and 0 < waited < 3600:
                    deadline += float(waited)
            elif op == "rpc" and cancelled_at is None:
                self._dispatch_rpc(zygote, job_id, header, bodies, run, rpc)
            elif op == "event":
                source = "sandbox" if header.get("from") == "sandbox" else "zygote"
                run.add_event(str(header.get("kind")), str(header.get("detail")), source)
            elif op == "setup":
                run.setup_error = str(header.get("error"))
            elif op == "done":
                run.stdout, run.stderr = str(header.get("stdout", "")), str(header.get("stderr", ""))
                if "error" in header:
                    run.unfinished = f"killed: {header['error']}"
                    run.add_event("worker-refused", str(header["error"]))
                return
            elif op == "dead":
                raise ZygoteDied(str(header.get("reason")))

    def _dispatch_rpc(
        self,
        zygote: ZygoteProcess,
        job_id: int,
        header: dict[str, Any],
        bodies: list[bytes],
        run: _JobRun,
        rpc: RpcHandler | None,
    ) -> None:
        """Answer in a thread (calls may block for minutes), at most MAX_RPC_IN_FLIGHT per job at once.

        A handler marked `inline = True` answers at once (host-driven tasks: one short step of a
        simulation per call) and is served right here, without a thread per call.
        """
        size = sum(len(body) for body in bodies)
        if getattr(rpc, "inline", False):
            # Served one at a time in this thread: the zygote's window bounds what waits behind it.
            _serve_rpc(zygote, job_id, header, bodies, run, rpc, size)
            return
        with run.events_lock:
            admitted = run.rpc_in_flight < MAX_RPC_IN_FLIGHT and run.rpc_bytes.reserve(size)
            if admitted:
                run.rpc_in_flight += 1
        if not admitted:
            run.add_event(
                "rpc-flood",
                f"more than {MAX_RPC_IN_FLIGHT} remote calls or {MAX_RPC_BYTES_IN_FLIGHT >> 20} MiB in flight; refused",
            )
            with contextlib.suppress(ZygoteDied):
                zygote.send(
                    {
                        "op": "rpc_result",
                        "id": job_id,
                        "req": header.get("req"),
                        "error": "too many concurrent remote calls",
                    }
                )
            return

        def serve() -> None:
            held = size
            token = _CALLING.set(CallingJob(self, job_id))
            try:
                # Jobs this call submits (e.g. the evaluations an improver asks for) are this job's
                # for the CPU slots' fair shares.
                with owned_by(f"job {job_id}"):
                    held = _serve_rpc(zygote, job_id, header, bodies, run, rpc, size)
            finally:
                _CALLING.reset(token)
                with run.events_lock:
                    run.rpc_in_flight -= 1
                run.rpc_bytes.release(held)

        threading.Thread(target=serve, name="sandbox-rpc", daemon=True).start()

    @staticmethod
    def _judge(zygote: ZygoteProcess, job_id: int, run: _JobRun, index: Any) -> bool:
        """The gate's verdict on a held instance: tell the zygote to go on, or stop the job (True)."""
        gate = run.job.gate
        if gate is None or not isinstance(index, int) or not 0 <= index < run.held:
            return False
        result = run.results[index]
        if result is None:
            return False
        try:
            verdict = gate.verdict(index, result)
        except Exception as exc:  # a scorer bug must not stall the job: run the rest, judge later
            log.warning("instance gate of %s raised %s; running the rest", run.job.label, exc)
            verdict = Verdict(release=True)
        if verdict.stop is not None and index + 1 < len(run.results):
            run.stopped = verdict.stop
            run.unfinished = f"not run: {verdict.stop}"
            zygote.send({"op": "cancel", "id": job_id})
            return True
        upto = len(run.results) if verdict.release else index + 1
        if verdict.release:
            run.held = 0
        with contextlib.suppress(ZygoteDied):
            zygote.send({"op": "go", "id": job_id, "upto": upto})
        return False

    @staticmethod
    def _on_result(run: _JobRun, header: dict[str, Any], bodies: list[bytes]) -> None:
        # Every output stays in the host until the job is judged: one job may not fill its memory.
        # `admit` reserved the encoded bytes; once decoded, the value's own size is what is held.
        size = sum(len(body) for body in bodies)
        index = header.get("i")
        if not isinstance(index, int) or not 0 <= index < len(run.results):
            run.outputs.release(size)
            return
        seconds = float(header.get("secs", 0.0))
        if index == len(run.results) - 1:
            run.returned = True
        if "error" in header:
            run.outputs.release(size)  # bodies beside an error were dropped by `admit` or never sent
            run.results[index] = InstanceResult(error=str(header["error"]), seconds=seconds)
            return
        try:
            output = wire.loads(bodies[0])
        except (wire.WireError, IndexError) as exc:
            run.outputs.release(size)
            run.results[index] = InstanceResult(error=f"malformed output: {exc}", seconds=seconds)
            return
        if not run.outputs.exchange(size, held_size(output)):
            del output
            run.results[index] = InstanceResult(error=OUTPUT_TOO_LARGE, seconds=seconds)
            return
        run.results[index] = InstanceResult(output=output, seconds=seconds)

    def worker_layers(self) -> dict[str, Any]:
        """What the first zygote reported from inside the sandbox (Landlock ABI, seccomp, uid drop)."""
        with self._lock:
            hello = dict(self._zygotes[0].hello) if self._zygotes else {}
        keys = ("landlock_abi", "seccomp", "uid_drop", "baseline_mb", "schedstat")
        return {key: hello.get(key) for key in keys}

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop every zygote and remove the shared and scratch directories (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            zygotes, self._zygotes = self._zygotes, []
        for zygote in zygotes:
            zygote.kill()
        self._spawner.shutdown(wait=True)
        self._inputs.close()
        if self._scratch_root:
            shutil.rmtree(self._scratch_root, ignore_errors=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


@dataclass(frozen=True)
class CallingJob:
    """The job whose remote call the current thread is serving (see `Job.peer_of`)."""

    pool: SandboxPool
    job_id: int


_CALLING: contextvars.ContextVar[CallingJob | None] = contextvars.ContextVar("calling_job", default=None)


def calling_job() -> CallingJob | None:
    """The job whose remote call this thread serves, or None outside one (a job started with
    `Job(peer_of=calling_job())` runs beside it, with a socket between the two)."""
    return _CALLING.get()


def layers_hint() -> str:
    return "run `selftaught doctor` for details, or use --sandbox=weak"


def _validate(job: Job) -> None:
    if not isinstance(job.entry, str) or not job.entry.isidentifier() or keyword.iskeyword(job.entry):
        raise ValueError(f"job entry must be a function name, got {job.entry!r}")
    if not isinstance(job.source, str):
        raise TypeError("job source must be a string")
    if not all(isinstance(args, (list, tuple)) for args in job.instances):
        raise TypeError("each job instance must be a list of arguments")
    if not job.instance_timeout > 0 or not math.isfinite(job.instance_timeout):
        raise ValueError("instance_timeout must be a positive number of seconds")
    if job.clock not in (None, "cpu", "wall"):
        raise ValueError("job clock must be 'cpu', 'wall' or None")
    if job.memory_mb < 16:
        raise ValueError("memory_mb must be at least 16")


def _recording(hook: wire.ArrayHook, names: list[str]) -> wire.ArrayHook:
    """`hook`, noting the shared file of every array it shares (the instance's files to pass)."""

    def record(arr: Any) -> dict[str, Any] | None:
        ref = hook(arr)
        if ref is not None:
            names.append(str(ref["file"]))
        return ref

    return record


def _proxy_hook(found: dict[str, Proxy]) -> wire.OtherHook:
    def hook(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, Proxy):
            return None
        if found.get(value.name, value) != value:
            raise ValueError(f"two different proxies named {value.name!r} in one job")
        found[value.name] = value
        return {wire.TAG: "proxy", "name": value.name}

    return hook


def _job_header(job: Job, job_id: int, proxies: dict[str, Proxy]) -> dict[str, Any]:
    specs = [
        {
            "name": p.name,
            "attributes": wire.encode(p.attributes),
            "methods": list(p.methods),
            "callable": p.callable,
            "live": list(p.live),
        }
        for p in proxies.values()
    ]
    cpu = math.ceil(SETUP_TIMEOUT + len(job.instances) * job.instance_timeout) + 1
    return {
        "op": "job",
        "id": job_id,
        "source": job.source,
        "entry": job.entry,
        "timeout": job.instance_timeout,
        "setup_timeout": SETUP_TIMEOUT,
        "memory_mb": job.memory_mb,
        "cpu_seconds": cpu,
        "proxies": specs,
        "clock": job.time_clock,
        "seeds": _seeds(job),
        "setup_seed": job.setup_seed if isinstance(job.setup_seed, int) else None,
        "held": _held(job),
    }


def _held(job: Job) -> int:
    """How many leading instances wait for the host's verdict before the next one is sent."""
    if job.gate is None:
        return 0
    return max(0, min(int(job.gate.held), len(job.instances)))


def _seeds(job: Job) -> list[int] | None:
    if job.seeds is None:
        return None
    if len(job.seeds) != len(job.instances) or not all(type(seed) is int for seed in job.seeds):
        raise ValueError("job seeds must be one int per instance")
    return list(job.seeds)


def _serve_rpc(
    zygote: ZygoteProcess,
    job_id: int,
    header: dict[str, Any],
    bodies: list[bytes],
    run: _JobRun,
    rpc: RpcHandler | None,
    size: int = 0,
) -> int:
    """Answer one remote call from the child (in its own thread: calls may block for minutes).

    Returns the bytes the call held in the job's remote-call budget: `size` (its encoded arguments,
    reserved by the caller for threaded calls) replaced by the decoded arguments' size while served.
    """
    name, method, req = str(header.get("proxy")), str(header.get("method")), header.get("req")
    reply: dict[str, Any] = {"op": "rpc_result", "id": job_id, "req": req}
    payload: list[bytes] = []
    proxy = run.proxies.get(name)
    inline = getattr(rpc, "inline", False)
    held = 0 if inline else size
    try:
        with run.decoding:
            call = wire.loads(bodies[0])
            bodies.clear()  # the encoded copy is not held while the call is served
            decoded = held_size(call)
            fits = run.rpc_bytes.reserve(decoded) if inline else run.rpc_bytes.exchange(size, decoded)
            held = decoded if fits else 0
        if not fits:
            call = None
            raise wire.WireError(
                f"the call's arguments take {decoded} bytes decoded: over the job's "
                f"{MAX_RPC_BYTES_IN_FLIGHT >> 20} MiB for calls in flight"
            )
        if not (
            isinstance(call, list)
            and len(call) == 2
            and isinstance(call[0], list)
            and isinstance(call[1], dict)
        ):
            raise wire.WireError("malformed remote call")
    except Exception as exc:
        call = None
        reply["error"] = str(exc)
        reply["etype"] = type(exc).__name__
    allowed = (
        proxy is not None
        and call is not None
        and (
            method in proxy.methods
            or (method == "__call__" and proxy.callable)
            or (method == "__getattr__" and call[0] in ([live] for live in proxy.live))
        )
    )
    if call is None:
        pass
    elif run.returned:
        run.add_event("rpc-after-return", f"{name}.{method} called after the program returned; refused")
        reply["error"] = "the program has returned: remote calls are closed"
    elif not allowed:
        run.add_event("proxy-unknown-method", f"{name}.{method}")
        reply["error"] = f"no such method: {name}.{method}"
    elif rpc is None:
        reply["error"] = "no remote-call handler for this job"
    else:
        try:
            instance = header.get("i")
            with answering_for(instance if type(instance) is int else None):
                value = rpc(name, method, call[0], call[1])
            payload = [wire.dumps(value)]
        except Exception as exc:
            reply["error"] = str(exc)
            reply["etype"] = type(exc).__name__
    if inline:
        run.rpc_bytes.release(held)  # served: nothing of it is held any more
        held = 0
    with contextlib.suppress(ZygoteDied):
        zygote.send(reply, payload)
    return held
