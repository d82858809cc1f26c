"""The default executor: sandboxed jobs on this machine, through the local zygote pool.

A thin named wrapper so that callers choose an executor by kind (local, Ray) without knowing sandbox
internals; all isolation lives in `selftaught.sandbox`.
"""

from __future__ import annotations

from typing import Literal

from selftaught.executors.base import RpcHandler
from selftaught.sandbox.job import Job, JobResult
from selftaught.sandbox.pool import SandboxPool


class LocalExecutor:
    """`Executor` over a `SandboxPool` it owns (`workers` zygotes, `mode` strong or weak)."""

    def __init__(self, workers: int | None = None, mode: Literal["strong", "weak"] = "strong") -> None:
        self.pool = SandboxPool(workers=workers, mode=mode)

    def run(self, job: Job, rpc: RpcHandler | None = None) -> JobResult:
        return self.pool.run(job, rpc)

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
