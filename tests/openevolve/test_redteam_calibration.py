"""Red-team attacks on the credit the evaluator's clocks give a call's brokering.

A call's credit is its thread's CPU time plus, of the rest, at most an allowance calibrated before the
candidate's code ran. The candidate's process chooses how its answer reaches the evaluator: written one
byte at a time while it computes, every byte wakes the evaluator's thread, whose CPU spent reading them
runs beside the candidate's own work. Counted as the call's CPU, that reading would be credited in full
and the candidate's work would vanish from the clocks; it must count as waiting (of which only the
allowance is left out). Each attack runs on the real sandbox and compares clocks of the same run.
"""

from __future__ import annotations

import pytest
from oe_directory import run
from test_openevolve_calibration import MEASURE

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

WORK = 0.05  # seconds the candidate computes per call


DRIBBLE = f"""
import time

import frames

_write_all = frames.write_all
DURATIONS = []


def write_all(fd, data):
    # The candidate's work, done while its answer goes out one byte at a time: each byte wakes the
    # evaluator's thread, which spends CPU reading it beside the work.
    if isinstance(data, list):
        data = b"".join(bytes(part) for part in data)
    if len(data) < 1000:
        return _write_all(fd, data)
    gap = {WORK} / len(data)
    started = time.perf_counter()
    for i in range(len(data)):
        end = time.perf_counter() + gap
        while time.perf_counter() < end:
            pass
        _write_all(fd, data[i:i + 1])
    DURATIONS.append(time.perf_counter() - started)


frames.write_all = write_all


def work():
    return 'x' * 3000


def durations():
    return DURATIONS
"""

BURST = f"""
import time


def work():
    end = time.perf_counter() + {WORK}
    while time.perf_counter() < end:
        pass
    DURATIONS.append({WORK})
    return 'x' * 3000


DURATIONS = []


def durations():
    return DURATIONS
"""


@pytest.mark.parametrize("program", [DRIBBLE, BURST], ids=["dribbled", "control"])
def test_an_answer_dribbled_while_computing_buys_no_time(pool: SandboxPool, program: str) -> None:
    """The candidate computes while it writes its answer a byte at a time, and says how long that took
    (the control computes, then answers at once). Every call is still seen taking at least that long,
    less its allowance and a margin for the evaluator's own decoding of the 3 KB answer: the
    evaluator's CPU spent reading the dribble is not credited as its own (it was 20-40% of each call)."""
    evaluator = MEASURE + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    rows = measured(module, module.work, times=4)\n"
        "    spent = module.durations()\n"
        "    worst = min(seen + allowed - took for (real, cpu, credit, allowed, seen), took in zip(rows, spent))\n"
        "    return {'combined_score': 1.0, 'rule': rule_held(rows), 'worst': worst, 'calls': float(len(spent)),\n"
        "            'ok': float(module.work() == 'x' * 3000)}\n"
    )
    metrics = run(program, evaluator, pool).metrics
    assert metrics["ok"] == 1.0 and metrics["rule"] == 1.0 and metrics["calls"] == 4.0, metrics
    assert metrics["worst"] >= -0.005, metrics
