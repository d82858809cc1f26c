"""The calibrated allowance: what of a call's non-CPU time the evaluator's clocks may leave out.

End to end on the real sandbox, with evaluators of our own that time calls the way AlgoTune's do and read
beside each call, on trusted clocks: the real duration, their thread's CPU time, what was credited
(`_selftaught_clock.credited`) and what the calls' exchanges were allowed (`Direct.allowed_total`). The
rule checked: a call's credit is at most its CPU time plus its allowance and never more than it took;
the allowance comes from rates timed before the candidate's code ran, counts the answer's bytes only at
the rate of a ready-made array and up to a cap (so a huge answer, whatever the candidate's process did
to make it cheap, buys nothing), and never the encoding of the result. No wall-clock bound: each
assertion compares clocks of the same run or figures the same process measured.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

SLACK = 1 << 16  # RESULT_SLACK of _selftaught_direct


MEASURE = (
    LOAD_PROGRAM
    + """
import time

from openevolve import _selftaught_clock as clock


def measured(module, call, times=3):
    \"\"\"Per call: (real seconds, this thread's CPU seconds, credited, allowed, seen) on trusted clocks.\"\"\"
    direct = module.work._session.direct
    rows = []
    for _ in range(times):
        real, cpu, credited, allowed = (clock.real_perf_counter(), time.thread_time(), clock.credited(),
                                        direct.allowed_total)
        seen = time.perf_counter()
        call()
        seen = time.perf_counter() - seen
        rows.append((clock.real_perf_counter() - real, time.thread_time() - cpu,
                     clock.credited() - credited, direct.allowed_total - allowed, seen))
    return rows


def rule_held(rows):
    \"\"\"Each call's credit is within its CPU time plus its allowance and within its real duration.\"\"\"
    return float(all(credit <= cpu + allowed + 1e-6 and credit <= real + 1e-6 and seen >= 0
                     for real, cpu, credit, allowed, seen in rows))


def calibration(module):
    direct = module.work._session.direct
    rates = direct.rates
    return {'null': direct.null_wait, 'per_sent': rates.per_sent, 'per_received': rates.per_received,
            'per_item': rates.per_item, 'null_sent': rates.null_sent}
"""
)

PROGRAM = """
import time

import numpy as np


def work(seconds=0.0, spin=0.0, size=0, floats=0, items=None):
    if seconds:
        time.sleep(seconds)
    end = time.perf_counter() + spin
    while time.perf_counter() < end:  # computing, not sleeping: the candidate's own CPU time
        pass
    if floats:
        return [0.5] * floats
    return np.zeros(size, dtype=np.uint8) if size else None
"""


def test_a_call_is_credited_its_cpu_and_at_most_its_allowance(pool: SandboxPool) -> None:
    """Honest calls of every payload kind (none, a packed list argument, a raw array answer, a list
    answer): the rule holds for each call, something is left out, and the calibration measured a null
    round trip and the bytes of a message."""
    evaluator = MEASURE + (
        "import numpy as np\n"
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    rows = (measured(module, module.work) + measured(module, lambda: module.work(items=[0.5] * 5000))\n"
        "            + measured(module, lambda: module.work(size=200_000))\n"
        "            + measured(module, lambda: module.work(floats=20_000)))\n"
        "    return {'combined_score': 1.0, 'rule': rule_held(rows),\n"
        "            'credited': sum(r[2] for r in rows), 'allowed': sum(r[3] for r in rows),\n"
        "            **calibration(module)}\n"
    )
    metrics = run(PROGRAM, evaluator, pool).metrics
    assert metrics["rule"] == 1.0, metrics
    assert metrics["credited"] > 0 and metrics["allowed"] > 0, metrics
    assert metrics["null"] > 0 and metrics["null_sent"] > 0, metrics


def test_sleeping_or_computing_is_charged_to_the_candidate(pool: SandboxPool) -> None:
    """A candidate that sleeps 30 ms and one that computes for 30 ms: each call is seen taking at least
    30 ms less that call's allowance (which the calibration fixed before the candidate's code ran)."""
    evaluator = MEASURE + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    worst = {}\n"
        "    for kind, call in (('sleep', lambda: module.work(0.03)), ('spin', lambda: module.work(spin=0.03))):\n"
        "        rows = measured(module, call)\n"
        "        worst[kind] = min(seen + allowed for real, cpu, credit, allowed, seen in rows) - 0.03\n"
        "        worst[kind + '_rule'] = rule_held(rows)\n"
        "    return {'combined_score': 1.0, **worst}\n"
    )
    metrics = run(PROGRAM, evaluator, pool).metrics
    for kind in ("sleep", "spin"):
        assert metrics[kind + "_rule"] == 1.0, metrics
        assert metrics[kind] >= 0, (kind, metrics)


HUGE = """
import time

import numpy as np
import wire

PAD = np.zeros(3_000_000, dtype=np.uint8)  # made once: sending it costs the process next to nothing
_dumps = wire.dumps
_cached = {}


def dumps(value, *args, **kwargs):
    # The encoder patched to send cached bytes for the padding: encoding it costs this process nothing.
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list):
        key = len(value[1])
        if key not in _cached:
            _cached[key] = _dumps(value[1])  # base64 in the JSON: no body to number anew each time
        return b'{"__st__":"tuple","items":[' + _dumps(value[0]) + b',' + _cached[key] + b']}'
    return _dumps(value, *args, **kwargs)


wire.dumps = dumps


def work(kind):
    time.sleep(0.02)  # the candidate's own work, which no padding may buy
    if kind == 'array':
        return (1, PAD)
    return (1, [0.25] * 300_000)
"""


@pytest.mark.parametrize("kind", ["array", "list"])
def test_a_huge_answer_buys_no_time(pool: SandboxPool, kind: str) -> None:
    """The candidate pads each answer (a 3 MB ready-made array, or a list of 300,000 floats whose
    encoding its patched encoder serves from a cache) hoping to be credited for sending it. The answer's
    bytes count only up to twice the request's plus 64 KB, at the ready-made rate, and its encoding not at
    all: the allowance stays within that bound, and the 20 ms of work is seen, less that bound at most."""
    evaluator = MEASURE + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        f"    rows = measured(module, lambda: module.work({kind!r}))\n"
        "    direct = module.work._session.direct\n"
        "    rates = direct.rates\n"
        "    bound = (direct.null_wait + rates.per_sent * 4096\n"
        f"             + rates.per_received * (2 * 4096 + {SLACK}))\n"
        "    return {'combined_score': 1.0, 'rule': rule_held(rows),\n"
        "            'allowed_max': max(r[3] for r in rows), 'bound': bound,\n"
        "            'worst': min(r[4] for r in rows) - (0.02 - bound),\n"
        "            'answer_ok': float(module.work('array')[0] == 1)}\n"
    )
    metrics = run(HUGE, evaluator, pool).metrics
    assert metrics["answer_ok"] == 1.0 and metrics["rule"] == 1.0, metrics
    assert metrics["allowed_max"] <= metrics["bound"] + 1e-9, metrics
    assert metrics["worst"] >= 0, metrics


SLOW_PROCESS = """
import time

import frames

time.sleep(0.3)  # a slow import: the calibration is over before this runs
_write_all = frames.write_all
_recv_message = frames.recv_message


def write_all(fd, data):
    time.sleep(0.05)
    _write_all(fd, data)


def recv_message(reader, cap):
    time.sleep(0.05)
    return _recv_message(reader, cap)


frames.write_all = write_all
frames.recv_message = recv_message


def work():
    return 1
"""


def test_the_calibration_is_over_before_the_candidates_code_runs(pool: SandboxPool) -> None:
    """A candidate whose import is slow and which slows every read and write of its process by 50 ms:
    the null round trip and the per-unit costs, timed before its import, stay what an untouched process
    gives (each far below 50 ms for its calibration payload), and its calls are seen with the stalls."""
    evaluator = MEASURE + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    rows = measured(module, module.work)\n"
        "    c = calibration(module)\n"
        "    payload = 1 << 17\n"
        "    return {'combined_score': 1.0, 'rule': rule_held(rows), 'seen': min(r[4] + r[3] for r in rows),\n"
        "            'null': c['null'], 'sent_cost': c['per_sent'] * payload,\n"
        "            'received_cost': c['per_received'] * payload, 'items_cost': c['per_item'] * payload / 8}\n"
    )
    metrics = run(SLOW_PROCESS, evaluator, pool).metrics
    assert metrics["rule"] == 1.0, metrics
    for figure in ("null", "sent_cost", "received_cost", "items_cost"):
        assert metrics[figure] < 0.05, (figure, metrics)
    # What was seen plus what was allowed holds the 50 ms stall of each answer (the stall before each read
    # may overlap the evaluator's own time between calls, so it is not counted on).
    assert metrics["seen"] >= 0.05, metrics


EARLY = """
import threading
import time

import frames

_write_all = frames.write_all
armed = []


def write_all(fd, data):
    _write_all(fd, data)
    if armed:  # after its answer, start writing the next answer's bytes before it is asked
        threading.Thread(target=lambda: (time.sleep(0.05), _write_all(fd, b'\\0' * 64))).start()


frames.write_all = write_all


def arm():
    armed.append(1)


def work():
    return 1
"""


def _refused_then_fresh(program: str, pool: SandboxPool, pause: float, reason: str) -> None:
    """`program` answers one call (`work`), is armed (`arm`) to write on its socket out of turn, then
    called again after `pause` seconds: that call fails for `reason` (the process is ended), and the
    call after it is answered by a fresh process."""
    evaluator = LOAD_PROGRAM + (
        "import time\n"
        "def outcome(call):\n"
        "    try:\n"
        "        return ('ok', call())\n"
        "    except Exception as exc:\n"
        "        return ('error', f'{type(exc).__name__}: {exc}')\n"
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    before = outcome(module.work)\n"
        "    module.arm()\n"
        f"    time.sleep({pause})\n"
        "    refused = outcome(module.work)\n"
        "    after = outcome(module.work)\n"
        "    return {'combined_score': 1.0, 'before': repr(before), 'refused': repr(refused), 'after': repr(after)}\n"
    )
    evaluation = run(program, evaluator, pool)
    metrics = {key.removeprefix("metric:"): value for key, value in evaluation.artifacts.items()}
    assert metrics.get("before") == repr(("ok", 1)), metrics
    refused = str(metrics.get("refused"))
    assert refused.startswith("('error'") and reason in refused, metrics
    assert metrics.get("after") == repr(("ok", 1)), metrics


def test_an_answer_written_before_its_request_ends_the_process(pool: SandboxPool) -> None:
    """The candidate's process writes bytes on the socket between calls (to have its next answer there
    before it is asked): the next call finds them before sending and fails (the process is ended), and
    the call after it is answered by a fresh process."""
    _refused_then_fresh(EARLY, pool, 0.5, "wrote before it was asked")


PAST = """
import frames

_write_all = frames.write_all
armed = [0]  # answers to write until the padded one (`arm`'s own answer is the first)


def write_all(fd, data, *args, **kwargs):
    if armed[0]:
        armed[0] -= 1
        if not armed[0]:  # its answer and, in the same write, the start of a next one (there early)
            data = list(data) + [b'\\0' * 64]
    _write_all(fd, data, *args, **kwargs)


frames.write_all = write_all


def arm():
    armed[0] = 2


def work():
    return 1
"""


def test_bytes_written_past_an_answer_end_the_process(pool: SandboxPool) -> None:
    """The candidate's process writes more than its answer (the next answer's bytes, ready before it
    is asked): the answer is refused and the process ended, and the next call is answered by a fresh
    process, whose module starts over (so `arm` is undone)."""
    _refused_then_fresh(PAST, pool, 0.0, "wrote past its answer")


def test_a_threads_first_exchange_is_allowed_the_null_timed_from_new_threads(pool: SandboxPool) -> None:
    """AlgoTune's evaluators make each timed call from a new one-thread pool. A thread's first exchange
    is allowed the null round trip timed from new threads (before the candidate's code ran; never less
    than the plain one), its later exchanges and the main thread's the plain one; the rule holds."""
    evaluator = MEASURE + (
        "import concurrent.futures\n"
        "def in_new_thread(call):\n"
        "    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:\n"
        "        return executor.submit(call).result()\n"
        "def allowed_of(module, call):\n"
        "    direct = module.work._session.direct\n"
        "    before = direct.allowed_total\n"
        "    call()\n"
        "    return direct.allowed_total - before\n"
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    direct = module.work._session.direct\n"
        "    main = allowed_of(module, module.work)\n"
        "    first = in_new_thread(lambda: allowed_of(module, module.work))\n"
        "    twice = in_new_thread(lambda: (module.work(), allowed_of(module, module.work))[1])\n"
        "    rows = measured(module, lambda: in_new_thread(module.work))\n"
        "    return {'combined_score': 1.0, 'main': main, 'first': first, 'twice': twice,\n"
        "            'null': direct.null_wait, 'first_null': direct.first_null_wait, 'rule': rule_held(rows)}\n"
    )
    metrics = run(PROGRAM, evaluator, pool).metrics
    assert metrics["first_null"] >= metrics["null"] > 0, metrics
    # The same exchange (no arguments, answer None): only the null part differs.
    assert abs(metrics["first"] - metrics["main"] - (metrics["first_null"] - metrics["null"])) < 1e-6, metrics
    assert abs(metrics["twice"] - metrics["main"]) < 1e-6, metrics
    assert metrics["rule"] == 1.0, metrics
