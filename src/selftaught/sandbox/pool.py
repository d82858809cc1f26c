"""`SandboxPool`: the local executor of sandboxed jobs (zygotes, scheduling, deadlines).

The pool keeps one zygote per core. Any number of host threads may call `run` at once; each job goes to
the least-loaded zygote, which multiplexes it with the others. `cpu_bound` jobs are limited to one per
worker by a semaphore, jobs that mostly wait on remote calls (improvers) are not, so nested evaluations
started from an improver's `utility(...)` never wait for the improver to finish. The host enforces each
job's wall-clock deadline; a zygote that dies or does not answer a cancel in time is replaced.

What a job becomes on the wire is `jobmessage`'s, what the host holds of it while it runs is
`jobrun.JobRun`'s, and its remote calls are answered by `remote_calls`: this module only moves messages
between a job's zygote and those three, against the job's deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from selftaught.errors import SandboxUnavailable
from selftaught.sandbox import launch, remote_calls, uids
from selftaught.sandbox.executor import RpcHandler, Stop
from selftaught.sandbox.fairness import FairGate, current_owner
from selftaught.sandbox.inputs import SharedInputs
from selftaught.sandbox.job import Job, JobResult, SandboxEvent
from selftaught.sandbox.jobmessage import default_job_timeout, encode_instances, job_header, validate
from selftaught.sandbox.jobrun import JobRun
from selftaught.sandbox.layers import check_layers, require_strong, weak_reason
from selftaught.sandbox.remote_calls import CallingJob
from selftaught.sandbox.worker import ZygoteDied, ZygoteProcess

log = logging.getLogger("selftaught.sandbox")
CANCEL_GRACE = 3.0
# The pool's own event when a job's zygote died under it (the job's unfinished instances then fail as
# "killed: sandbox worker died"): the worker's fault, not the program's (the Ray executor retries it).
WORKER_DIED = "worker-died"
_STOPPED: Any = object()  # put in a job's message box when its `Stop` is set (no zygote can send it)


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
        validate(job)
        bodies, files, proxies = encode_instances(job, self._inputs.hook)
        gate = self._cpu.slot(current_owner()) if job.cpu_bound else contextlib.nullcontext()
        with gate:
            # The deadline and the wall time start when the job may run, not while it queues for a core.
            started = time.monotonic()
            run = JobRun(job, proxies)
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
        run: JobRun,
        rpc: RpcHandler | None,
        started: float,
        stop: Stop | None = None,
    ) -> None:
        job_id = next(self._ids)
        beside = self._beside(job)
        zygote = beside[0] if beside is not None else self._pick()
        header = job_header(job, job_id, run.proxies) | {"files": run.files}
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
        run: JobRun,
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
                run.record_result(header, bodies)
                if cancelled_at is None and run.judge(zygote, job_id, header.get("i")):
                    cancelled_at = time.monotonic()
            elif op == "waited":
                # The zygote saw the current call wait for a core (not sleep): the machine is busy,
                # and the job's wall-clock deadline moves by that much (load never decides a score).
                waited = header.get("secs")
                if isinstance(waited, int | float) and 0 < waited < 3600:
                    deadline += float(waited)
            elif op == "rpc" and cancelled_at is None:
                remote_calls.dispatch(zygote, CallingJob(self, job_id), header, bodies, run, rpc)
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


def layers_hint() -> str:
    return "run `selftaught doctor` for details, or use --sandbox=weak"
