"""Where sandboxed jobs run: the contract every executor (local pool, Ray) fulfils.

It lives in `sandbox` because the sandbox pool implements it and the executors package (Ray) builds on
the sandbox: the protocol sits below both, so neither imports the other's side.

Everything above this layer (tasks, STOP) submits `Job`s and gets `JobResult`s; it never knows whether
the child ran in a local zygote or on a cluster node. Remote calls from a child (`Proxy` methods) are
answered by an `RpcHandler` that always runs on the host, which is where budgets and keys live.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from selftaught.sandbox.job import Job, JobResult


class RpcHandler(Protocol):
    """Answers a child's call `proxy.method(*args, **kwargs)`.

    Returns a JSON-able value (numpy arrays allowed). Raising an exception makes the child's call raise
    an exception with the same message (type name preserved as text, never the host object).
    Must be thread-safe: improvers call proxies from thread pools.
    """

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any: ...


_answering = threading.local()


def calling_instance() -> int | None:
    """While an `RpcHandler` answers a call: the index of the job's instance the child was running when
    it made the call, as its zygote saw it (-1: no instance was running, e.g. the program's module-level
    code during set-up); None if the executor does not say.

    Why: a handler that serves one capability per instance (host-driven sessions) must not let the
    program use instance k's capability while it is timed for another instance, or at import time."""
    return getattr(_answering, "instance", None)


@contextlib.contextmanager
def answering_for(instance: int | None) -> Iterator[None]:
    """Calls answered in this thread inside the block were made during `instance` (see above)."""
    previous = calling_instance()
    _answering.instance = instance
    try:
        yield
    finally:
        _answering.instance = previous


class Stop:
    """Ends running jobs from another host thread: `executor.run(job, stop=stop)`, then `stop.set()`.

    Why: a job that serves a larger piece of work (a candidate's session during an OpenEvolve
    evaluation, a script the evaluator started) must end when that work ends, by its zygote killing the
    child, not by a timer inside the child that the generated code can disarm. Setting it is final; a
    job started with a stop already set ends at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._hooks: dict[int, Callable[[], None]] = {}
        self._next = 0

    def set(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            hooks = list(self._hooks.values())
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        return self._set

    def on_set(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` once when the stop is set (at once if it is); returns a function that forgets it."""
        with self._lock:
            if not self._set:
                key = self._next
                self._next += 1
                self._hooks[key] = hook

                def forget() -> None:
                    with self._lock:
                        self._hooks.pop(key, None)

                return forget
        hook()
        return lambda: None


class Executor(Protocol):
    """Runs sandboxed jobs. Thread-safe: many host threads may call `run` at once."""

    def run(self, job: Job, rpc: RpcHandler | None = None, stop: Stop | None = None) -> JobResult: ...

    def cpu_slot(self, owner: str) -> AbstractContextManager[None]:
        """Hold one of the CPU slots `cpu_bound` jobs take (the same fair gate, shared between owners)
        while a piece of work made of several jobs runs; its jobs then say `cpu_bound=False`."""
        ...

    def close(self) -> None: ...
