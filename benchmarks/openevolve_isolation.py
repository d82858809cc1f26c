"""Cost of isolating OpenEvolve candidates: wall time per evaluation of each directory's initial program.

Each evaluation is one evaluator job, one candidate session for its imports and calls, and one job per
`python script.py` it starts (see docs/openevolve.md). Prints, per directory, the mean and standard
deviation of the wall time over `--repeats` evaluations after one warm-up, the utility (it must not
vary) and the number of requests (imports, calls, scripts) the evaluator made per evaluation.

    .venv/bin/python benchmarks/openevolve_isolation.py --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task, openevolve_broker

ROOT = Path(__file__).parents[1]
DIRECTORIES = (
    ROOT / "examples" / "openevolve_minimize",
    ROOT / "tests" / "openevolve" / "fixtures" / "point_direct",
    ROOT / "tests" / "openevolve" / "fixtures" / "circle_packing",
)


def count_jobs() -> list[int]:
    """Counts the evaluator's requests by wrapping the broker's call (the benchmark's only instrumentation)."""
    counts = [0]
    original = openevolve_broker.CandidateBroker.__call__

    def counted(self, *args):  # type: ignore[no-untyped-def]
        counts[0] += 1
        return original(self, *args)

    openevolve_broker.CandidateBroker.__call__ = counted  # type: ignore[method-assign]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    counts = count_jobs()
    with SandboxPool(workers=args.workers) as pool:
        for directory in DIRECTORIES:
            task = load_task(f"openevolve:{directory}")
            task.evaluate(task.seed_algorithm, executor=pool)  # warm-up
            counts[0] = 0
            times, utilities = [], set()
            for _ in range(args.repeats):
                started = time.perf_counter()
                evaluation = task.evaluate(task.seed_algorithm, executor=pool)
                times.append(time.perf_counter() - started)
                utilities.add(round(evaluation.utility, 9))
            print(
                f"{directory.name:22s} {statistics.mean(times) * 1000:6.0f} ± {statistics.stdev(times) * 1000:4.0f} ms"
                f"  utility {sorted(utilities)}  requests/evaluation {counts[0] / args.repeats:.0f}"
            )


if __name__ == "__main__":
    main()
