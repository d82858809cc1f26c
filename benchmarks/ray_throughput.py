"""Jobs per second and per-job overhead: the Ray executor versus the local sandbox pool.

    .venv/bin/python benchmarks/ray_throughput.py [--jobs 400] [--repeats 3] [--json OUT]

Starts a real two-node Ray cluster on 127.0.0.1 (a head and a second `ray start` node, one CPU each,
as in tests/cluster), and measures on the same machine:
- latency: one trivial job at a time (one instance, `return x + 1`), mean milliseconds per job, which is
  the per-job overhead of each path (the program itself takes microseconds);
- throughput: `--jobs` trivial jobs pushed through a window of 2 x workers, jobs per second, with 1 and
  2 workers (local: zygotes; Ray: sandbox actors, one per node), and the CPU time the driver process
  spends per job meanwhile (what bounds one driver's dispatch rate on a big cluster);
- a large input: a job whose argument is a frozen 200x200 float64 matrix (320 kB, a Max-Cut instance),
  repeated, to show that the matrix crosses to a node once and is then reused.
Every figure is the mean and standard deviation over `--repeats` runs. Nothing is left running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from selftaught.sandbox import Job, SandboxPool
from selftaught.testing.cluster import LoopbackCluster, use_loopback_driver

TRIVIAL = "def f(x):\n    return x + 1\n"
MATRIX = "def f(a):\n    return float(a[0, 0])\n"


def trivial(i: int) -> Job:
    return Job(source=TRIVIAL, entry="f", instances=[[i]])


def latency_ms(run: Callable[[Job], Any], make: Callable[[int], Job], n: int) -> float:
    run(make(0))  # warm
    started = time.perf_counter()
    for i in range(n):
        run(make(i))
    return (time.perf_counter() - started) / n * 1000


def throughput_local(pool: SandboxPool, jobs: int, window: int) -> tuple[float, float]:
    """(jobs per second, driver-process CPU ms per job)."""
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=window) as threads:
        results = list(threads.map(pool.run, (trivial(i) for i in range(jobs))))
    assert all(r.instances[0].output == i + 1 for i, r in enumerate(results))
    return jobs / (time.perf_counter() - started), (time.process_time() - cpu) / jobs * 1000


def throughput_ray(executor: Any, jobs: int, window: int) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    results = list(executor.run_many((trivial(i) for i in range(jobs)), window=window))
    assert all(r.instances[0].output == i + 1 for i, r in enumerate(results))
    return jobs / (time.perf_counter() - started), (time.process_time() - cpu) / jobs * 1000


def summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def measure(
    run: Callable[[Job], Any],
    push: Callable[[int, int], tuple[float, float]],
    workers: int,
    args: argparse.Namespace,
    matrix: np.ndarray,
) -> dict[str, Any]:
    lat, thr, cpu, big = [], [], [], []
    for _ in range(args.repeats):
        lat.append(latency_ms(run, trivial, args.latency_jobs))
        rate, driver_cpu = push(args.jobs, 2 * workers)
        thr.append(rate)
        cpu.append(driver_cpu)
        big.append(
            latency_ms(
                run, lambda _i: Job(source=MATRIX, entry="f", instances=[[matrix]]), args.latency_jobs // 2
            )
        )
    return {
        "latency_ms": summary(lat),
        "jobs_per_s": summary(thr),
        "driver_cpu_ms": summary(cpu),
        "matrix_job_ms": summary(big),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400, help="jobs per throughput run")
    parser.add_argument("--latency-jobs", type=int, default=100, help="sequential jobs per latency run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_out", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    matrix = np.random.default_rng(0).random((200, 200))
    matrix.setflags(write=False)
    rows: dict[str, Any] = {}

    for workers in (1, 2):
        with SandboxPool(workers=workers) as pool:
            rows[f"local, {workers} worker(s)"] = measure(
                pool.run, lambda n, w, p=pool: throughput_local(p, n, w), workers, args, matrix
            )

    use_loopback_driver()
    import ray

    from selftaught.executors.ray_executor import RayExecutor

    cluster = LoopbackCluster(head_cpus=1)
    try:
        cluster.wait_for_head()
        cluster.add_node(cpus=1)
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        cluster.wait_for_cpus(2)
        for workers in (1, 2):
            with RayExecutor(address=cluster.address, workers=workers) as executor:
                rows[f"ray, {workers} worker(s)"] = measure(
                    executor.run, lambda n, w, e=executor: throughput_ray(e, n, w), workers, args, matrix
                )
                rows[f"ray, {workers} worker(s)"]["nodes"] = len({i["node"] for i in executor.worker_info()})
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()

    keys = ("latency_ms", "jobs_per_s", "driver_cpu_ms", "matrix_job_ms")
    print(
        f"{'executor':22} {'latency ms/job':>16} {'jobs/s':>16} {'driver CPU ms/job':>18} {'320 kB-input ms':>16}"
    )
    for name, row in rows.items():
        cells = [f"{row[key]['mean']:.2f} ± {row[key]['sd']:.2f}" for key in keys]
        print(f"{name:22} {cells[0]:>16} {cells[1]:>16} {cells[2]:>18} {cells[3]:>16}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"argv": sys.argv[1:], "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
