"""Red team on the evaluator's sized socket reader and one-writev requests (the direct socket between an
OpenEvolve evaluator's child and its candidate's process).

The candidate's process is the candidate's: it patches its own `frames.write_all` (called with each
answer after its call's timer is cleared) and writes what it likes at any pace. Promises checked here,
end to end on the real sandbox: a body declared at the cap and never sent, a header claiming a million
bodies, an answer of 4,097 frames written one at a time, a body finished only after the call's limit,
a process that ends mid-body, a replayed answer, and a flood written while the evaluator is still
writing a large request each fail that one call (a timeout or a reason the evaluator can catch, never a
hang past the limit and its grace), hold the evaluator's memory to one declared body, and leave the next
call to a fresh, honest process. An answer written a byte at a time while the process computes arrives
exact, and the evaluator's clocks still see the computing (its reading is not credited as its own CPU);
an array sent tagged as a packed list (so the evaluator's decoder builds the list) arrives exact within
the crediting rule; and an answer of keys that all hash alike (quadratic decoding) is decoded only until
the evaluator's own alarm, which reaches it as its own TimeoutError.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

HOSTILE = """
import json
import os
import select
import struct
import threading
import time

import frames
import numpy as np

_write_all = frames.write_all
armed = []  # [how, answers written since arming] (arm's own answer is written honestly)
last = []  # the previous answer's bytes (for a replay)


def arm(how):
    armed[:] = [how, 0]


def work(arg=None):
    return {'x': [0.5] * 300, 'a': np.arange(100.0), 'n': 1}


def _flat(data):
    parts = data if isinstance(data, list) else [data]
    return b''.join(bytes(memoryview(part).cast('B')) for part in parts)


def _header(seq, nb):
    text = json.dumps({'seq': seq, 'nb': nb}).encode()
    return struct.pack('>I', len(text)) + text


def _seq(flat):
    (n,) = struct.unpack('>I', flat[:4])
    return json.loads(flat[4:4 + n]).get('seq')


def _flood(fd):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll(10_000)  # the request has started to arrive: write while the evaluator writes
    junk = b'\\xff' * (1 << 16)
    for _ in range(128):
        _write_all(fd, junk)


def write_all(fd, data, *args, **kwargs):
    flat = _flat(data)
    if armed and armed[0] == 'flood':  # arm's answer, then never read again: flood once a request comes
        _write_all(fd, data, *args, **kwargs)
        threading.Thread(target=_flood, args=(fd,), daemon=True).start()
        time.sleep(60)
    if not armed or armed[1] == 0:
        if armed:
            armed[1] = 1
        last[:] = [flat]
        return _write_all(fd, data, *args, **kwargs)
    how, seq = armed[0], _seq(flat)
    if how == 'declared_silent':  # a body of just under the cap declared, not a byte of it sent
        _write_all(fd, _header(seq, 1) + struct.pack('>I', (32 << 20) - 4096))
        time.sleep(60)
    elif how == 'over_cap':
        _write_all(fd, _header(seq, 1) + struct.pack('>I', (32 << 20) + 1))
        time.sleep(60)
    elif how == 'million_bodies':
        _write_all(fd, _header(seq, 1_000_000))
        time.sleep(60)
    elif how in ('tiny_frames', 'too_many_frames'):
        extra = 4096 if how == 'tiny_frames' else 4097
        _write_all(fd, _header(seq, 1 + extra))
        body = b'[1,2,3]'
        _write_all(fd, struct.pack('>I', len(body)) + body)
        for _ in range(extra):
            _write_all(fd, struct.pack('>I', 0))  # one empty body per write
        armed.clear()
    elif how == 'bytewise':  # each byte of the honest answer, spread over 0.2 s of computing
        end = time.perf_counter() + 0.2
        for i in range(len(flat)):
            _write_all(fd, flat[i:i + 1])
            until = time.perf_counter() + (end - time.perf_counter()) / (len(flat) - i)
            while time.perf_counter() < until:
                pass
        armed.clear()
    elif how == 'late':  # half the answer, then the rest well after the limit and its grace
        _write_all(fd, flat[: len(flat) // 2])
        time.sleep(4.0)
        _write_all(fd, flat[len(flat) // 2:])
        time.sleep(60)
    elif how == 'close_mid':
        _write_all(fd, flat[: len(flat) - 10])
        os._exit(0)
    elif how == 'replay':  # the previous answer again (its own, earlier sequence number)
        _write_all(fd, last[0])
        armed.clear()


frames.write_all = write_all
"""

EVALUATOR = (
    LOAD_PROGRAM
    + """
import resource
import signal

import numpy as np

EXPECTED = {'x': [0.5] * 300, 'a': np.arange(100.0), 'n': 1}


def outcome(call):
    try:
        got = call()
    except Exception as exc:
        return f'{type(exc).__name__}: {exc}'
    same = (type(got) is dict and got.keys() == EXPECTED.keys() and got['x'] == EXPECTED['x']
            and type(got['x'][0]) is float and np.array_equal(got['a'], EXPECTED['a'])
            and got['a'].dtype == np.float64 and got['n'] == 1)
    return 'ok' if same else f'other: {got!r:.200}'


def evaluate(program_path):
    module = load(program_path)
    before = outcome(module.work)
    module.arm(HOW)
    signal.signal(signal.SIGALRM, lambda *_: None)  # the alarm only sets the call's limit (0.5 s)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    arg = np.zeros(1_000_000) if HOW == 'flood' else None  # an 8 MB request
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    attacked = outcome(lambda: module.work(arg))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    signal.setitimer(signal.ITIMER_REAL, 0)
    after = outcome(module.work)
    return {'combined_score': 1.0, 'before': before, 'attacked': attacked, 'after': after,
            'grown_kib': float(grown)}
"""
)

# What the attacked call gives: a timeout at its limit (and grace), or a reason naming the fault.
EXPECTED = {
    "declared_silent": "TimeoutError: the candidate ran past its limit",
    "over_cap": "exceeds the cap",
    "million_bodies": "body count",
    "tiny_frames": "other: [1, 2, 3]",  # the first body's value, the 4,096 empty ones unused
    "too_many_frames": "exceeds the cap",
    "late": "TimeoutError: the candidate ran past its limit",
    "close_mid": "process ended",
    "replay": "out of turn",
    "flood": "TimeoutError: the candidate ran past its limit",
}


@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_a_hostile_answer_fails_only_its_own_call(pool: SandboxPool, how: str) -> None:
    evaluation = run(HOSTILE, EVALUATOR.replace("HOW", repr(how)), pool)
    got = {key.removeprefix("metric:"): value for key, value in evaluation.artifacts.items()}
    assert got.get("before") == "ok", got
    assert EXPECTED[how] in str(got.get("attacked")), got
    assert got.get("after") == "ok", got  # the next call: a fresh process (or the same, back in step)
    # At most the one body declared (32 MiB) was held, never the million or the 4,097 frames' worth more.
    assert evaluation.metrics["grown_kib"] < 40 * 1024, evaluation.metrics


TIMED = (
    LOAD_PROGRAM
    + """
import time

import numpy as np
from openevolve import _selftaught_clock as clock


def evaluate(program_path):
    module = load(program_path)
    module.work()
    direct = module.work._session.direct
    module.arm('bytewise')
    real, cpu, credited, allowed = (clock.real_perf_counter(), time.thread_time(), clock.credited(),
                                    direct.allowed_total)
    seen = time.perf_counter()
    got = module.work()
    seen = time.perf_counter() - seen
    real, cpu, io = clock.real_perf_counter() - real, time.thread_time() - cpu, direct._io_cpu
    credit, allowed = clock.credited() - credited, direct.allowed_total - allowed
    exact = (got['x'] == [0.5] * 300 and np.array_equal(got['a'], np.arange(100.0)) and got['n'] == 1)
    return {'combined_score': 1.0, 'exact': float(exact), 'seen': seen, 'real': real, 'cpu': cpu, 'io': io,
            'credit': credit, 'allowed': allowed, 'same_process': float(module.work._session.direct is direct)}
"""
)


def test_an_answer_written_a_byte_at_a_time_while_computing_is_exact_and_charged(pool: SandboxPool) -> None:
    """Each byte of the answer wakes the evaluator's thread, whose reading runs beside the candidate's
    0.2 s of computing: the value arrives exact, the credit stays within the call's CPU plus its
    allowance and within its duration, and what the clocks see plus the allowance holds the 0.2 s. The
    thread's CPU on the socket (~10 ms here, about 50 times the allowance) is not credited: were it
    counted as the call's own CPU, the computing it overlapped would vanish from the clocks."""
    m = run(HOSTILE, TIMED, pool).metrics
    assert m["exact"] == 1.0 and m["same_process"] == 1.0, m
    assert m["credit"] <= m["cpu"] + m["allowed"] + 1e-6 and m["credit"] <= m["real"] + 1e-6, m
    assert m["io"] > 0 and m["credit"] <= m["cpu"] - m["io"] + m["allowed"] + 1e-6, m
    assert m["seen"] + m["allowed"] >= 0.2, m


# ---------------------------------------------------------------- work moved into the evaluator's decoder

AS_LIST = """
import numpy as np
import wire

_encode = wire.encode


class AsList:
    def __init__(self, array):
        self.array = array


def encode(value, array_hook=None, other_hook=None, _depth=0):
    # The array's bytes tagged as a packed list: the evaluator's decoder makes the Python list.
    if type(value) is AsList:
        return wire._encode_array(value.array, array_hook) | {'list': True}
    return _encode(value, array_hook, other_hook, _depth)


wire.encode = encode
RESULT = np.arange(400_000) * 0.5


def work(hostile):
    return AsList(RESULT) if hostile else RESULT.tolist()  # a list is what the evaluator asks for
"""

CONVERTED = (
    LOAD_PROGRAM
    + """
import time

import numpy as np
from openevolve import _selftaught_clock as clock


def evaluate(program_path):
    module = load(program_path)
    direct = module.work._session.direct
    out = {}
    for hostile in (False, True):
        rows = []
        for _ in range(3):
            cpu, credited, allowed = time.thread_time(), clock.credited(), direct.allowed_total
            seen = time.perf_counter()
            got = module.work(hostile)
            seen = time.perf_counter() - seen
            rows.append((seen, time.thread_time() - cpu, clock.credited() - credited,
                         direct.allowed_total - allowed, type(got) is list and got[3] == 1.5))
        name = 'hostile' if hostile else 'honest'
        out[name + '_seen'] = min(r[0] for r in rows)
        out[name + '_over'] = max(r[2] - (r[1] + r[3]) for r in rows)
        out[name + '_list'] = float(all(r[4] for r in rows))
    array = np.arange(400_000) * 0.5
    convert = []
    for _ in range(3):
        cpu = time.thread_time()
        array.tolist()
        convert.append(time.thread_time() - cpu)
    out['convert'] = min(convert)
    return {'combined_score': 1.0, **out}
"""
)


def test_a_list_the_candidate_did_not_build_arrives_exact_within_the_rule(pool: SandboxPool) -> None:
    """A candidate whose result must be a list of 400,000 floats patches its encoder to send its numpy
    array's bytes tagged as a packed list, so the evaluator's decoder builds the list (`tolist`, on the
    evaluator's thread, whose CPU is credited) and the candidate skips that work. The list arrives exact
    and each call's credit stays within its CPU plus its allowance. What it gains is bounded by what
    the raw bytes cost to send, which is not credited past 64 KB more than twice the request: measured
    on a loaded 2-core machine, the hostile call was seen taking 12-21 ms with the conversion costing
    12 ms of CPU (about what one process pays for `tolist`), the honest one 85-89 ms (its own `tolist`
    and the packing of its list, which the clocks charge to it). No timing is asserted here: the
    ratio of sending to converting is the machine's."""
    m = run(AS_LIST, CONVERTED, pool).metrics
    assert m["honest_list"] == 1.0 and m["hostile_list"] == 1.0, m
    assert m["honest_over"] <= 1e-6 and m["hostile_over"] <= 1e-6, m


# ---------------------------------------------------------------- keys that all hash alike

COLLIDING = """
import json

import wire

_dumps = wire.dumps
M = (1 << 61) - 1  # every multiple of it hashes to 0: each key inserted walks all the keys before it
CRAFTED = json.dumps({'__st__': 'dict', 'items': [[M * i, 0] for i in range(1, 60_001)]}).encode()
armed = []


def dumps(value, *args, **kwargs):
    # Sent as crafted bytes: building that dict here would cost this process what decoding it costs.
    return CRAFTED if armed and value == 'flood' else _dumps(value, *args, **kwargs)


wire.dumps = dumps


def arm():
    armed.append(1)


def work():
    return 'flood' if armed else 1
"""

INTERRUPTED = (
    LOAD_PROGRAM
    + """
import signal


def alarm(*_):
    raise TimeoutError('the evaluator gave up')


def evaluate(program_path):
    module = load(program_path)
    before = module.work()
    module.arm()
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        module.work()  # ~26 s of decoding (quadratic in the 60,000 keys) if never interrupted
        flooded = 'finished'
    except TimeoutError as exc:
        flooded = f'TimeoutError: {exc}'
    signal.setitimer(signal.ITIMER_REAL, 0)
    return {'combined_score': 1.0, 'before': before, 'flooded': flooded}
"""
)


def test_a_value_of_colliding_keys_is_decoded_only_until_the_evaluators_alarm(pool: SandboxPool) -> None:
    """A 1.7 MB answer whose 60,000 int keys all hash alike costs the evaluator quadratic decoding
    (~26 s; 20,000 keys took 2.9 s) that the candidate's process never paid. Its own alarm still
    interrupts that decoding (between two keys), so the call ends at the evaluator's limit, not at the
    evaluation's deadline."""
    evaluation = run(COLLIDING, INTERRUPTED, pool)
    got = {key.removeprefix("metric:"): value for key, value in evaluation.artifacts.items()}
    assert evaluation.metrics.get("before") == 1.0, (evaluation.metrics, got)
    assert got.get("flooded") == "TimeoutError: the evaluator gave up", got
