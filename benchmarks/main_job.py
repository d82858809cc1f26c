"""The README's first command (`selftaught run`, the main job) timed as a new user runs it.

    .venv/bin/python benchmarks/main_job.py [--repeats 1] [-- EXTRA RUN FLAGS]

Each repeat runs `python -m selftaught run` in a fresh runs directory (a subprocess, so start-up counts)
and prints one line: wall seconds, the host process's own CPU seconds (the STOP loop, the offline model,
the sandbox pool's bookkeeping: one Python process, so one core at most), the CPU seconds of the whole
process tree (host, zygotes and every sandboxed child; read from a cpuacct cgroup when this user may make
one, else "-"), the load average before and after, and the run's last line. On a 2-core machine the wall
time cannot fall below max(host CPU, tree CPU / 2): the two CPU columns say which bound a change moves.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup/cpuacct")
# Runs selftaught in this interpreter and prints the process's own CPU seconds when it exits.
HOST_CPU = (
    "import atexit, os, runpy, sys\n"
    "atexit.register(lambda: print(f'HOST-CPU {sum(os.times()[:2]):.2f}', file=sys.stderr))\n"
    "sys.argv = ['selftaught', *sys.argv[1:]]\n"
    "runpy.run_module('selftaught', run_name='__main__')\n"
)


def _cgroup() -> Path | None:
    """A fresh cpuacct cgroup (None when this user may not make one)."""
    path = CGROUP_ROOT / f"selftaught-main-job-{os.getpid()}"
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _tree_cpu(cgroup: Path | None) -> float | None:
    if cgroup is None:
        return None
    return int((cgroup / "cpuacct.usage").read_text()) / 1e9


def one_run(extra: list[str]) -> dict[str, object]:
    cgroup = _cgroup()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="main-job-") as runs:
        command = [sys.executable, "-c", HOST_CPU, "run", "--runs-dir", runs, *extra]

        def enter_cgroup() -> None:
            if cgroup is not None:
                (cgroup / "tasks").write_text(str(os.getpid()))

        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, preexec_fn=enter_cgroup, check=False)
        wall = time.monotonic() - started
    tree = _tree_cpu(cgroup)
    if cgroup is not None:
        cgroup.rmdir()
    host = re.search(r"HOST-CPU ([\d.]+)", done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {
        "exit": done.returncode,
        "wall_s": round(wall, 1),
        "host_cpu_s": float(host.group(1)) if host else None,
        "tree_cpu_s": None if tree is None else round(tree, 1),
        "load": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        "last_line": next((line for line in reversed(lines) if line.startswith("test ")), "?"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="flags passed on to `selftaught run` (after --)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; `selftaught run {' '.join(args.extra)}`")
    for _ in range(args.repeats):
        result = one_run(args.extra)
        print(
            f"exit {result['exit']}  wall {result['wall_s']} s  host CPU {result['host_cpu_s']} s  "
            f"tree CPU {result['tree_cpu_s'] if result['tree_cpu_s'] is not None else '-'} s  "
            f"load {result['load']}  | {result['last_line']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
