"""What one update of the live view costs the machine a run is computing on.

A page polls its run's version every second (`stamp`: two `stat` calls); when the run committed, the
server reads the store (`load_run_summary`, read-only) and draws the page (`run_body`: three matplotlib
plots and the highlighted code), then waits at least `max(MIN_PAUSE, PAUSE_FACTOR x that cost)` before
reading that run again. A plot whose numbers did not change is not drawn again (`plots.remembered`):
most commits (an LM call, an event) change none. This prints the CPU time of each step (process CPU, less sensitive to load
than wall time; median, min and max over `--repeats`), and the share of one core a viewer can take at
most. Give it a finished run directory, e.g. one of

    .venv/bin/selftaught run --iterations 4 --tests 2 --utility-budget 8 --runs-dir /tmp/bench-runs
    .venv/bin/python benchmarks/serve_update.py /tmp/bench-runs/<run_id> --repeats 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from selftaught.report import plots
from selftaught.report.html import run_body
from selftaught.report.load import load_run_summary
from selftaught.serve.views import MIN_PAUSE, PAUSE_FACTOR, stamp


def cpu_times(work: Callable[[], object], repeats: int) -> list[float]:
    work()  # warm-up: imports, file caches
    times = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return times


def line(name: str, times: list[float]) -> str:
    return f"{name:<28} median {1000 * statistics.median(times):9.2f} ms CPU  (min {1000 * min(times):.2f}, max {1000 * max(times):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    summary = load_run_summary(args.run)
    stamps = cpu_times(lambda: stamp(args.run), args.repeats * 100)
    loads = cpu_times(lambda: load_run_summary(args.run), args.repeats)

    def cold() -> str:
        plots._DRAWN.clear()  # every plot drawn again: what a commit that changed them all costs
        return run_body(summary)

    renders = cpu_times(cold, args.repeats)
    warm = cpu_times(lambda: run_body(summary), args.repeats)
    print(
        f"run {args.run.name}: {len(summary.iterations)} iterations, {len(summary.candidates)} estimates, "
        f"{len(summary.downstream)} downstream tests, {len(summary.events)} events; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(line("version (stamp)", stamps))
    print(line("read store (load_run_summary)", loads))
    print(line("draw page, plots changed", renders))
    print(line("draw page, plots unchanged", warm))
    for name, draw in (("plots changed", renders), ("plots unchanged", warm)):
        update = statistics.median(loads) + statistics.median(draw)
        pause = max(MIN_PAUSE, PAUSE_FACTOR * update)
        print(
            f"one update, {name}: {1000 * update:.0f} ms CPU; next read of a committing run after "
            f"{pause:.2f} s; at most {100 * update / pause:.0f}% of one core per watched run"
        )


if __name__ == "__main__":
    main()
