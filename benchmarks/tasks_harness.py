"""What the task harness costs next to the algorithms it scores (instance generation, judging and the sandbox round trip).

For each built-in task: cold instance generation; one full `evaluate` of the seed algorithm in the
strong sandbox (mean and standard deviation over --repeats runs, instances warm); the algorithm's own
compute time measured with no harness at all (a plain child process calls it in a loop, each call cut
at the task's time limit like in the sandbox); host-side scoring time; and a full `evaluate` of a
trivial valid algorithm, which is pure harness + isolation cost. Also the whole harness of one Max-Cut
utility call with cold instances, next to the original code's 0.41 s.

    .venv/bin/python benchmarks/tasks_harness.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import selftaught.sandbox  # noqa: F401  (the sandbox package first, see tests/tasks/conftest.py)
from selftaught.sandbox import SandboxPool
from selftaught.tasks import VAL_SEED_BASE, builtin_task, draw_test_seed, evaluate, list_tasks

TRIVIAL = {
    "parity_noise": "def algorithm(a, b, t):\n    return [0] * len(t)\n",
    "parity_noiseless": "def algorithm(a, b, t):\n    return [0] * len(t)\n",
    "three_sat": "def algorithm(f):\n    return [False] * (max(abs(l) for c in f for l in c) + 1)\n",
    "maxcut": "def algorithm(a):\n    return [0] * len(a)\n",
    "modified_quadratic_assignment": "def algorithm(F, D, P):\n    return list(range(len(F)))\n",
    "str_grid_dist": "def algorithm(t, dist):\n    return t\n",
}

# Runs in a plain child process (never in this one): calls the algorithm on each instance, timing each
# call and cutting it at the limit with a real-time timer, as the sandbox would.
_DRIVER = r"""
import json, pickle, signal, sys, time
source, entry, path, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
namespace = {"__name__": "program"}
exec(compile(source, "program.py", "exec"), namespace)
function = namespace[entry]
def _stop(signum, frame):
    raise TimeoutError
signal.signal(signal.SIGALRM, _stop)
with open(path, "rb") as handle:
    instances = pickle.load(handle)
times = []
try:
    function(*instances[0])  # warm-up (lazy imports such as numpy.random), not timed
except BaseException:
    pass
for args in instances:
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        function(*args)
    except BaseException:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    times.append(min(time.perf_counter() - start, limit))
print(json.dumps(times))
"""


_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds() -> float:
    """CPU time of this process and all its descendants (sandbox zygotes and their reaped children).

    Unlike wall time this hardly depends on what else the machine runs, so it is the fair comparison
    with the original harness's 0.41 s (pure CPU: Python loops in one process). Resolution: 10 ms.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(value) for value in fields[11:15]) / _TICK
    me, total = os.getpid(), 0.0
    for pid, cpu in times.items():
        ancestor = pid
        while ancestor > 1 and ancestor != me:
            ancestor = parents.get(ancestor, 1)
        if ancestor == me:
            total += cpu
    return total


def own_compute_seconds(source: str, entry: str, instances: list, limit: float) -> float:
    """Total time of the bare calls (no sandbox, no wire, no scoring), each capped at `limit`."""
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        pickle.dump([instance.args for instance in instances], handle)
        path = handle.name
    try:
        done = subprocess.run(
            [sys.executable, "-c", _DRIVER, source, entry, path, str(limit)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    finally:
        Path(path).unlink()
    return sum(json.loads(done.stdout.strip().splitlines()[-1]))


def timed_evaluations(task, source: str, pool, repeats: int) -> tuple[list[float], float, int, int, float]:
    """Wall times of `repeats` evaluations; the last one's call time, failures, timeouts and utility."""
    walls, calls, failures, timeouts, utility = [], 0.0, 0, 0, 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        result = evaluate(task, source, executor=pool)
        walls.append(time.perf_counter() - started)
        calls = sum(item.seconds for item in result.per_instance)  # trusted-side time of each call
        failures = result.failures
        timeouts = sum(1 for item in result.per_instance if item.error == "timeout")
        utility = result.utility
    return walls, calls, failures, timeouts, utility


def scoring_seconds(task, source_outputs: list) -> float:
    instances = task.instances("val", VAL_SEED_BASE)
    started = time.perf_counter()
    for instance, output in zip(instances, source_outputs, strict=True):
        task.judge(instance, output)
    return time.perf_counter() - started


def _fmt(values: list[float]) -> str:
    """Milliseconds: mean ± standard deviation, and the minimum (the least disturbed by other load)."""
    mean = statistics.fmean(values) * 1000
    spread = statistics.stdev(values) * 1000 if len(values) > 1 else 0.0
    return f"{mean:7.1f} ± {spread:5.1f} (min {min(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pool = SandboxPool(mode="strong")
    try:
        evaluate(builtin_task("str_grid_dist"), TRIVIAL["str_grid_dist"], executor=pool)  # warm the pool
        print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
        print(
            f"{'task':<29} {'n':>4} {'gen cpu ms':>10} {'seed eval ms':>28} {'u':>5} {'t/o':>4} {'calls ms':>9} {'own ms':>8} "
            f"{'overhead ms/inst':>16} {'trivial eval ms':>28} {'harness ms/inst':>15} {'score ms':>8}"
        )
        for task in list_tasks(paper_only=True):  # the paper's six (TRIVIAL programs exist for them)
            n = task.n_instances["val"]
            started = time.process_time()
            task.instances("test", draw_test_seed())  # cold generation of a fresh instance set
            generation = time.process_time() - started
            instances = task.instances("val", VAL_SEED_BASE)
            seed_walls, calls, _failures, timeouts, utility = timed_evaluations(
                task, task.seed_algorithm, pool, args.repeats
            )
            own = own_compute_seconds(task.seed_algorithm, task.entry_point, instances, task.instance_timeout)
            trivial_walls, _, trivial_failures, _, _ = timed_evaluations(
                task, TRIVIAL[task.name], pool, args.repeats
            )
            assert trivial_failures == 0, task.name
            outputs = [_trivial_output(task.name, instance) for instance in instances]
            scoring = scoring_seconds(task, outputs)
            overhead = (statistics.fmean(seed_walls) - own) / n * 1000
            print(
                f"{task.name:<29} {n:>4} {generation * 1000:10.1f} {_fmt(seed_walls):>28} {utility:5.3f} {timeouts:4d} {calls * 1000:9.1f} {own * 1000:8.1f} "
                f"{overhead:16.2f} {_fmt(trivial_walls):>28} "
                f"{statistics.fmean(trivial_walls) / n * 1000:15.2f} {scoring * 1000:8.2f}"
            )
        print()
        maxcut_call(pool, max(args.repeats, 10))
        timeout_cost(pool)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        pool.close()


def _trivial_output(name: str, instance) -> object:
    """The output TRIVIAL[name] returns, built here to time host-side scoring alone."""
    if name.startswith("parity"):
        return [0] * len(instance.args[2])
    if name == "three_sat":
        return [False] * (max(abs(lit) for clause in instance.args[0] for lit in clause) + 1)
    if name == "maxcut":
        return [0] * len(instance.args[0])
    if name == "modified_quadratic_assignment":
        return list(range(len(instance.args[0])))
    return instance.args[0]


def maxcut_call(pool, repeats: int) -> None:
    """One whole Max-Cut utility call with fresh (uncached) instances and a trivial algorithm."""
    task = builtin_task("maxcut")
    for label, cold in (("cold instances", True), ("warm instances", False)):
        walls, cpus, trees = [], [], []
        for _ in range(repeats):
            seed = draw_test_seed() if cold else VAL_SEED_BASE
            started, cpu, tree = time.perf_counter(), time.process_time(), tree_cpu_seconds()
            evaluate(task, TRIVIAL["maxcut"], split="test" if cold else "val", seed=seed, executor=pool)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            trees.append(tree_cpu_seconds() - tree)
        print(
            f"maxcut utility call, {label}, trivial algorithm (all harness + isolation): wall {_fmt(walls).strip()} ms, "
            f"host CPU {_fmt(cpus).strip()} ms, CPU of host + sandbox {_fmt(trees).strip()} ms"
        )
    print("(original code: 410 ms of harness CPU per Max-Cut utility call, no isolation)")


def timeout_cost(pool) -> None:
    """What a timed-out instance costs beyond its limit (the sandbox kills and replaces the child)."""
    task = builtin_task("three_sat")
    sleeper = "import time\ndef algorithm(f):\n    time.sleep(5)\n"
    started = time.perf_counter()
    result = evaluate(task, sleeper, executor=pool)
    per_instance = (time.perf_counter() - started) / result.instances - task.instance_timeout
    print(
        f"timeout cost beyond the {task.instance_timeout:g} s limit: {per_instance * 1000:.1f} ms per timed-out instance"
    )


if __name__ == "__main__":
    main()
