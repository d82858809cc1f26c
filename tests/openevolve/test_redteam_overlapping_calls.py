"""Red team on the evaluator's clocks when brokered calls overlap in two of its threads.

The clocks are the process's: a call's credit (its brokering, left out at its end) shortens every window
open at that moment. A candidate can use that: it answers a call the evaluator gave up on (a thread
pool's timeout, the waiting thread moved on) with a value whose decoding costs the evaluator ~0.4 s of
credited CPU, decoded in the abandoned thread while the next call, made from the main thread, has the
candidate compute for 1 s. Before the fix the main thread saw that call take ~0.6 s: the other thread's
credit erased 0.4 s of the candidate's own work. Now a call that overlapped another thread's brokered
call is credited nothing, and one call at a time (each from a new one-thread pool, as AlgoTune's
`run_with_timeout` makes them) keeps its credit. No wall-clock bound: each assertion compares clocks of
the same run.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

PROGRAM = """
import time

BIG = [{'k': i} for i in range(250_000)]  # ~3 MB encoded: ~0.4 s of the evaluator's decoding


def big(seconds):
    time.sleep(seconds)
    return BIG


def work(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # computing: the candidate's own time
        pass
    return 1
"""

EVALUATOR = (
    LOAD_PROGRAM
    + """
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from openevolve import _selftaught_clock as clock


def timed(call):
    credited = clock.credited()
    seen, real = time.perf_counter(), clock.real_perf_counter()
    call()
    return time.perf_counter() - seen, clock.real_perf_counter() - real, clock.credited() - credited


def evaluate(program_path):
    module = load(program_path)
    module.work(0.0)
    direct = module.work._session.direct
    # One call at a time, each from a new one-thread pool: credited as before.
    alone = [timed(lambda: ThreadPoolExecutor(1).submit(module.work, 0.0).result()) for _ in range(3)]
    abandoned = ThreadPoolExecutor(1).submit(module.big, 0.3)
    try:
        abandoned.result(timeout=0.05)
    except FutureTimeout:
        pass  # given up on: the thread still waits for its answer, then decodes it
    time.sleep(0.1)
    while direct._lock.locked():  # its answer is in: its decoding starts now
        time.sleep(0.0005)
    seen, real, credit = timed(lambda: module.work(1.0))
    late = len(abandoned.result())
    return {'combined_score': 1.0, 'seen': seen, 'real': real, 'credit': credit, 'late': late,
            'alone_credit': min(c for _, _, c in alone), 'alone_rule': float(all(c <= r for _, r, c in alone))}
"""
)


def test_another_threads_credit_never_erases_the_candidates_work_from_a_call(pool: SandboxPool) -> None:
    m = run(PROGRAM, EVALUATOR, pool).metrics
    assert m["late"] == 250_000, m  # the abandoned call's value did arrive and was decoded
    assert m["real"] >= 1.0 and m["seen"] >= 1.0, m  # the 1 s of computing is all seen
    assert m["alone_credit"] > 0 and m["alone_rule"] == 1.0, m  # the control: lone calls are credited
