"""What a BLAS thread pool costs a wall-clock timing on a busy machine: AlgoTune polynomial_real's solve.

    python benchmarks/blas_threads.py [--threads 1 2] [--busy 6] [--calls 4]

Times `numpy.roots` of a degree-500 polynomial with real roots (a 500 x 500 eigenvalue problem, what
the polynomial_real example's initial program solves) by the wall clock, in a fresh interpreter per
thread count (`OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS`, `MKL_NUM_THREADS` set before numpy loads),
optionally beside `--busy` CPU-bound loops started here. Why: OpenEvolve's evaluator and candidate jobs
run an ordinary process's BLAS threads (docs/sandbox.md, "BLAS threads, per kind of job") because the
native scores are timed that way; this shows how much that choice moves a timing under load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

TIMED = r"""
import json, random, sys, time
import numpy
random.seed(0)
roots = set()
while len(roots) < 500:
    roots.add(round(random.uniform(-1, 1), 6))
coefficients = numpy.poly(sorted(roots)).tolist()
seconds = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    numpy.roots(coefficients)
    seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""

BUSY = "while True:\n    pass\n"


def timed(threads: int, calls: int) -> list[float]:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    done = subprocess.run(
        [sys.executable, "-c", TIMED, str(calls)], env=env, capture_output=True, text=True, check=True
    )
    return [float(value) for value in json.loads(done.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, len(os.sched_getaffinity(0))])
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound loops running beside the timing")
    parser.add_argument("--calls", type=int, default=4)
    args = parser.parse_args()
    loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
    try:
        print(f"load {os.getloadavg()[0]:.1f}, {args.busy} busy loops beside")
        for threads in args.threads:
            seconds = timed(threads, args.calls)
            print(f"{threads} BLAS thread(s): " + ", ".join(f"{value:.3f}" for value in seconds) + " s")
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


if __name__ == "__main__":
    main()
