"""What the trusted host asks a sandboxed child to do, and what comes back.

A job is "define this source, then call `entry` once per instance with these arguments". Arguments and
outputs are plain JSON values or numpy arrays (never pickle). An argument may be a `Proxy`: inside the
child it becomes an object whose methods are remote calls answered by the host (how an improver gets
`utility` and `language_model` without ever holding the real ones).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Proxy:
    """A capability handed to generated code.

    `name` identifies it in remote calls (`rpc(name, method, args)` on the host side). `attributes` are
    read-only values the child may read (e.g. `budget`, `str`); `methods` are the names it may call.
    The child can set attributes on its copy, but that never reaches the host; it is reported as an event.
    """

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ()
    callable: bool = False  # `proxy(x)` maps to method "__call__"
    live: tuple[
        str, ...
    ] = ()  # attributes read from the host at each access (e.g. `uses`), method "__getattr__"


@dataclass(frozen=True)
class Job:
    """One unit of sandboxed work.

    `instances` holds one argument list per call of `entry`; the child never sees instance i+1 before it
    has answered instance i, and each call is timed by the trusted side against `instance_timeout`.
    `cpu_bound` jobs are limited to one per core; jobs that mostly wait on remote calls (improvers) are not.
    """

    source: str
    entry: str
    instances: list[list[Any]]
    instance_timeout: float = 2.0
    job_timeout: float | None = None  # wall-clock cap for the whole job; default derived from instances
    cpu_bound: bool = True
    memory_mb: int = 1024
    label: str = ""  # for logs and events: e.g. "eval maxcut 3fa2c1" or "improver t=1 test=2"
    # "cpu": each call is limited and measured by the child's own CPU time (all threads), with a wall
    # backstop of a few times the limit against sleepers; "wall": by wall-clock time. None: "cpu" for
    # cpu_bound jobs, "wall" for jobs that mostly wait on remote calls (improvers, evaluators).
    clock: str | None = None
    seeds: list[int] | None = None  # per instance, for `random` and numpy (see sandbox.seeding)
    setup_seed: int | None = None  # in force while the source's module-level code runs
    # Host-side only (never sent anywhere): judges the leading instances one by one so that a failing
    # program stops early (see `InstanceGate`). Executors that cannot consult it run every instance.
    gate: InstanceGate | None = field(default=None, compare=False, repr=False)
    # A `remote_calls.CallingJob` (the job whose remote call is starting this one): run beside it, on its sandbox
    # worker, with a socket between the two children (`inside/child.take_peer`). Executors that cannot
    # ignore it and the two talk through the host.
    peer_of: Any = None
    # Threads numerical libraries (numpy's BLAS, OpenMP, MKL) may start in the job (`inside/libthreads`).
    # 1, the default, for the paper's tasks: their calls are charged by CPU time, which a thread pool
    # would spread. ORDINARY_THREADS for a job that must run as an ordinary process would (OpenEvolve's
    # evaluators and candidates, timed by the wall clock): the count of the machine that runs it
    # (`ordinary_library_threads`). At most MAX_LIBRARY_THREADS; the job's process limit counts these
    # threads as it counts its own.
    library_threads: int = 1

    @property
    def time_clock(self) -> str:
        return self.clock or ("cpu" if self.cpu_bound else "wall")


MAX_LIBRARY_THREADS = 16  # well under the 64 threads a job's uid may run, leaving the program its own
ORDINARY_THREADS = 0  # `Job.library_threads`: as many as an ordinary process gets where the job runs


def ordinary_library_threads() -> int:
    """The BLAS and OpenMP thread count an ordinary process of this host gets when no variable sets it:
    one per CPU it may run on (OpenBLAS and OpenMP runtimes count the affinity mask), at most
    MAX_LIBRARY_THREADS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_LIBRARY_THREADS))


# What library threads map beyond one thread, which the job's address-space limit counts (measured in
# sandboxed jobs, docs/sandbox.md): per thread beyond the first, OpenBLAS's buffer of its own (32 MiB in
# numpy's x86-64 builds) and the thread's stack with its guard page (glibc's default stack: the stack
# limit the zygote's interpreter started with); once, the malloc arena the threads share (the job's
# MALLOC_ARENA_MAX=2 allows one beside the main arena; glibc reserves 64 MiB for it) and the BLAS
# thread server's own ~1 MiB.
OPENBLAS_BUFFER = 32 << 20
THREAD_STACK_FALLBACK = 32 << 20  # glibc's default when the stack limit is unlimited is at most this
GUARD_PAGE = 4 << 10
SHARED_BY_LIBRARY_THREADS = (64 + 2) << 20


def library_threads_memory_mb(threads: int) -> int:
    """The address space (MiB, rounded up) `threads` library threads map beyond what one thread does,
    so a job's memory limit can grow by it and its own code keeps the `memory_mb` it asked for. 0 for
    one thread. Host-decided: the stack size is this host's, nothing comes from the job."""
    if threads <= 1:
        return 0
    stack, _ = resource.getrlimit(resource.RLIMIT_STACK)
    if stack == resource.RLIM_INFINITY or stack <= 0:
        stack = THREAD_STACK_FALLBACK
    extra = (threads - 1) * (OPENBLAS_BUFFER + stack + GUARD_PAGE) + SHARED_BY_LIBRARY_THREADS
    return -(-extra // (1 << 20))


@dataclass
class InstanceResult:
    """Outcome of one call. `error` is None on success; `seconds` is measured by the trusted side."""

    output: Any = None
    error: str | None = None  # "timeout" | "exception: ..." | "killed: ..." | "unserializable: ..." | ...
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Verdict:
    """The host's word on one judged instance: go on, stop the job here (`stop` says why), or judge no
    more and run the rest straight away (`release`)."""

    stop: str | None = None
    release: bool = False


class InstanceGate(Protocol):
    """Why a failing program need not run all its instances: the host judges instance i before i + 1
    is sent, for the first `held` instances, and may stop the job there.

    The strict protocol's cascade (the first k all failed) and the paper protocol's early returns (the
    original code returned at the first failure) are both gates. The zygote waits for each verdict,
    so no instance after a stop ever starts; the scores never depend on the gate (the evaluation
    applies the same rule to whatever ran), only the cost does.
    """

    held: int

    def verdict(self, index: int, result: InstanceResult) -> Verdict: ...


@dataclass
class SandboxEvent:
    """Something the sandbox noticed or blocked (e.g. a denied syscall, a proxy attribute write).

    `reported_by` says whose word it is: "host" or "zygote" (trusted: timeouts, protocol violations,
    refused calls) or "sandbox" (the confined child's own audit hook: useful telemetry, but a hostile
    program can send anything there, so it is never read as the host's finding).
    """

    kind: str
    detail: str
    reported_by: str = "host"

    @property
    def untrusted(self) -> bool:
        return self.reported_by == "sandbox"


@dataclass
class JobResult:
    instances: list[InstanceResult]
    setup_error: str | None = None  # the source failed to define `entry` (syntax error, import error...)
    stdout: str = ""  # captured, capped
    stderr: str = ""  # captured, capped
    events: list[SandboxEvent] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped: str | None = None  # the job's gate stopped it before its last instance: why
