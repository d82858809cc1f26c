"""`selftaught eval maxcut PROGRAM` as a whole process next to the original STOP scorer's whole process.

Why whole processes: a user who scores one program waits for the interpreter, the imports, instance
generation, the runs and the scoring; the original code's `tasks/maxcut/secret_utility.py` does all of
that in one process too (and imports its LM client on the way). The two commands alternate, so load
drifts hit both alike; medians of wall time and of the CPU time of the process and everything it waited
for (`RUSAGE_CHILDREN`: the sandbox's children are not all waited by the CLI, so ours is a lower bound).

The original needs a checkout of microsoft/stop (`--original DIR`), its two extra packages (pebble,
jsonlines) on `--original-path`, an `api_key.py` stub (the key is never used by the scorer) and a "y" on
stdin for its warning prompt. The original stops at the first failed instance, so compare programs
that pass every instance (the default: a parity partition) unless that is what you want to measure.

    .venv/bin/python benchmarks/eval_vs_original.py --original /tmp/stopsrc --original-path /tmp/pebble \
        [--program P.py] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PROGRAM = (
    "def algorithm(adjacency_matrix):\n    return [i % 2 for i in range(len(adjacency_matrix))]\n"
)
ORIGINAL = "from tasks.maxcut.secret_utility import utility\nprint(utility(open({path!r}).read()))\n"


def timed(command: list[str], *, cwd: Path, env: dict[str, str], stdin: str = "") -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, required=True, help="a checkout of microsoft/stop")
    parser.add_argument("--original-path", default="", help="where pebble and jsonlines are installed")
    parser.add_argument("--program", type=Path)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="eval-vs-original-"))
    program = args.program or scratch / "program.py"
    if args.program is None:
        program.write_text(DEFAULT_PROGRAM)
    (scratch / "api_key.py").write_text('openai_key = {"api_key": "unused"}\n')
    src = str(Path(__file__).resolve().parents[1] / "src")
    ours_env = {**os.environ, "PYTHONPATH": src}
    original_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (args.original_path, str(args.original), str(scratch)) if p),
    }
    ours_cmd = [sys.executable, "-m", "selftaught", "eval", "maxcut", str(program)]
    original_cmd = [sys.executable, "-c", ORIGINAL.format(path=str(program.resolve()))]
    results: dict[str, list[tuple[float, float]]] = {"selftaught eval": [], "original scorer": []}
    last: dict[str, str] = {}
    timed(ours_cmd, cwd=scratch, env=ours_env)  # warm-up of both (file caches, .pyc)
    timed(original_cmd, cwd=args.original, env=original_env, stdin="y\n")
    for _ in range(args.repeats):
        wall, cpu, last["selftaught eval"] = timed(ours_cmd, cwd=scratch, env=ours_env)
        results["selftaught eval"].append((wall, cpu))
        wall, cpu, last["original scorer"] = timed(
            original_cmd, cwd=args.original, env=original_env, stdin="y\n"
        )
        results["original scorer"].append((wall, cpu))
    print(f"load average {os.getloadavg()[0]:.2f}, {args.repeats} alternating repeats, program {program}")
    for label, pairs in results.items():
        walls = [w for w, _ in pairs]
        cpus = [c for _, c in pairs]
        print(
            f"{label:<16} wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f})"
            f"  CPU median {statistics.median(cpus):.3f} s  | last output: {last[label][:90]}"
        )


if __name__ == "__main__":
    main()
