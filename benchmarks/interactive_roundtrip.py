"""Cost of host-driven (interactive) evaluation: one remote-call round trip, and one bin_packing evaluation.

    .venv/bin/python benchmarks/interactive_roundtrip.py [--calls 2000] [--repeats 3]

Round trip: a sandboxed child calls `host.step(i)` N times in a loop against a handler that answers at
once; reported is wall time per call (child -> zygote -> host -> zygote -> child). Evaluation: the
bin_packing seed (best fit) on the validation split (5 x 500 items) and the test split (5 x 5,000 items),
wall seconds per evaluation. The round trip is measured both ways the pool can serve a remote call:
inline (handlers marked `inline = True`, as the interactive tasks') and with a thread per call. Run on the shared 2-core machine:
numbers move with the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from selftaught.sandbox import SandboxPool
from selftaught.sandbox.job import Job, Proxy
from selftaught.tasks import evaluate, load_task

LOOP = "def run(host, n):\n    total = 0\n    for i in range(n):\n        total += host.step(i)\n    return total\n"


class _Immediate:
    """A handler that answers at once, served inline like the interactive tasks' (`inline = True`)."""

    def __init__(self, inline: bool = True) -> None:
        self.inline = inline

    def __call__(self, proxy: str, method: str, args: list, kwargs: dict) -> int:
        return 1


def round_trip(pool: SandboxPool, calls: int, inline: bool = True) -> float:
    """Seconds per remote call, measured over `calls` calls in one sandboxed job."""
    job = Job(
        source=LOOP,
        entry="run",
        instances=[[Proxy(name="host", methods=("step",)), calls]],
        instance_timeout=600.0,
    )
    started = time.perf_counter()
    result = pool.run(job, _Immediate(inline))
    elapsed = time.perf_counter() - started
    assert result.instances[0].output == calls, result
    return elapsed / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    task = load_task("bin_packing")
    report: dict[str, object] = {}
    with SandboxPool(mode="strong") as pool:
        # Paired, alternating: inline (the interactive tasks) and a thread per call (the default path).
        trips, threaded = [], []
        for _ in range(args.repeats):
            trips.append(round_trip(pool, args.calls))
            threaded.append(round_trip(pool, args.calls, inline=False))
        report["round_trip_us"] = [round(t * 1e6, 1) for t in trips]
        report["round_trip_threaded_us"] = [round(t * 1e6, 1) for t in threaded]
        for split in ("val", "test"):
            walls = []
            for _ in range(args.repeats):
                result = evaluate(task, task.seed_algorithm, split=split, seed=90_000, executor=pool)
                assert result.failures == 0, result.per_instance
                walls.append(result.wall_seconds)
            report[f"{split}_seconds"] = [round(w, 2) for w in walls]
            report[f"{split}_excess_pct"] = round(result.metrics["excess_pct"], 3)
        report["median_round_trip_us"] = round(statistics.median(trips) * 1e6, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
