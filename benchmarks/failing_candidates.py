"""What a failing candidate costs: a program that loops for ever and one that raises, per task, under
`--protocol strict` (the cascade) and `--protocol paper` (the original's early returns), beside the
original code's own cost worked out from its control flow.

    PYTHONPATH=src python benchmarks/failing_candidates.py [--tasks parity_noise,maxcut] [--busy 0,4] [--markdown]

Each row is one `evaluate` on the test split in the real strong sandbox (one pool for the run): wall
seconds, CPU seconds charged to the calls that ran, instances run, utility; once per `--busy` count of
busy loops of this benchmark's own beside it (0: whatever else the machine runs). The load average is
printed per setting: the wall times depend on it (CPU limits do not), the instance counts and utilities
do not. The two tasks beyond the paper (circle_packing, bin_packing) have no original code and no
paper protocol: strict rows only.

The original's cost (seconds of waiting, per evaluation) follows from its loop (microsoft/stop,
`tasks/<task>/secret_utility.py`): a hanging call costs its `result(timeout=...)`; where the loop
returns at the first failure that is the whole cost, where it goes on every later call waits its own
timeout too (its pebble pool thread stays stuck, so in the worst case every later call times out).
"""

from __future__ import annotations

import argparse
import math
import time

from busy_loops import busy_loops, load

from selftaught.sandbox import SandboxPool
from selftaught.tasks import BEYOND_PAPER_NAMES, PAPER_NAMES, load_task

LOOP = "def algorithm(*args):\n    while True:\n        pass\n"
RAISE = "def algorithm(*args):\n    raise ValueError('no')\n"
STRICT_TEST_SEED = 1_000_000  # a fixed test seed, so that strict rows are reproducible

# Seconds a hanging program costs the original code (its per-call result timeout times the calls it
# makes), and a raising one (no waiting at all: it returns or goes on at once).
ORIGINAL_HANG = {
    "parity_noise": 2.0,  # returns EPS at the first timeout: one 2 s wait
    "maxcut": 0.1,  # returns EPS at the first timeout
    "three_sat": 30 * 0.1,  # a timeout adds nothing and goes on: 30 waits of 0.1 s
    "str_grid_dist": 50 * 1.0,  # no early return; each call waits result(timeout=1)
    "modified_quadratic_assignment": 10 * 0.5,  # no early return; 10 waits of 0.5 s
    "parity_noiseless": math.inf,  # no limit at all: the original hangs for ever
    "circle_packing": math.nan,  # beyond the paper: no original
    "bin_packing": math.nan,
}
SKIP = {
    ("parity_noiseless", "paper", "loop"),  # 20 x its 10 s limit: 200 s of CPU for a known answer
    ("bin_packing", "strict", "loop"),  # 3 x its 60 s limit: 180 s of CPU for a known answer
}


def measure(pool: SandboxPool, name: str, protocol: str, source: str) -> dict[str, object]:
    task = load_task(name, protocol)
    seed = None if protocol == "paper" else STRICT_TEST_SEED
    started = time.perf_counter()
    result = task.evaluate(source, split="test", seed=seed, executor=pool)
    return {
        "wall": time.perf_counter() - started,
        "cpu": sum(row.seconds for row in result.per_instance),
        "ran": result.instances_run,
        "of": result.instances,
        "utility": result.utility,
        "stopped": result.stopped or "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", default=",".join([*PAPER_NAMES, *BEYOND_PAPER_NAMES]))
    parser.add_argument("--busy", default="0", help="busy-loop counts to measure beside, comma-separated")
    parser.add_argument("--markdown", action="store_true", help="print the rows as a markdown table")
    args = parser.parse_args()
    rows = []
    with SandboxPool(mode="strong") as pool:
        for count in (int(c) for c in args.busy.split(",")):
            with busy_loops(count):
                print(f"{count} busy loops, load average before: {load():.1f}", flush=True)
                rows.extend(_measure_all(pool, args.tasks.split(","), count))
                print(f"{count} busy loops, load average after: {load():.1f}", flush=True)
    if args.markdown:
        print(
            "\n| busy | task | program | protocol | wall s | CPU s | instances run | utility | original's wait s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(
                f"| {row['busy']} | {row['task']} | {row['kind']} | {row['protocol']} | {row['wall']:.1f} | "
                f"{row['cpu']:.2f} | {row['ran']}/{row['of']} | {row['utility']:.6g} | {row['original']:g} |"
            )


def _measure_all(pool: SandboxPool, names: list[str], busy: int) -> list[dict[str, object]]:
    rows = []
    for name in names:
        for kind, source in (("loop", LOOP), ("raise", RAISE)):
            original = ORIGINAL_HANG[name] if kind == "loop" else 0.0
            protocols = ("strict", "paper") if name in PAPER_NAMES else ("strict",)
            for protocol in protocols:
                if (name, protocol, kind) in SKIP:
                    continue
                row = measure(pool, name, protocol, _for(name, source))
                row.update(task=name, kind=kind, protocol=protocol, original=original, busy=busy)
                rows.append(row)
                print(
                    f"{name:30} {kind:5} {protocol:6} {row['wall']:7.2f} s  CPU {row['cpu']:6.2f} s  "
                    f"ran {row['ran']}/{row['of']}  utility {row['utility']:.6g}  original {original:g} s",
                    flush=True,
                )
    return rows


def _for(name: str, source: str) -> str:
    """The failing program under the task's entry point (bin_packing's is `priority`)."""
    return source.replace("def algorithm(", "def priority(") if name == "bin_packing" else source


if __name__ == "__main__":
    main()
