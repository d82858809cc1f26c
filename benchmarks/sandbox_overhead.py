"""Per-job overhead and throughput of the sandbox, against a bare `os.fork` of the host.

Usage: .venv/bin/python benchmarks/sandbox_overhead.py [--jobs 500] [--repeats 5] [--workers 2]

Prints, per repeat and as mean ± sd over repeats:
- bare fork:  the host forks a child per job that runs f(x) and answers over a pipe (no isolation);
- sandbox:    a strong-mode SandboxPool job (bwrap zygote, uid drop, Landlock, seccomp, rlimits), one
              host thread submitting jobs one after another (latency = per-job overhead);
- throughput: the same pool, 2 x workers host threads submitting concurrently (jobs/s);
- CPU per job: user+system CPU of host, zygotes and children per sequential job — unlike wall-clock
              figures this barely depends on what else the machine is running, and 1000 x cores / it
              bounds the throughput an idle machine can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from selftaught.sandbox import Job, SandboxPool

SOURCE = "def f(x):\n    return x\n"


def bare_fork_cpu_ms(jobs: int) -> float:
    """CPU (host + its reaped children) per bare-fork job."""
    before = os.times()
    bare_fork_ms(jobs)
    after = os.times()
    spent = sum(
        getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system")
    )
    return spent * 1000 / jobs


def bare_fork_ms(jobs: int) -> float:
    """Mean ms per job for fork + run + JSON answer over a pipe + waitpid, no isolation at all."""
    namespace: dict[str, object] = {}
    exec(SOURCE, namespace)
    func = namespace["f"]
    start = time.perf_counter()
    for i in range(jobs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, json.dumps(func(i)).encode())  # type: ignore[operator]
            os._exit(0)
        os.close(w)
        json.loads(os.read(r, 1 << 16))
        os.close(r)
        os.waitpid(pid, 0)
    return (time.perf_counter() - start) * 1000 / jobs


def _zygote_cpu_seconds(pool: SandboxPool) -> float:
    """CPU of every process below the pool's bwrap processes, including reaped children (cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for zygote in pool._zygotes:
        todo = [zygote.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/task/{pid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
            except OSError:
                continue
            total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def cpu_ms_per_job(pool: SandboxPool, jobs: int) -> float:
    host0, zyg0 = os.times(), _zygote_cpu_seconds(pool)
    sandbox_ms(pool, jobs)
    host1, zyg1 = os.times(), _zygote_cpu_seconds(pool)
    host = (host1.user - host0.user) + (host1.system - host0.system)
    return (host + zyg1 - zyg0) * 1000 / jobs


def sandbox_ms(pool: SandboxPool, jobs: int) -> float:
    start = time.perf_counter()
    for i in range(jobs):
        result = pool.run(Job(source=SOURCE, entry="f", instances=[[i]]))
        assert result.instances[0].output == i, result
    return (time.perf_counter() - start) * 1000 / jobs


def throughput(pool: SandboxPool, jobs: int, threads: int) -> float:
    job = Job(source=SOURCE, entry="f", instances=[[1]])
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        outputs = list(ex.map(lambda _: pool.run(job).instances[0].output, range(jobs)))
    assert outputs == [1] * jobs
    return jobs / (time.perf_counter() - start)


def _summary(name: str, values: list[float], unit: str) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{name:<28} {statistics.mean(values):8.2f} ± {sd:5.2f} {unit}  (runs: {', '.join(f'{v:.2f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}; workers: {args.workers}")
    bare, latency, rate, bare_rate, cpu, bare_cpu = [], [], [], [], [], []
    with SandboxPool(workers=args.workers, mode="strong") as pool:
        sandbox_ms(pool, 50)  # warm up
        for _ in range(args.repeats):
            bare.append(bare_fork_ms(args.jobs))
            bare_rate.append(1000 / bare[-1])
            latency.append(sandbox_ms(pool, args.jobs))
            rate.append(throughput(pool, args.jobs, 2 * args.workers))
            cpu.append(cpu_ms_per_job(pool, args.jobs))
            bare_cpu.append(bare_fork_cpu_ms(args.jobs))
    print(_summary("bare os.fork, ms/job", bare, "ms"))
    print(_summary("sandbox (all layers), ms/job", latency, "ms"))
    print(_summary("sandbox overhead vs fork", [s - b for s, b in zip(latency, bare, strict=True)], "ms"))
    print(_summary("bare os.fork, jobs/s (1 thr)", bare_rate, "jobs/s"))
    print(_summary(f"sandbox throughput ({2 * args.workers} thr)", rate, "jobs/s"))
    print(_summary("bare os.fork CPU per job", bare_cpu, "ms"))
    print(_summary("sandbox CPU per job", cpu, "ms"))
    print(_summary("ratio sandbox/fork, latency", [s / b for s, b in zip(latency, bare, strict=True)], "x"))
    print(_summary("ratio sandbox/fork, CPU", [s / b for s, b in zip(cpu, bare_cpu, strict=True)], "x"))
    print(_summary("ratio throughput/fork rate", [s / b for s, b in zip(rate, bare_rate, strict=True)], "x"))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
