"""The evaluator's clocks leave out the brokering of a call to the candidate, and nothing else.

End to end on the real sandbox: evaluators of our own time the candidate's calls with `time.perf_counter`
the way AlgoTune's do, and read the real clock (`_selftaught_clock.real_perf_counter`) beside it. The
promises checked: what the evaluator sees is never more than the real time and never below the time
spent waiting for the candidate less the null round trip (so a candidate that sleeps, answers slowly,
returns huge values or stalls while reading gains nothing); the null round trip is measured before the
candidate's code runs (a candidate slowing its own process at import cannot enlarge it); the clocks never
go backwards, even read from another thread during calls. No wall-clock bound: every assertion compares
two clocks of the same run.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


TIMING = (
    LOAD_PROGRAM
    + """
import threading
import time

from openevolve import _selftaught_clock as clock




def timed(call, times=20):
    \"\"\"(seen, real) seconds of each call: the evaluator's clock and the real one.\"\"\"
    out = []
    for _ in range(times):
        real, seen = clock.real_perf_counter(), time.perf_counter()
        call()
        out.append((time.perf_counter() - seen, clock.real_perf_counter() - real))
    return out


def null_wait(module):
    return module.work._session.direct.null_wait
"""
)

PROGRAM = """
import time

def work(seconds=0.0, size=0):
    if seconds:
        time.sleep(seconds)
    return [0.5] * size
"""


def test_an_honest_evaluator_sees_the_calls_without_their_brokering(pool: SandboxPool) -> None:
    evaluator = TIMING + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    rows = timed(lambda: module.work(0.0, 10_000))\n"
        "    local = timed(lambda: [0.5] * 10_000)\n"
        "    return {'combined_score': 1.0,\n"
        "            'seen_le_real': float(all(0 <= seen <= real for seen, real in rows + local)),\n"
        "            'seen_total': sum(s for s, _ in rows), 'real_total': sum(r for _, r in rows),\n"
        "            'credited': clock.credited(), 'null': null_wait(module)}\n"
    )
    metrics = run(PROGRAM, evaluator, pool).metrics
    assert metrics["seen_le_real"] == 1.0, metrics
    # Something was left out (this process's encoding and decoding at least), never more than happened.
    assert 0 < metrics["seen_total"] < metrics["real_total"], metrics
    assert metrics["null"] > 0 and metrics["credited"] > 0, metrics


def test_a_candidates_own_time_is_never_left_out(pool: SandboxPool) -> None:
    """A sleeping candidate, one returning a large value, one whose process stalls halfway through
    writing its answer and one stalling before it reads the request: each call's seen time is at least
    the candidate's own time less the null round trip."""
    program = PROGRAM + (
        "import frames\n"
        "_write_all = frames.write_all\n"
        "_recv_message = frames.recv_message\n"
        "def stall_writing(seconds):\n"
        "    def write_all(fd, data):\n"
        "        data = b''.join(data) if isinstance(data, list) else data\n"
        "        _write_all(fd, data[:7]); time.sleep(seconds); _write_all(fd, data[7:])\n"
        "    frames.write_all = write_all\n"
        "def stall_reading(seconds):\n"
        "    def recv_message(reader, cap):\n"
        "        time.sleep(seconds); return _recv_message(reader, cap)\n"
        "    frames.recv_message = recv_message\n"
    )
    evaluator = TIMING + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    null = null_wait(module)\n"
        "    worst = {}\n"
        "    worst['sleep'] = min(s for s, _ in timed(lambda: module.work(0.03), 5)) - 0.03\n"
        "    worst['large'] = min(s for s, _ in timed(lambda: module.work(0.03, 300_000), 3)) - 0.03\n"
        "    module.stall_writing(0.03)\n"
        "    worst['writing'] = min(s for s, _ in timed(module.work, 3)) - 0.03\n"
        "    module.stall_reading(0.03)\n"
        "    worst['reading'] = min(s for s, _ in timed(module.work, 3)) - 0.03\n"
        "    return {'combined_score': 1.0, 'null': null, **{k: v + null for k, v in worst.items()}}\n"
    )
    metrics = run(program, evaluator, pool).metrics
    for attack in ("sleep", "large", "writing", "reading"):
        assert metrics[attack] >= 0, (attack, metrics)


def test_the_null_round_trip_is_timed_before_the_candidate_runs(pool: SandboxPool) -> None:
    """The candidate's module slows every answer of its process down (an import-time patch of its runner
    that sleeps 0.2 s before each answer): the null round trip, timed before the import, stays what an
    untouched process gives, and each call is seen with the 0.2 s in it."""
    program = (
        "import frames, time\n"
        "_write_all = frames.write_all\n"
        "def write_all(fd, data):\n"
        "    time.sleep(0.2); _write_all(fd, data)\n"
        "frames.write_all = write_all\n"
        "def work():\n"
        "    return 1\n"
    )
    evaluator = TIMING + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    seen = min(s for s, _ in timed(module.work, 3))\n"
        "    return {'combined_score': 1.0, 'null': null_wait(module), 'seen': seen}\n"
    )
    metrics = run(program, evaluator, pool).metrics
    assert metrics["null"] < 0.2 and metrics["seen"] >= 0.2 - metrics["null"], metrics


def test_the_clocks_never_go_backwards_even_read_during_calls(pool: SandboxPool) -> None:
    evaluator = TIMING + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    names = ['perf_counter', 'monotonic', 'time', 'perf_counter_ns', 'monotonic_ns', 'time_ns']\n"
        "    readings = {name: [] for name in names}\n"
        "    done = threading.Event()\n"
        "    def watch():\n"
        "        while not done.is_set():\n"
        "            for name in names:\n"
        "                readings[name].append(getattr(time, name)())\n"
        "    watcher = threading.Thread(target=watch)\n"
        "    watcher.start()\n"
        "    for _ in range(50):\n"
        "        module.work(0.0, 5_000)\n"
        "    done.set(); watcher.join()\n"
        "    backwards = sum(1 for name in names for a, b in zip(readings[name], readings[name][1:]) if b < a)\n"
        "    return {'combined_score': 1.0, 'backwards': backwards, 'credited': clock.credited(),\n"
        "            'reads': min(len(r) for r in readings.values())}\n"
    )
    metrics = run(PROGRAM, evaluator, pool).metrics
    assert metrics["backwards"] == 0 and metrics["reads"] > 50 and metrics["credited"] > 0, metrics
