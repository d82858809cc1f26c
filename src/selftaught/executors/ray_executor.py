"""`RayExecutor`: sandboxed evaluations on a Ray cluster the user already runs.

What goes where, and why:
- Jobs without remote calls (downstream evaluations, `cpu_bound`, the bulk of STOP's work) go to
  `SandboxWorker` actors, one per Ray worker process and CPU, each with its own zygote pool on its node.
- Jobs with a remote-call handler (improvers, `cpu_bound=False`) stay in a small sandbox pool on the
  driver. Their proxies call back into the host for every LM and utility call, and the handler must run
  where the key, the budgets and the hidden labels are; shipping the child elsewhere would mean opening
  a channel from every node back to the host for no gain, since these jobs mostly wait on those calls.
  The evaluations an improver's `utility(...)` starts are ordinary jobs and do go to the cluster.
- The host keeps the LM client, key, budgets, labels and the run store; a node sees program text and
  instance inputs only.

Failures: a worker or node that dies takes its in-flight jobs with it. Actors are created without
Ray-level restarts or task retries, because a silent Ray retry and our own would both run the job; the
executor instead replaces the dead actor (a bounded number of times) and resubmits the job to another
one (at most `max_attempts` attempts). Each `run` call returns exactly one result, so a job that did run
twice (once on the lost node, once elsewhere) is still counted once. Evaluation jobs are pure, which is
what makes the resubmission safe; improver jobs would spend LM budget twice, one more reason they stay.
A node does not die all at once: when its sandbox worker (the zygote) goes a moment before the actor, the
actor's pool still answers, with the unfinished instances failed as "sandbox worker died". That answer
says nothing about the program (its pool reports the worker's death itself, which a program cannot
forge), so it is treated as a lost attempt too: the job is resubmitted, to another actor if there is one
(on the last attempt it is returned as it is, as the local pool returns it).

Back-pressure: at most `slots` jobs are in flight per actor (one running, one queued so the zygote
never idles while the next job travels); a caller finding every slot taken waits. `run_many` streams an
iterable of any length through a fixed window, so millions of queued jobs never sit in driver memory.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import ray
from ray import exceptions as rex

from selftaught.errors import UsageError
from selftaught.executors.ray_worker import HostArrays, SandboxWorker
from selftaught.sandbox.executor import RpcHandler, Stop
from selftaught.sandbox.job import Job, JobResult
from selftaught.sandbox.jobmessage import default_job_timeout
from selftaught.sandbox.pool import WORKER_DIED, SandboxPool

log = logging.getLogger("selftaught.ray")

# A worker, its process or its node is gone (or hung past any deadline the pool itself enforces).
LOST = (
    rex.RayActorError,
    rex.WorkerCrashedError,
    rex.NodeDiedError,
    rex.ObjectLostError,
    rex.LocalRayletDiedError,
    rex.GetTimeoutError,
    rex.TaskCancelledError,
)
POLL_SECONDS = 0.25
CONNECT_CHECK_SECONDS = 5.0


class RayExecutorError(RuntimeError):
    """The cluster could not run a job (every attempt lost, or no sandbox worker left)."""


@dataclass
class RayStats:
    """What the executor did; `completed` counts each job's result once, however often it was tried."""

    submitted: int = 0
    completed: int = 0
    retried: int = 0
    workers_lost: int = 0
    workers_replaced: int = 0
    local_jobs: int = 0
    by_node: Counter[str] = field(default_factory=Counter)


@dataclass
class _Member:
    """One sandbox actor as the driver sees it."""

    handle: Any
    pending: Any  # ObjectRef of `info()` until the actor has its pool up, then None
    node: str = ""
    load: int = 0
    dead: bool = False


class RayExecutor:
    """Runs sandboxed jobs on a Ray cluster; implements `Executor` (thread-safe `run`, `close`).

    `address` is what `ray.init` accepts ("auto" finds a cluster started with `ray start`). `workers` is
    the number of sandbox actors (default: every CPU the cluster has when the executor starts). `mode` is
    the sandbox mode on every node, as for the local pool.
    """

    def __init__(
        self,
        address: str = "auto",
        workers: int | None = None,
        mode: Literal["strong", "weak"] = "strong",
        *,
        local_workers: int = 1,
        slots: int = 2,
        max_attempts: int = 3,
        start_timeout: float = 120.0,
    ) -> None:
        if mode not in ("strong", "weak"):
            raise UsageError(f"unknown sandbox mode {mode!r}; use 'strong' or 'weak'")
        self.mode = mode
        self.slots = max(1, slots)
        self.max_attempts = max(1, max_attempts)
        self.local_workers = max(1, local_workers)
        self.stats = RayStats()
        self._owns_ray = _connect(address)
        self._cond = threading.Condition()
        self._closed = False
        self._local: SandboxPool | None = None
        self._local_lock = threading.Lock()
        self._arrays = HostArrays()
        self._actor: Any = ray.remote(SandboxWorker)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.workers = workers or max(1, cpus)
        self.max_replacements = 2 * self.workers + 2
        self._members: list[_Member] = []
        try:
            self._members = [self._spawn() for _ in range(self.workers)]
            self._wait_started(start_timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ actors

    def _spawn(self) -> _Member:
        handle: Any = self._actor.options(
            num_cpus=1,
            max_concurrency=self.slots,
            max_restarts=0,
            max_task_retries=0,
            scheduling_strategy="SPREAD",
        ).remote(self.mode, 1)
        return _Member(handle, handle.info.remote())

    def _wait_started(self, timeout: float) -> None:
        """Wait for every actor's pool; a sandbox that cannot start on a node is an error, not a skip."""
        refs = [m.pending for m in self._members]
        cpus = int(ray.cluster_resources().get("CPU", 0))
        expected = max(1, min(len(refs), cpus))  # more workers than CPUs: the rest wait for a CPU
        ray.wait(refs, num_returns=expected, timeout=timeout)
        with self._cond:
            self._poll_pending(raise_errors=True)
            if not any(m.pending is None and not m.dead for m in self._members):
                raise RayExecutorError(
                    f"no Ray sandbox worker started within {timeout:g} s "
                    f"(cluster CPUs: {ray.cluster_resources().get('CPU', 0):g}); see `ray status`"
                )
            waiting = sum(1 for m in self._members if m.pending is not None)
            if waiting:
                log.warning("%d of %d Ray sandbox workers are still waiting for a CPU", waiting, self.workers)

    def _poll_pending(self, raise_errors: bool = False) -> None:
        """Move actors whose pool came up to the routable set (caller holds the lock)."""
        pending = [m for m in self._members if m.pending is not None and not m.dead]
        if not pending:
            return
        done, _ = ray.wait([m.pending for m in pending], num_returns=len(pending), timeout=0)
        finished = set(done)
        for member in pending:
            if member.pending not in finished:
                continue
            try:
                info = ray.get(member.pending)
            except rex.RayError as exc:
                cause = _cause(exc)
                # Its own start failed (a missing sandbox layer on that node): an error, not a skip.
                # Its node or process died before it started: just another lost worker.
                if raise_errors and getattr(exc, "actor_init_failed", False):
                    raise UsageError(f"a Ray worker could not start its sandbox: {cause}") from None
                log.warning("a Ray sandbox worker failed to start: %s", cause)
                self._retire(member)
                continue
            member.pending = None
            member.node = str(info.get("node", ""))

    def _retire(self, member: _Member) -> None:
        """Drop a dead or hung actor and start a replacement while the budget lasts (lock held)."""
        if member.dead:
            return
        member.dead = True
        self.stats.workers_lost += 1
        try:
            ray.kill(member.handle, no_restart=True)
        except Exception as exc:  # already gone with its node
            log.debug("ray.kill of a lost worker: %s", exc)
        if not self._closed and self.stats.workers_replaced < self.max_replacements:
            self.stats.workers_replaced += 1
            self._members.append(self._spawn())
        self._members = [m for m in self._members if not m.dead]  # in-flight callers keep their reference
        self._cond.notify_all()

    def _acquire(self, avoid: _Member | None = None) -> _Member:
        """A ready actor with a free slot, the least loaded first; `avoid` (where the job's last attempt
        was lost) only when no other actor is ready."""
        with self._cond:
            while True:
                if self._closed:
                    raise RayExecutorError("the Ray executor is closed")
                self._poll_pending()
                ready = [m for m in self._members if m.pending is None and not m.dead and m.load < self.slots]
                if ready:
                    member = min(ready, key=lambda m: (m is avoid, m.load))
                    member.load += 1
                    return member
                if not any(not m.dead for m in self._members):
                    raise RayExecutorError(
                        "every Ray sandbox worker is gone and the replacement budget is spent"
                    )
                self._cond.wait(POLL_SECONDS)

    def _release(self, member: _Member, lost: BaseException | None = None, counted: bool = True) -> None:
        """Free the slot; retire the actor if it was `lost`; `counted`: it completed a job (by_node)."""
        with self._cond:
            member.load -= 1
            if lost is not None:
                self._retire(member)
            elif counted and not member.dead:
                self.stats.by_node[member.node] += 1
            self._cond.notify()

    @property
    def capacity(self) -> int:
        """Jobs that can be in flight right now (ready actors times slots)."""
        with self._cond:
            return self.slots * sum(1 for m in self._members if m.pending is None and not m.dead)

    def worker_info(self) -> list[dict[str, Any]]:
        """`SandboxWorker.info()` of every ready actor: node, pid and the sandbox layers active there."""
        with self._cond:
            handles = [m.handle for m in self._members if m.pending is None and not m.dead]
        return list(ray.get([h.info.remote() for h in handles], timeout=60))

    # ------------------------------------------------------------------ jobs

    def cpu_slot(self, owner: str) -> AbstractContextManager[None]:
        """A CPU slot of the driver's local pool: work held under one (an OpenEvolve evaluation) runs
        its jobs there, as `cpu_bound=False` jobs do."""
        return self._local_pool().cpu_slot(owner)

    def run(self, job: Job, rpc: RpcHandler | None = None, stop: Stop | None = None) -> JobResult:
        """Run `job` and return its result (thread-safe; blocks while every slot is taken).

        `stop` ends jobs of the driver's local pool (those with remote calls or not `cpu_bound`); a job
        sent to the cluster runs to its own time limit.
        """
        if rpc is not None or not job.cpu_bound:
            with self._cond:
                self.stats.local_jobs += 1
            return self._local_pool().run(job, rpc, stop)
        # The gate judges in this process; a remote node runs every instance and the evaluation applies
        # the same stopping rule to the results, so scores are the same (only the cost is not saved).
        payload = self._arrays.pack(replace(job, gate=None) if job.gate is not None else job)
        base = job.job_timeout if job.job_timeout is not None else default_job_timeout(job)
        limit = self.slots * base + 30.0  # its own time, the job queued before it in the actor, slack
        with self._cond:
            self.stats.submitted += 1
        last: BaseException | None = None
        avoid: _Member | None = None
        for attempt in range(1, self.max_attempts + 1):
            member = self._acquire(avoid)
            try:
                result: JobResult = ray.get(member.handle.run.remote(payload), timeout=limit)
            except rex.RayTaskError as exc:  # our own code failed on the worker (a bad job, say)
                self._release(member)
                raise _cause(exc) from None
            except LOST as exc:
                last = exc
                self._release(member, lost=exc)
            except BaseException:
                self._release(member)
                raise
            else:
                died = sandbox_worker_died(result)
                # On the last attempt that answer stands (its instances failed as "sandbox worker
                # died"), as on the local pool: a job that lost its zygote every time fails, it does not
                # raise in the caller.
                if died is None or attempt == self.max_attempts:
                    self._release(member)
                    with self._cond:
                        self.stats.completed += 1
                    return result
                # The actor answered, so it stays (its pool replaces the zygote for its next job; if its
                # node is going down, that job finds out); this answer is not the program's.
                last = RayExecutorError(f"its sandbox worker died: {died}")
                self._release(member, counted=False)
            avoid = member
            log.warning(
                "job %r lost with its Ray worker (attempt %d of %d): %s",
                job.label,
                attempt,
                self.max_attempts,
                _cause(last),
            )
            if attempt < self.max_attempts:
                with self._cond:
                    self.stats.retried += 1
        raise RayExecutorError(f"job {job.label!r} was lost {self.max_attempts} times on the cluster: {last}")

    def run_many(self, jobs: Iterable[Job], window: int | None = None) -> Iterator[JobResult]:
        """Results of `jobs` in order, with at most `window` in flight (default: the cluster's capacity).

        `jobs` is consumed lazily, so a generator of millions of jobs costs the driver `window` jobs of
        memory. Jobs with remote calls cannot be given here (they need a handler per job: use `run`).
        """
        size = max(1, window or self.capacity)
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="ray-submit") as pool:
            pending: deque[Future[JobResult]] = deque()
            for job in jobs:
                pending.append(pool.submit(self.run, job))
                if len(pending) >= size:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _local_pool(self) -> SandboxPool:
        with self._local_lock:
            if self._closed:
                raise RayExecutorError("the Ray executor is closed")
            if self._local is None:
                self._local = SandboxPool(workers=self.local_workers, mode=self.mode)
            return self._local

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the sandbox actors (their pools first, so no zygote or shared file is left) (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            members, self._members = self._members, []
            self._cond.notify_all()
        live = [m for m in members if not m.dead]
        if live and ray.is_initialized():
            closing = [m.handle.close.remote() for m in live if m.pending is None]
            try:
                ray.wait(closing, num_returns=len(closing), timeout=15)
            except Exception as exc:
                log.debug("closing Ray sandbox workers: %s", exc)
            for member in live:
                try:
                    ray.kill(member.handle, no_restart=True)
                except Exception as exc:
                    log.debug("ray.kill: %s", exc)
        with self._local_lock:
            local, self._local = self._local, None
        if local is not None:
            local.close()
        self._arrays.clear()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(address: str) -> bool:
    """Join the cluster at `address`; True if this call initialised Ray (and so should shut it down)."""
    if ray.is_initialized():
        return False
    _reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except ConnectionError as exc:
        raise UsageError(
            f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head` "
            "or pass --ray-address HOST:PORT"
        ) from None
    return True


def _reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address or not host:
        return  # "auto", "ray://...", or something Ray will judge itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_CHECK_SECONDS).close()
    except OSError as exc:
        raise UsageError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head` or pass the head's --ray-address HOST:PORT"
        ) from None


def sandbox_worker_died(result: JobResult) -> str | None:
    """Why the pool that ran `result` lost its sandbox worker under the job, or None if it did not.

    Only the pool's own event counts (`reported_by == "host"`): a program can send events of any kind,
    but they arrive as the sandbox's word, never the host's.
    """
    for event in result.events:
        if event.kind == WORKER_DIED and event.reported_by == "host":
            return event.detail
    return None


def _cause(exc: BaseException) -> BaseException:
    """The original exception behind a Ray wrapper (a failed actor start, an error in our own code)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
