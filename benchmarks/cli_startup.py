"""Whole-process start-up of the CLI: `selftaught --help`, `selftaught tasks`, and `python -c pass`.

Why whole processes: what a user waits for includes the interpreter, imports and typer building the
commands; timing a function in-process hides all three. Each command runs `--repeats` times (first a
warm-up run, so the figures are for warm file caches) and the median, min and max wall times are
printed with the median CPU time (user + system; less sensitive to load than wall time), the typer
version and the load average (2 shared cores: load matters).

    .venv/bin/python benchmarks/cli_startup.py --repeats 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from importlib.metadata import version

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "selftaught --help": [sys.executable, "-m", "selftaught", "--help"],
    "selftaught run --help": [sys.executable, "-m", "selftaught", "run", "--help"],
    "selftaught tasks": [sys.executable, "-m", "selftaught", "tasks"],
}


def wall_and_cpu(command: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system of the child) of `repeats` runs after one warm-up."""
    subprocess.run(command, capture_output=True, check=True)  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, typer {version('typer')}, load average {os.getloadavg()[0]:.2f}")
    for label, command in COMMANDS.items():
        times, cpus = wall_and_cpu(command, args.repeats)
        print(
            f"{label:<24} wall median {statistics.median(times):.3f} s  (min {min(times):.3f}, max {max(times):.3f}, "
            f"n={len(times)})  CPU median {statistics.median(cpus):.3f} s"
        )


if __name__ == "__main__":
    main()
