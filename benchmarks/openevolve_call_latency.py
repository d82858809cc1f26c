"""Round-trip cost of one brokered call from an OpenEvolve evaluator into its candidate.

The evaluator (in its own sandboxed child) imports the candidate (a proxy module) and calls a small
function `--calls` times; it times each call itself and reports the median and the 90th percentile as
metrics: on the real clock (the round trip) and on its own `time.perf_counter`, which leaves the
brokering out (`_selftaught_clock`: its own CPU time for the call and at most the null round trip).
`--payload N` passes a 100 x N float array and gets a list of N floats back (AlgoTune's sizes: N = 100);
`--shape fft|lu|conv` passes and returns what three AlgoTune examples do (a 95 x 95 complex array in and
out; a 25 x 25 matrix in, three 25 x 25 lists of lists out; two lists of ~200 floats in, ~400 out).
The same loop over the same function defined in the evaluator's own process is the baseline (a direct
in-process call). Prints them, in microseconds, per `--repeats` evaluation. `--pooled` makes every call,
both the brokered and the direct one, from a new one-thread `ThreadPoolExecutor`, as AlgoTune's
`run_with_timeout` does around each timed solve.

    PYTHONPATH=src .venv/bin/python benchmarks/openevolve_call_latency.py --calls 200 --repeats 5
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task

PROGRAM = """
import numpy as np


def add(a, b):
    if isinstance(a, np.ndarray):
        return a[0].tolist()
    return a + b


def fft(problem):
    return np.fft.fftn(problem)


def lu(problem):
    matrix = problem["matrix"]
    return {"LU": {"P": matrix.tolist(), "L": matrix.tolist(), "U": matrix.tolist()}}


def conv(problem):
    return {"convolution": np.convolve(problem["signal_x"], problem["signal_y"]).tolist()}


class Counter:
    def __init__(self):
        self.n = 0

    def step(self, k):
        self.n += k
        return self.n
"""

EVALUATOR = """
import concurrent.futures
import importlib.util
import time

import numpy as np
from openevolve import _selftaught_clock

RNG = np.random.default_rng(0)
PAYLOAD = RNG.random((100, PAYLOAD_N)) if PAYLOAD_N else None
SHAPES = {
    "fft": (RNG.random((95, 95)) + 1j * RNG.random((95, 95)),),
    "lu": ({"matrix": RNG.standard_normal((25, 25))},),
    "conv": ({"signal_x": RNG.random(190).tolist(), "signal_y": RNG.random(190).tolist(), "mode": "full"},),
}


def _arguments(i):
    if "@SHAPE@" in SHAPES:
        return SHAPES["@SHAPE@"]
    return (i if PAYLOAD is None else PAYLOAD, 2)


POOLED = @POOLED@  # each call in a new one-thread pool, as AlgoTune's `run_with_timeout` makes it


def _pooled(function, *args):
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function, *args).result(timeout=30)


def _times(function, calls, clock=time.perf_counter):
    out = []
    for i in range(calls):
        args = _arguments(i)
        started = clock()
        if POOLED:
            _pooled(function, *args)
        else:
            function(*args)
        out.append(clock() - started)
    out.sort()
    return out[len(out) // 2] * 1e6, out[int(len(out) * 0.9)] * 1e6


LOCAL = {  # the candidate's functions, defined here: the in-process baseline
    "add": lambda a, b: a[0].tolist() if isinstance(a, np.ndarray) else a + b,
    "fft": lambda problem: np.fft.fftn(problem),
    "lu": lambda problem: {"LU": {k: problem["matrix"].tolist() for k in "PLU"}},
    "conv": lambda problem: {"convolution": np.convolve(problem["signal_x"], problem["signal_y"]).tolist()},
}


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name = "@SHAPE@" if "@SHAPE@" in SHAPES else "add"
    function = getattr(module, name)
    function(*_arguments(0))  # the candidate's process is up
    calls = CALLS
    cpu = time.process_time()
    median, p90 = _times(function, calls, _selftaught_clock.real_perf_counter)
    cpu = (time.process_time() - cpu) / calls * 1e6
    seen_median, seen_p90 = _times(function, calls)
    local_median, local_p90 = _times(LOCAL[name], calls)
    direct = module.add._session.direct
    return {
        "combined_score": 1.0,
        "brokered_median_us": median,
        "brokered_p90_us": p90,
        "seen_median_us": seen_median,
        "seen_p90_us": seen_p90,
        "null_us": direct.null_wait * 1e6,
        # (A tree from before a thread's first exchange had its own null gives the plain one.)
        "first_null_us": getattr(direct, "first_null_wait", direct.null_wait) * 1e6,
        # (No rates on a tree from before they were calibrated: compared as zero.)
        "per_kb_sent_us": getattr(getattr(direct, "rates", None), "per_sent", 0.0) * 1024e6,
        "per_kb_received_us": getattr(getattr(direct, "rates", None), "per_received", 0.0) * 1024e6,
        "per_1000_items_us": getattr(getattr(direct, "rates", None), "per_item", 0.0) * 1e9,
        "direct_median_us": local_median,
        "direct_p90_us": local_p90,
        "evaluator_cpu_us": cpu,
        "linked": float(getattr(module.add._session, "direct", None) is not None),
    }
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--payload", type=int, default=0, help="columns of a 100-row float array argument")
    parser.add_argument("--shape", choices=("fft", "lu", "conv"), help="an AlgoTune example's arguments")
    parser.add_argument(
        "--pooled",
        action="store_true",
        help="make each call from a new one-thread pool, as AlgoTune's evaluators do (both columns)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "initial_program.py").write_text(PROGRAM)
        (root / "evaluator.py").write_text(
            EVALUATOR.replace("CALLS", str(args.calls))
            .replace("PAYLOAD_N", str(args.payload))
            .replace("@SHAPE@", args.shape or "none")
            .replace("@POOLED@", str(args.pooled))
        )
        task = load_task(f"openevolve:{root}")
        with SandboxPool(workers=2) as pool:
            for _ in range(args.repeats):
                evaluation = task.evaluate(task.seed_algorithm, executor=pool)
                scores = evaluation.per_instance
                metrics = (scores[0].metrics or {}) if scores else {}
                print(
                    "brokered median {brokered_median_us:6.0f} us  p90 {brokered_p90_us:6.0f} us   "
                    "evaluator's clock: median {seen_median_us:6.0f} us  p90 {seen_p90_us:6.0f} us  "
                    "(null {null_us:4.0f} us, first {first_null_us:4.0f} us, per KB sent {per_kb_sent_us:4.2f} us, received "
                    "{per_kb_received_us:4.2f} us, per 1000 packed numbers {per_1000_items_us:4.1f} us)   "
                    "direct median {direct_median_us:6.2f} us  p90 {direct_p90_us:6.2f} us  "
                    "evaluator CPU/call {evaluator_cpu_us:6.0f} us  linked {linked:.0f}".format(**metrics)
                    if metrics
                    else f"no metrics: {evaluation}"
                )


if __name__ == "__main__":
    main()
