"""Red team on the evaluator's clocks when brokered calls overlap in two of its threads.

The clocks are the process's: a call's credit (its brokering, left out at its end) shortens every window
open at that moment. A candidate can use that: it answers a call the evaluator gave up on (a thread
pool's timeout, the waiting thread moved on) with a value whose decoding costs the evaluator ~0.4 s of
credited CPU, decoded in the abandoned thread while the next call, made from the main thread, has the
candidate compute for 1 s. Before the fix the main thread saw that call take ~0.6 s: the other thread's
credit erased 0.4 s of the candidate's own work. Now a call that overlapped another thread's brokered
call is credited nothing, and one call at a time (each from a new one-thread pool, as AlgoTune's
`run_with_timeout` makes them) keeps its credit. No wall-clock bound: each assertion compares clocks of
the same run. Calls each from a new one-thread pool are also checked against the first-exchange
allowance, an honest candidate and one answering a byte at a time; a new process calibrated beside
another thread's call is allowed nothing; and a call whose turn comes after its socket was closed (the
evaluator's alarm, mid-call) touches no descriptor.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run
from test_redteam_socket_reader import HOSTILE

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


# ---------------------------------------------------------------- calls each from a new one-thread pool

POOLED = (
    LOAD_PROGRAM
    + """
import time
from concurrent.futures import ThreadPoolExecutor

from openevolve import _selftaught_clock as clock


def in_pool(call):
    # As AlgoTune's run_with_timeout: the call made in a new one-thread pool, the window timed outside.
    inside = {}

    def run():
        cpu = time.thread_time()
        call()
        inside['cpu'] = time.thread_time() - cpu
        inside['io'] = direct._io_cpu

    credited, allowed = clock.credited(), direct.allowed_total
    seen, real = time.perf_counter(), clock.real_perf_counter()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()
    seen, real = time.perf_counter() - seen, clock.real_perf_counter() - real
    return {'seen': seen, 'real': real, 'credit': clock.credited() - credited,
            'allowed': direct.allowed_total - allowed, **inside}


def evaluate(program_path):
    global direct
    module = load(program_path)
    module.work()
    direct = module.work._session.direct
    rows = [in_pool(module.work) for _ in range(3)]
    module.arm('bytewise')
    trickled = in_pool(module.work)  # its answer a byte at a time over 0.2 s of computing
    rule = all(r['credit'] <= r['cpu'] - r['io'] + r['allowed'] + 1e-6 and r['credit'] <= r['real'] + 1e-6
               for r in rows + [trickled])
    first = all(r['allowed'] >= direct.first_null_wait for r in rows + [trickled])
    return {'combined_score': 1.0, 'rule': float(rule), 'first': float(first),
            'first_null': direct.first_null_wait, 'null': direct.null_wait,
            'trickled_seen': trickled['seen'], 'trickled_allowed': trickled['allowed'],
            'trickled_io': trickled['io'], 'credited': min(r['credit'] for r in rows)}
"""
)


def test_calls_from_new_threads_are_allowed_a_first_exchange_and_stay_within_the_rule(
    pool: SandboxPool,
) -> None:
    """Every timed call made from a new one-thread pool is its thread's first exchange: it is allowed
    the null timed from new threads (never less than the plain null), its credit stays within that
    thread's CPU less its socket reading plus its allowance, and a byte-at-a-time answer over 0.2 s of
    computing is still seen taking the 0.2 s less its allowance (the reading's CPU, in the pool's
    thread, not credited)."""
    m = run(HOSTILE, POOLED, pool).metrics
    assert m["rule"] == 1.0 and m["first"] == 1.0, m
    assert m["first_null"] >= m["null"] > 0 and m["credited"] > 0, m
    assert m["trickled_io"] > 0 and m["trickled_seen"] + m["trickled_allowed"] >= 0.2, m


# ---------------------------------------------------------------- a new process calibrated beside a decode

RESTARTING = """
import os
import time

import frames

BIG = [[i % 10, 'a'] for i in range(350_000)]  # ~2.8 MB: ~0.6 s of the evaluator's decoding
_write_all = frames.write_all
armed = []


def write_all(fd, data, *args, **kwargs):
    _write_all(fd, data, *args, **kwargs)
    if armed:
        os._exit(0)  # the large answer is out: end this process, so that a new one is calibrated next


frames.write_all = write_all


def big(seconds):
    time.sleep(seconds)
    armed.append(1)
    return BIG


def work():
    return 1
"""

CALIBRATED = (
    LOAD_PROGRAM
    + """
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout

from openevolve import _selftaught_clock as clock, _selftaught_direct

windows = []
_calibrate = _selftaught_direct.Direct.calibrate


def calibrate(self):  # observed only: when each new process's calibration ran, on the real clock
    started = clock.real_perf_counter()
    _calibrate(self)
    windows.append((started, clock.real_perf_counter(), self))


_selftaught_direct.Direct.calibrate = calibrate


def pooled(call):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(timeout=30)


def evaluate(program_path):
    module = load(program_path)
    pooled(module.work)
    decoded = []

    def late():
        started = clock.real_perf_counter()
        value = module.big(0.3)
        decoded.append((started, clock.real_perf_counter()))
        return len(value)

    abandoned = ThreadPoolExecutor(1).submit(late)
    try:
        abandoned.result(timeout=0.05)
    except FutureTimeout:
        pass  # given up on: its answer comes later, then the process ends
    for _ in range(3):
        try:
            pooled(module.work)
            break
        except Exception:
            pass
    late_items = abandoned.result()
    (first, second) = [w[2] for w in windows[:2]]
    started, ended = windows[1][:2]
    overlapped = started < decoded[0][1]  # the late call was still in progress (decoding) meanwhile
    figures = (second.null_wait, second.first_null_wait, second.rates.per_sent, second.rates.per_received,
               second.rates.per_item)
    return {'combined_score': 1.0, 'late': late_items, 'overlapped': float(overlapped),
            'zero': float(all(f == 0 for f in figures)), 'first_null_1': first.first_null_wait,
            'first_null_2': second.first_null_wait, 'processes': len(windows)}
"""
)


def test_a_process_calibrated_beside_another_threads_call_is_allowed_nothing(pool: SandboxPool) -> None:
    """The candidate answers a call the evaluator gave up on with a large value and ends its process,
    so that the next process is calibrated while the abandoned call's answer is decoded in another
    thread (holding the interpreter for long stretches, it slowed a new thread's null from 0.2 ms to
    5.4 ms, and every later call of that process would have been allowed that much). A calibration that
    overlapped another thread's brokered call is not used: that process's figures are all zero. The
    control: a calibration that overlapped nothing is used as before."""
    m = run(RESTARTING, CALIBRATED, pool).metrics
    assert m["late"] == 350_000 and m["processes"] >= 2, m
    assert m["first_null_1"] > 0, m  # the first process was calibrated alone
    if m["overlapped"]:
        assert m["zero"] == 1.0, m
    else:  # the decode ended before the new process was timed (a very slow start): timed as usual
        assert m["first_null_2"] > 0, m


# ---------------------------------------------------------------- a call whose turn comes after the close

SLEEPER = """
import time


def work(seconds=0.0):
    time.sleep(seconds)
    return 1
"""

LATE_TURN = (
    LOAD_PROGRAM
    + """
import signal
import socket


def alarm(*_):
    raise TimeoutError('the evaluator gave up')


def evaluate(program_path):
    module = load(program_path)
    module.work()
    old = module.work._session.direct
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        module.work(5.0)  # the evaluator's own alarm, mid-call: that socket is closed
        timed_out = 0.0
    except TimeoutError:
        timed_out = 1.0
    # The closed socket's number goes to the next descriptor this process makes (here a socket pair;
    # in a run, the next candidate process's socket). A call of another thread that was waiting its
    # turn on the old socket (scheduled late) gets it now:
    mine, other = socket.socketpair()
    late = old.call({'op': 'ping', 'args_wire': b'[[],{}]', 'args_bodies': []}, 1.0)
    other.setblocking(False)
    try:
        leaked = len(other.recv(1 << 16))
    except BlockingIOError:
        leaked = 0
    return {'combined_score': 1.0, 'timed_out': timed_out, 'reused': float(mine.fileno() == old.fd),
            'leaked': leaked, 'late': str(late.get('error')), 'after': module.work()}
"""
)


def test_a_call_whose_turn_comes_after_its_socket_closed_writes_nowhere(pool: SandboxPool) -> None:
    """Before the fix the late call wrote its request (68 bytes) into whatever held the closed
    socket's number: in a run, the next candidate process's socket, whose answers would then be out of
    step. Now a call on a closed socket fails at once, touching no descriptor."""
    evaluation = run(SLEEPER, LATE_TURN, pool)
    m, got = evaluation.metrics, evaluation.artifacts
    assert m["timed_out"] == 1.0 and m["reused"] == 1.0 and m["after"] == 1.0, (m, got)
    assert m["leaked"] == 0 and "ended before this call's turn" in str(got.get("metric:late")), (m, got)
