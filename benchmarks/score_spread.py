"""Are scores load-independent? The same seed program, scored idle and beside CPU burners.

For each task: `--runs` evaluations of the task's seed algorithm with `selftaught eval` (a fresh process
each time, as a user runs it), first as the machine is, then beside `--burners` processes that spin on
the CPU. Prints each utility, the spread (max - min over all runs) and the CPU seconds of the instances.
Scoring version 2 limits and measures each call by the child's CPU time and seeds it per instance, so
the spread should be 0 for deterministic-given-seed programs; under wall-clock limits (version 1) it
was 0.165 for three_sat.

    .venv/bin/python benchmarks/score_spread.py --tasks three_sat maxcut --runs 3 --burners 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ROOT / "src" / "selftaught" / "tasks" / "builtin"


def evaluate_once(task: str, split: str) -> dict[str, object]:
    seed = BUILTIN / task / "seed.py"
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", task, str(seed), "--split", split, "--json", "-v"]
        + (["--test-seed", "1234567"] if split == "test" else []),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


def burners(count: int) -> list[subprocess.Popen[bytes]]:
    code = "while True:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", code], start_new_session=True) for _ in range(count)]


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=["three_sat", "maxcut"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    for task in args.tasks:
        rows: dict[str, list[float]] = {"idle": [], "loaded": []}
        cpu: dict[str, list[float]] = {"idle": [], "loaded": []}
        loads: dict[str, list[float]] = {"idle": [], "loaded": []}
        for phase in ("idle", "loaded"):
            procs = burners(args.burners) if phase == "loaded" else []
            try:
                time.sleep(1.0 if procs else 0.0)
                for _ in range(args.runs):
                    loads[phase].append(load_average())
                    out = evaluate_once(task, args.split)
                    rows[phase].append(float(out["utility"]))  # type: ignore[arg-type]
                    cpu[phase].append(sum(float(i["seconds"]) for i in out["per_instance"]))  # type: ignore[union-attr]
            finally:
                for proc in procs:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        values = rows["idle"] + rows["loaded"]
        print(f"{task} ({args.split}):")
        for phase in ("idle", "loaded"):
            print(
                f"  {phase:6s} utility {[round(v, 4) for v in rows[phase]]}  "
                f"instance CPU s {[round(v, 2) for v in cpu[phase]]}  load avg {[round(v, 1) for v in loads[phase]]}"
            )
        print(f"  spread (max - min over all {len(values)} runs): {max(values) - min(values):.4f}")


if __name__ == "__main__":
    main()
