"""Where a hanging candidate's time goes: 30 calls at three_sat's 0.1 s CPU limit, taken apart.

    PYTHONPATH=src python benchmarks/hang_cost.py [--calls 30] [--limit 0.1] [--repeats 3] [--busy 0,4]

A hanging program under `--protocol paper` on three_sat runs every instance into its limit (the
original had no early return there). Each such call costs (a) the CPU limit itself, stretched by the
load (the limit is CPU time: on a busy machine the call gets a fraction of a core), and (b) a fresh
child for the next instance (the hung one is killed: fork, scratch tmpfs, Landlock ruleset, confine,
the program's source defined again). Four jobs of `--calls` instances in the real strong sandbox
(cpu clock, the same limit) show which dominates:

- `loop`: every call spins into the limit, is killed, and the next runs in a fresh child (a + b);
- `spin`: every call computes 90% of the limit and returns, in the same child (a only);
- `exit`: every call ends its process at once, so the next needs a fresh child (b only);
- `raise`: every call raises at once, in the same child (neither: the floor of a call).

Printed per job: wall seconds (median of `--repeats`), wall per call, CPU seconds the calls were
charged (as the zygote measured them), per `--busy` count of this benchmark's own busy loops.
"""

from __future__ import annotations

import argparse
import statistics
import time

from busy_loops import busy_loops, load

from selftaught.sandbox import Job, SandboxPool

PROGRAMS = {
    "loop": "def f(x):\n    while True:\n        pass\n",
    "spin": (
        "import time\n"
        "def f(need):\n"
        "    start = time.process_time()\n"
        "    while time.process_time() - start < need:\n"
        "        pass\n"
        "    return 1\n"
    ),
    "exit": "import os\ndef f(x):\n    os._exit(3)\n",
    "raise": "def f(x):\n    raise ValueError('no')\n",
}


def measure(pool: SandboxPool, kind: str, calls: int, limit: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds charged to the calls) of one job of `calls` instances of `kind`."""
    job = Job(
        source=PROGRAMS[kind],
        entry="f",
        instances=[[0.9 * limit]] * calls,
        instance_timeout=limit,
        clock="cpu",
        label=f"hang-cost {kind}",
    )
    started = time.perf_counter()
    result = pool.run(job)
    wall = time.perf_counter() - started
    return wall, sum(item.seconds for item in result.instances)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--limit", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", default="0,4", help="busy-loop counts to measure beside, comma-separated")
    args = parser.parse_args()
    print("| busy loops | load before / after | job | wall s (median) | wall per call s | CPU s charged |")
    print("|---|---|---|---|---|---|")
    with SandboxPool(mode="strong", workers=1) as pool:
        measure(pool, "raise", 2, args.limit)  # warm
        for count in (int(c) for c in args.busy.split(",")):
            with busy_loops(count):
                before = load()
                rows = {}
                for kind in PROGRAMS:
                    runs = [measure(pool, kind, args.calls, args.limit) for _ in range(args.repeats)]
                    rows[kind] = (
                        statistics.median(w for w, _ in runs),
                        statistics.median(c for _, c in runs),
                    )
                after = load()
            for kind, (wall, cpu) in rows.items():
                print(
                    f"| {count} | {before:.1f} / {after:.1f} | {kind} | {wall:.2f} | {wall / args.calls:.3f} "
                    f"| {cpu:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
