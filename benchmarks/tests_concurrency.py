"""Do meta-utility tests give the same values run concurrently and one at a time?

Runs `selftaught.meta_utility` (offline model by default) twice on the same task, improver and test
seed: as usual (the `--tests` improver runs concurrently) and with the test runs forced one at a time.
Prints each test's validation and test utility from both, and whether they are identical. Scoring
version 2 seeds each improver run by its test index and each downstream instance by a keyed hash, and
times calls by CPU time, so they should be.

    .venv/bin/python benchmarks/tests_concurrency.py --task three_sat --tests 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import tempfile
import time

import selftaught
from selftaught.stop import meta_utility as meta_module


def run(task: str, tests: int, sequential: bool) -> tuple[list[tuple[object, ...]], float]:
    real = concurrent.futures.ThreadPoolExecutor

    def one_at_a_time(*args: object, **kwargs: object) -> concurrent.futures.ThreadPoolExecutor:
        kwargs["max_workers"] = 1
        return real(*args[1:], **kwargs)  # type: ignore[arg-type]

    if sequential:
        meta_module.ThreadPoolExecutor = one_at_a_time  # type: ignore[assignment,misc]
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as runs:
            result = selftaught.meta_utility("seed", task=task, tests=tests, test_seed=1234567, runs_dir=runs)
    finally:
        meta_module.ThreadPoolExecutor = real  # type: ignore[misc]
    data = result.to_dict()
    values = [(t["index"], t["program_sha"], t["utility_val"], t["utility_test"]) for t in data["per_test"]]
    return sorted(values), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="three_sat")
    parser.add_argument("--tests", type=int, default=3)
    args = parser.parse_args()
    together, t1 = run(args.task, args.tests, sequential=False)
    apart, t2 = run(args.task, args.tests, sequential=True)
    print(
        json.dumps(
            {
                "concurrent": together,
                "one_at_a_time": apart,
                "identical": together == apart,
                "seconds": [round(t1, 1), round(t2, 1)],
            }
        )
    )


if __name__ == "__main__":
    main()
