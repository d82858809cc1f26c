"""CPU-time noise: the same seeded call, run again and again, and the CPU seconds each run took.

    PYTHONPATH=src python benchmarks/cpu_noise.py [--task three_sat] [--index 6] [--repeats 30] [--busy 0,4]

One call of the task's seed program on one validation instance (the paper's fixed seed), with the
per-instance seeds of a real evaluation, so every run computes exactly the same thing. Each run is a
job of its own in the real strong sandbox (a fresh child), timed as evaluations are: by the child's
CPU time (user + system, all threads), read by the zygote, with a limit far above the call's need.
For each `--busy` count (busy loops of this benchmark's own beside it) it prints min / median / max
CPU seconds and the max/min ratio, with the load average before and after.

Why it matters: a task's instance limit is CPU time, so a call that needs about its limit can pass in
one run and time out in the next on the same machine; tests must give limits far from a call's need.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from busy_loops import busy_loops, load

from selftaught.sandbox import SandboxPool
from selftaught.tasks import builtin_task
from selftaught.tasks.evaluation import instance_job
from selftaught.tasks.host_scored import VAL_SEED_BASE

LIMIT = 30.0  # CPU seconds: far above any seed call's need, so no run is cut short


def cpu_seconds(pool: SandboxPool, task_name: str, index: int, repeats: int) -> list[float]:
    """CPU seconds of `repeats` runs of the seed program on validation instance `index`."""
    task = builtin_task(task_name)
    instances = task.instances("val", VAL_SEED_BASE)
    job = instance_job(task, task.seed_algorithm, instances, "val", VAL_SEED_BASE)
    # The one instance, with its own seed: the same call an evaluation makes for it.
    assert job.seeds is not None
    one = replace(
        job, instances=[job.instances[index]], seeds=[job.seeds[index]], instance_timeout=LIMIT, gate=None
    )
    found = []
    for _ in range(repeats):
        [result] = pool.run(one).instances
        if result.error is not None:
            raise SystemExit(f"the call failed: {result.error}")
        found.append(result.seconds)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="three_sat")
    parser.add_argument("--index", type=int, default=6)  # ~0.1 s: about the limit
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--busy", default="0,4", help="busy-loop counts to measure beside, comma-separated")
    args = parser.parse_args()
    print("| busy loops | load before / after | runs | CPU s min | median | max | max / min |")
    print("|---|---|---|---|---|---|---|")
    with SandboxPool(mode="strong", workers=1) as pool:
        cpu_seconds(pool, args.task, args.index, 2)  # warm: the zygote's first children
        for count in (int(c) for c in args.busy.split(",")):
            with busy_loops(count):
                before = load()
                found = cpu_seconds(pool, args.task, args.index, args.repeats)
                after = load()
            low, mid, high = min(found), statistics.median(found), max(found)
            print(
                f"| {count} | {before:.1f} / {after:.1f} | {len(found)} | {low:.3f} | {mid:.3f} | {high:.3f} "
                f"| {high / low:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
