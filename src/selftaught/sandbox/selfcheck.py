"""Verify the sandbox from the inside and measure what a job costs (used by `selftaught doctor`).

`check_layers` says what the machine offers; this module proves that the layers are in force by running
a probe program in a real pool (each probe must fail inside) and times trivial jobs end to end.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from selftaught.sandbox.job import Job
from selftaught.sandbox.launch import JOB_ENV
from selftaught.sandbox.pool import SandboxPool

PROBE = """
import os, socket

def probe():
    out = {"uid": os.getuid(), "env": sorted(os.environ)}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "allowed"
        except BaseException as exc:
            out[name] = "blocked: " + type(exc).__name__
    attempt("fork", os.fork)
    attempt("read the host's /etc/hostname", lambda: open("/etc/hostname").read())
    attempt("write outside scratch", lambda: open("/tmp/doctor-probe", "w").write("x"))
    attempt("tcp connect", lambda: socket.socket().connect(("127.0.0.1", 9)))
    attempt("signal parent", lambda: os.kill(os.getppid(), 0))
    attempt("allocate 8 GB", lambda: bytearray(8 << 30))
    return out
"""
PROBES = PROBE.count("attempt(") - 1
TRIVIAL = "def f(x):\n    return x\n"
# The names a job's environment may hold (values are the sandbox's own, never the host's).
JOB_ENV_NAMES = frozenset(JOB_ENV) | {"HOME", "TMPDIR", "USER", "LOGNAME"}


@dataclass
class SelfCheck:
    """What the probe saw inside, and the measured cost of a trivial job."""

    mode: str
    probe: dict[str, Any] = field(default_factory=dict)
    overhead_ms: float | None = None
    overhead_ms_stdev: float | None = None
    throughput_jobs_per_s: float | None = None
    error: str | None = None
    worker: dict[str, Any] = field(default_factory=dict)  # the layers the zygote confirmed from inside

    @property
    def contained(self) -> bool:
        attempts = [v for k, v in self.probe.items() if k not in ("uid", "env")]
        return (
            len(attempts) == PROBES
            and self.probe.get("uid") not in (None, 0)
            and isinstance(self.probe.get("env"), list)
            and set(self.probe["env"]) <= JOB_ENV_NAMES
            and all(str(v).startswith("blocked") for v in attempts)
        )


def run_selfcheck(mode: Literal["strong", "weak"], jobs: int = 200, workers: int | None = None) -> SelfCheck:
    """Start a pool, run the probe, then time `jobs` trivial jobs sequentially and concurrently."""
    check = SelfCheck(mode)
    with SandboxPool(workers=workers, mode=mode) as pool:
        check.worker = pool.worker_layers()
        result = pool.run(Job(source=PROBE, entry="probe", instances=[[]], memory_mb=256))
        check.probe = result.instances[0].output or {"error": result.setup_error or result.instances[0].error}
        for _ in range(20):  # warm up
            pool.run(Job(source=TRIVIAL, entry="f", instances=[[0]]))
        samples = []
        for i in range(jobs):
            start = time.perf_counter()
            pool.run(Job(source=TRIVIAL, entry="f", instances=[[i]]))
            samples.append((time.perf_counter() - start) * 1000)
        check.overhead_ms = statistics.mean(samples)
        check.overhead_ms_stdev = statistics.stdev(samples)
        check.throughput_jobs_per_s = measure_throughput(pool, jobs)
    return check


def measure_throughput(pool: SandboxPool, jobs: int, threads: int | None = None) -> float:
    """Jobs per second with `threads` host threads submitting trivial jobs at once."""
    from concurrent.futures import ThreadPoolExecutor

    threads = threads or 2 * pool.workers
    job = Job(source=TRIVIAL, entry="f", instances=[[1]])
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda _: pool.run(job), range(jobs)))
    return jobs / (time.perf_counter() - start)
