"""Where sandboxed jobs run: the contract every executor (local pool, Ray) fulfils.

It lives in `sandbox` because the sandbox pool implements it and the executors package (Ray) builds on
the sandbox: the protocol sits below both, so neither imports the other's side.

Everything above this layer (tasks, STOP) submits `Job`s and gets `JobResult`s; it never knows whether
the child ran in a local zygote or on a cluster node. Remote calls from a child (`Proxy` methods) are
answered by an `RpcHandler` that always runs on the host, which is where budgets and keys live.
"""

from __future__ import annotations

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


class Executor(Protocol):
    """Runs sandboxed jobs. Thread-safe: many host threads may call `run` at once."""

    def run(self, job: Job, rpc: RpcHandler | None = None) -> JobResult: ...

    def close(self) -> None: ...
