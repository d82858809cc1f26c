"""Red team on the evaluator-candidate socket's raw bodies (large arrays and packed number lists travel
as message bodies since the brokered calls were made cheaper).

The candidate's process is the candidate's: it can replace its own runner's framing and send any
answer. Promises: a forged answer (too many bodies, one body named by two arrays) fails only the
candidate's own calls, each with a reason the evaluator can catch (a broken framing also drops that
process, so the next call gets a fresh, unpatched one); honest values of every shape cross both ways, int-keyed dicts of large arrays
included (broke when written: "array body out of range", fixed in `wire.decode`).
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


LOAD = (
    LOAD_PROGRAM
    + """
import numpy as np


def outcome(call):
    try:
        return ('ok', call())
    except Exception as exc:
        return ('error', f'{type(exc).__name__}: {exc}')
"""
)


def test_int_keyed_dicts_of_large_arrays_and_lists_cross_both_ways(pool: SandboxPool) -> None:
    program = (
        "import numpy as np\n"
        "def echo(value):\n"
        "    return {7: value[0] * 2, (1, 2): value[1], 'rows': {3: np.ones((40, 40))}}\n"
    )
    evaluator = LOAD + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    sent = {0: np.arange(1000.0), 1: [0.25] * 400}\n"
        "    kind, got = outcome(lambda: module.echo(sent))\n"
        "    if kind != 'ok':\n"
        "        return {'combined_score': 0.0, 'error': got}\n"
        "    right = (np.array_equal(got[7], np.arange(1000.0) * 2) and got[(1, 2)] == [0.25] * 400\n"
        "             and got['rows'][3].shape == (40, 40))\n"
        "    return {'combined_score': float(right)}\n"
    )
    metrics = run(program, evaluator, pool).metrics
    assert metrics["combined_score"] == 1.0, metrics


FORGER = """
import numpy as np
import frames

_pack = frames.pack_parts
mode = []

def forge(how):
    mode[:] = [how]

def _forged(header, bodies=()):
    bodies = list(bodies)
    if mode and 'seq' in header and bodies:
        if mode[0] == 'many':
            bodies = bodies + [b'x'] * (frames.MAX_BODIES + 5)
        elif mode[0] == 'twice':
            tag = '{"__st__": "nd", "dtype": "<f8", "shape": [300], "body": 0}'
            bodies = [f'[{tag}, {tag}]'.encode(), bytes(2400)]
    return _pack(header, bodies)

frames.pack_parts = _forged

def work():
    return list(range(10))
"""


@pytest.mark.parametrize("how", ["many", "twice"])
def test_a_forged_answer_fails_only_the_candidates_own_calls(pool: SandboxPool, how: str) -> None:
    evaluator = LOAD + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    before = outcome(module.work)\n"
        f"    forged = outcome(lambda: module.forge({how!r}))  # its own answer is the first forged\n"
        "    after = outcome(module.work)\n"
        "    return {'combined_score': 1.0, 'before': repr(before), 'forged': repr(forged),\n"
        "            'after': repr(after)}\n"
    )
    evaluation = run(FORGER, evaluator, pool)
    metrics = {key.removeprefix("metric:"): value for key, value in evaluation.artifacts.items()}
    honest = repr(("ok", list(range(10))))
    assert metrics.get("before") == honest, metrics
    forged, after = str(metrics.get("forged")), str(metrics.get("after"))
    reason = "body count" if how == "many" else "array body used twice"
    assert forged.startswith("('error'") and reason in forged, forged
    if how == "many":
        # The framing was broken, so that process was dropped: a fresh one (unpatched) answers next.
        assert after == honest, metrics
    else:
        # The frames were sound, so the process stays; it still forges and only its own calls fail.
        assert after.startswith("('error'") and reason in after, metrics


# ---------------------------------------------------------------- the null round trip after a restart

SLOW_AFTER_CRASH = """
import frames, os, time

_write_all = frames.write_all

def write_all(fd, data):
    time.sleep(0.2)
    _write_all(fd, data)

frames.write_all = write_all  # every answer of every process that imported this module waits 0.2 s

def crash():
    os._exit(3)

def work():
    return 1
"""


def test_a_restarted_candidate_process_is_timed_again_before_its_code_runs(pool: SandboxPool) -> None:
    """The candidate ends its own process mid-call, hoping the next process is timed for its null round
    trip after the module (and its slowing patch) is imported there. It is not: the new process's null
    round trip is timed first, so it stays below the patch's 0.2 s, and each later call is seen with
    the 0.2 s in it. The control is the first process's figure, timed the same way."""
    evaluator = LOAD + (
        "import time\n"
        "from openevolve import _selftaught_clock as clock\n"
        "def seen(call):\n"
        "    start = time.perf_counter(); call(); return time.perf_counter() - start\n"
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    first = module.work._session.direct\n"
        "    crashed = outcome(module.crash)\n"
        "    later = min(seen(module.work) for _ in range(3))\n"
        "    second = module.work._session.direct\n"
        "    return {'combined_score': 1.0, 'restarted': float(second is not first),\n"
        "            'null_first': first.null_wait, 'null_second': second.null_wait, 'seen': later,\n"
        "            'crashed': float(crashed[0] == 'error')}\n"
    )
    metrics = run(SLOW_AFTER_CRASH, evaluator, pool).metrics
    assert metrics["restarted"] == 1.0 and metrics["crashed"] == 1.0, metrics
    assert 0 < metrics["null_first"] < 0.2 and 0 < metrics["null_second"] < 0.2, metrics
    assert metrics["seen"] >= 0.2 - metrics["null_second"], metrics
