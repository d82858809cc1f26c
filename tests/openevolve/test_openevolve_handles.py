"""What crosses between an OpenEvolve evaluator and its candidate: plain data as it went, and handles to
objects of the candidate's classes. End to end on the real sandbox (evaluators of our own, written the
OpenEvolve way), with red-team attacks on handles beside honest controls.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oe_directory import LOAD_PROGRAM

from selftaught.sandbox import Job, SandboxPool
from selftaught.sandbox.inside import wire
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveEvaluation

sys.path.insert(0, str(Path(__file__).parents[1] / "sandbox"))  # the wire's value strategies
from wire_values import values

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

LOAD = (
    LOAD_PROGRAM
    + """
import signal


def _alarm(signum, frame):
    raise TimeoutError("evaluator's alarm")

def _error(call):
    try:
        call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "accepted"
"""
)

SAME = """
import math
import numpy as np

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and (a == b or (a != a and b != b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) and type(k) is type(kb) for k, kb in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)
"""


def run(directory: Path, program: str, evaluator: str, pool: SandboxPool) -> OpenEvolveEvaluation:
    (directory / "initial_program.py").write_text(program)
    (directory / "evaluator.py").write_text(evaluator)
    task = load_task(f"openevolve:{directory}")
    evaluation = task.evaluate(program, executor=pool)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


# ---------------------------------------------------------------- plain data


ECHO = """
def echo(value):
    return value

def spread(*args, **kwargs):
    return args, kwargs
"""

ECHO_EVALUATOR = (
    LOAD
    + SAME
    + """
import wire

def evaluate(program_path):
    module = load(program_path)
    with open("values.wire", "rb") as handle:
        values = wire.loads(handle.read())
    wrong = [i for i, value in enumerate(values) if not same(module.echo(value), value)]
    args, kwargs = module.spread(*values[:3], key=tuple(values[3:5]))
    spread_ok = same(args, tuple(values[:3])) and same(kwargs, {"key": tuple(values[3:5])})
    return {"combined_score": float(not wrong and spread_ok), "wrong": len(wrong), "first_wrong": repr([values[i] for i in wrong[:1]])}
"""
)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(values, min_size=5, max_size=25))
def test_plain_data_crosses_the_evaluator_proxy_as_it_went(pool: SandboxPool, drawn: list[Any]) -> None:
    """Property test end to end: every drawn value comes back from the candidate equal and of the same
    types (tuples, key types, numpy dtypes and shapes), as arguments and as results."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "values.wire").write_bytes(wire.dumps(drawn))
        evaluation = run(Path(tmp), ECHO, ECHO_EVALUATOR, pool)
    assert evaluation.metrics.get("combined_score") == 1.0, (evaluation.metrics, evaluation.artifacts)


FOREIGN = """
import numpy as np

# Classes of another library (their module is not the candidate's): like jax.Array, or an opaque object.
Array = type("Array", (), {"__module__": "fakejax", "__array__": lambda self, dtype=None, copy=None: np.arange(6.0).reshape(2, 3)})
Opaque = type("Opaque", (), {"__module__": "fakejax"})

def arrays():
    return (1.0, Array(), {"x": [Array()]})

def opaque():
    return (1, {"x": Opaque()})
"""

FOREIGN_EVALUATOR = (
    LOAD
    + """
import numpy as np

def evaluate(program_path):
    module = load(program_path)
    first, arr, rest = module.arrays()
    converted = type(arr) is np.ndarray and arr.shape == (2, 3) and type(rest["x"][0]) is np.ndarray
    try:
        module.opaque()
        message = "no error"
    except TypeError as exc:
        message = str(exc)
    named = "result[1]['x']: fakejax.Opaque" in message
    return {"combined_score": float(converted and named), "message": message}
"""
)


def test_other_libraries_arrays_arrive_as_numpy_and_a_refusal_names_the_element(pool: SandboxPool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), FOREIGN, FOREIGN_EVALUATOR, pool)
    assert evaluation.metrics["combined_score"] == 1.0, evaluation.artifacts


# ---------------------------------------------------------------- handles

SOLVER = """
import numpy as np

class Solver:
    \"\"\"Solves problems (like AlgoTune's Solver).\"\"\"

    def __init__(self, scale=1):
        self.scale = scale
        self.calls = 0

    def solve(self, problem):
        self.calls += 1
        return {"solution": np.asarray(problem) * self.scale}

    def is_solution(self, problem, solution):
        return bool(np.allclose(np.asarray(problem) * self.scale, solution["solution"]))

    def child(self):
        return Solver(self.scale + 1)

    def scale_of(self, other):
        return other.scale if isinstance(other, Solver) else None

    def __len__(self):
        return self.calls

    def spin(self):
        while True:
            pass

SHARED = Solver(10)
"""

SOLVER_EVALUATOR = (
    LOAD
    + """
def evaluate(program_path):
    module = load(program_path)
    solver = module.Solver(2)
    checks = {}
    checks["isinstance"] = isinstance(solver, module.Solver)
    answer = solver.solve([1, 2, 3])
    checks["solve"] = list(answer["solution"]) == [2, 4, 6]
    checks["is_solution"] = solver.is_solution([1, 2, 3], answer)
    checks["attribute"] = solver.scale == 2 and solver.calls == 1
    child = solver.child()
    checks["returned_object"] = isinstance(child, module.Solver) and child.scale == 3
    checks["handle_as_argument"] = solver.scale_of(child) == 3 and child.scale_of(solver) == 2
    solver.scale = 5
    checks["setattr"] = solver.solve([1])["solution"][0] == 5
    checks["len"] = len(solver) == 2
    checks["module_global"] = isinstance(module.SHARED, module.Solver) and module.SHARED.scale == 10
    checks["same_object_same_handle"] = module.SHARED.scale_of(module.SHARED) == 10
    bad = [name for name, ok in checks.items() if not ok]
    return {"combined_score": float(not bad), "failed_checks": ",".join(bad)}
"""
)


def test_objects_of_the_candidates_classes_are_usable_through_handles(pool: SandboxPool) -> None:
    """AlgoTune's pattern: the evaluator makes the candidate's Solver and calls its methods."""
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), SOLVER, SOLVER_EVALUATOR, pool)
    assert evaluation.metrics.get("combined_score") == 1.0, (evaluation.metrics, evaluation.artifacts)


FORGED_EVALUATOR = (
    LOAD
    + """
import os
import wire

class Forged:
    \"\"\"An object claiming to be a handle of the candidate's process, with an id it never made.\"\"\"
    def __init__(self, ref):
        self.ref = ref
    def __wire_ref__(self):
        return self.ref

def evaluate(program_path):
    module = load(program_path)
    honest = module.Solver(4)
    honest_ok = honest.scale_of(honest) == 4  # control: a real handle works
    forged = Forged(wire.Ref(int.from_bytes(os.urandom(8), "little") >> 1, "Solver"))
    as_argument = _error(lambda: honest.scale_of(forged))
    session = object.__getattribute__(honest, "_st_session")
    request = {"op": "method", "module": "program", "module_id": session.module_id, "name": "solve",
               "handle": forged.ref.id, "session": session.generation, "args_wire": b"[[1],{}]"}
    raw = session.direct.call(request, 5.0) if session.direct else session.broker.module(request, 5.0)
    # Linked to the candidate, the host carries no call at all (values and handles never reach it).
    through_host = session.broker.module(request, 5.0) if session.direct else {"error": "linked"}
    return {
        "combined_score": float(honest_ok),
        "through_host": str(through_host.get("error")),
        "as_argument": as_argument,
        "raw": str(raw.get("error")),
    }
"""
)


def test_a_forged_handle_id_is_refused_and_a_real_one_beside_it_works(pool: SandboxPool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), SOLVER, FORGED_EVALUATOR, pool)
    assert evaluation.metrics.get("combined_score") == 1.0, evaluation.artifacts
    assert "unknown handle" in evaluation.artifacts["metric:as_argument"]
    assert "unknown handle" in evaluation.artifacts["metric:raw"]
    assert "linked" in evaluation.artifacts["metric:through_host"]


STALE_EVALUATOR = (
    LOAD
    + """
def evaluate(program_path):
    module = load(program_path)
    old = module.Solver(3)
    before = old.solve([1])["solution"][0] == 3  # control: alive
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    timed_out = _error(old.spin)  # the candidate's process is killed at the call's limit
    signal.setitimer(signal.ITIMER_REAL, 0)
    stale = _error(lambda: old.solve([1]))
    session = object.__getattribute__(old, "_st_session")
    fresh = module.Solver(5)  # a new process of the candidate serves new objects
    after = fresh.solve([1])["solution"][0] == 5
    # Past the evaluator's own check: the old id with the new process's number is unknown over there.
    ref = object.__getattribute__(old, "_st_ref")
    request = {"op": "method", "module": "program", "module_id": session.module_id, "name": "solve",
               "handle": ref.id, "session": session.generation, "args_wire": b"[[1],{}]"}
    raw = session.direct.call(request, 5.0) if session.direct else session.broker.module(request, 5.0)
    return {
        "combined_score": float(before and after),
        "timed_out": timed_out,
        "stale": stale,
        "raw": str(raw.get("error")),
    }
"""
)


def test_a_stale_handle_after_the_candidates_process_ended_is_refused(pool: SandboxPool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), SOLVER, STALE_EVALUATOR, pool)
    artifacts = evaluation.artifacts
    assert evaluation.metrics.get("combined_score") == 1.0, artifacts
    assert artifacts["metric:timed_out"].startswith("TimeoutError"), artifacts
    assert "has ended" in artifacts["metric:stale"], artifacts
    assert "unknown handle" in artifacts["metric:raw"], artifacts


REACHING = """
import wire

_dumps = wire.dumps

def _forge(data):
    # The candidate rewrites its own encoder of results (its channel's own messages stay honest).
    def dumps(value, *args, root="value", **kwargs):
        return data if root == "result" else _dumps(value, *args, root=root, **kwargs)
    wire.dumps = dumps

def proxy_tag():
    _forge(b'{"__st__":"proxy","name":"candidate"}')  # the tag of the host's proxy object
    return 1

def odd_class():
    _forge(b'{"__st__":"ref","id":1,"cls":"__class__"}')
    return 1

def restore():
    wire.dumps = _dumps
    return 1

def honest():
    return (1, 2)
"""

REACHING_EVALUATOR = (
    LOAD
    + """
def _error(call):
    try:
        return repr(call())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"

def evaluate(program_path):
    module = load(program_path)
    got_proxy = _error(module.proxy_tag)
    module.restore()
    odd = module.odd_class()
    module.restore()
    return {
        "combined_score": float(module.honest() == (1, 2)),
        "proxy": got_proxy,
        "odd": repr(type(odd).__mro__),
    }
"""
)


def test_a_candidate_cannot_hand_the_evaluator_a_proxy_or_one_of_its_objects(pool: SandboxPool) -> None:
    """A candidate forging the host proxy's tag gets an error; a handle is only ever a stub here."""
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), REACHING, REACHING_EVALUATOR, pool)
    artifacts = evaluation.artifacts
    assert evaluation.metrics.get("combined_score") == 1.0, artifacts  # control: honest values cross
    assert "could not be read" in artifacts["metric:proxy"] and "proxy" in artifacts["metric:proxy"]
    assert "CandidateObject" in artifacts["metric:odd"] and "_selftaught_proxies" in artifacts["metric:odd"]


def test_the_host_never_resolves_a_handle(pool: SandboxPool) -> None:
    """A job's output holding a handle tag is a malformed output on the host, never an object."""
    program = (
        "import wire\n"
        "class Claim:\n"
        "    def __wire_ref__(self):\n"
        "        return wire.Ref(1, 'Solver')\n"
        "def f():\n"
        "    return [1, Claim()]\n"
    )
    result = pool.run(Job(source=program, entry="f", instances=[[]]))
    assert result.instances[0].output is None and "malformed output" in str(result.instances[0].error)
    honest = pool.run(Job(source="def f():\n    return [1, (2,)]\n", entry="f", instances=[[]]))
    assert honest.instances[0].output == [1, (2,)]


def test_numpy_arrays_cross_to_and_from_the_candidate_with_dtype_and_shape(pool: SandboxPool) -> None:
    evaluator = LOAD + (
        "import numpy as np\n"
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    out = module.echo((np.zeros((3, 1), np.float32), np.int8(3)))\n"
        "    ok = out[0].shape == (3, 1) and out[0].dtype == np.float32 and type(out[1]) is np.int8\n"
        "    return {'combined_score': float(ok)}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), ECHO, evaluator, pool)
    assert evaluation.metrics["combined_score"] == 1.0, evaluation.artifacts
    assert np.float32(1) == 1  # (keeps numpy imported for the reader: the values above are numpy's)


# ---------------------------------------------------------------- the direct socket, attacked from the candidate

SOCKET_ATTACKS = """
import os
import stat
import struct
import time

def _peer():
    for fd in range(5, 128):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return fd
        except OSError:
            continue

def huge_frame():
    os.write(_peer(), struct.pack(">I", 1 << 30) + b"{")  # a header frame "of a gigabyte"
    time.sleep(30)

def stall():
    os.write(_peer(), struct.pack(">I", 100) + b"{")  # half a frame, then nothing
    time.sleep(30)

def twice():
    os.write(_peer(), struct.pack(">I", 9) + b'{"seq":0}')  # an answer out of turn
    return 1

def garbage():
    os.write(_peer(), struct.pack(">I", 5) + b"\\xff\\xfe{[}")
    time.sleep(30)

def pass_fds():
    import socket
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(8)]
    with socket.socket(fileno=os.dup(_peer())) as sock:
        socket.send_fds(sock, [b"\\x00"], fds)  # descriptors for the evaluator, riding on one byte
    time.sleep(30)

def honest():
    return (1, 2)
"""

SOCKET_EVALUATOR = (
    LOAD
    + """
import os
import time

def _outcome(call):
    started = time.monotonic()
    try:
        value = repr(call())
    except BaseException as exc:
        value = f"{type(exc).__name__}: {exc}"
    return value, time.monotonic() - started

def evaluate(program_path):
    module = load(program_path)
    out = {}
    out["fds_before"] = _open_fds()
    for name in ("huge_frame", "stall", "twice", "garbage", "pass_fds"):
        signal.setitimer(signal.ITIMER_REAL, 0)
        value, seconds = _outcome(_limited(getattr(module, name)))
        out[name] = value
        out[name + "_seconds"] = seconds
        out[name + "_then_honest"] = repr(module.honest())  # control: the next call is served honestly
    out["fds_after"] = _open_fds()
    return {"combined_score": 1.0, **out}

def _open_fds():
    count = 0
    for fd in range(1024):
        try:
            os.fstat(fd)
            count += 1
        except OSError:
            pass
    return count

def _limited(call):
    def run():
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            return call()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return run
"""
)


def test_a_candidate_writing_on_its_socket_only_fails_its_own_calls(pool: SandboxPool) -> None:
    """Frames too large, half frames, answers out of turn, garbage and passed descriptors on the direct
    socket: each fails
    that call with a reason (never a hang past its limit), and the next call starts a fresh process once
    the old one is gone (at the call's limit, by its own timer)."""
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), SOCKET_ATTACKS, SOCKET_EVALUATOR, pool)
    got = evaluation.artifacts
    assert evaluation.metrics.get("combined_score") == 1.0, got
    for name in ("huge_frame", "stall", "twice", "garbage", "pass_fds"):
        assert got[f"metric:{name}_then_honest"] == "(1, 2)", got
        assert not got[f"metric:{name}"].startswith("(") or name == "twice", got
    assert "process ended" in got["metric:huge_frame"] and "exceeds the cap" in got["metric:huge_frame"]
    assert got["metric:stall"].startswith("TimeoutError"), got
    assert all(evaluation.metrics[f"{name}_seconds"] < 10.0 for name in ("huge_frame", "stall", "garbage"))
    assert "out of turn" in got["metric:twice"] or "process ended" in got["metric:twice"], got
    assert "process ended" in got["metric:garbage"], got
    assert "process ended" in got["metric:pass_fds"] or got["metric:pass_fds"].startswith("TimeoutError"), got
    # Descriptors the candidate sent are dropped by the kernel (the evaluator reads bytes only): its
    # own descriptors are as many as before (its sockets to old processes closed, one to the live one).
    assert evaluation.metrics["fds_after"] <= evaluation.metrics["fds_before"] + 1, evaluation.metrics


RANDOM_PROGRAM = """
import random
import numpy as np

def draw():
    return float(np.random.rand()), random.random()
"""

RANDOM_EVALUATOR = (
    LOAD
    + """
import random
import numpy as np

def _reference(steps):
    # One process: the evaluator's and the candidate's draws share one generator of each kind.
    np.random.seed(7)
    random.seed(7)
    out = []
    for step in steps:
        if step == "draw":
            out.append((float(np.random.rand()), random.random()))
        elif step == "evaluator":
            np.random.rand()
            random.random()
        else:
            np.random.seed(7)
            random.seed(7)
    return out

def evaluate(program_path):
    module = load(program_path)
    steps = ["draw", "draw", "reseed", "draw", "draw"]
    expected = _reference(steps)
    np.random.seed(7)
    random.seed(7)
    got = []
    for step in steps:
        if step == "draw":
            got.append(tuple(module.draw()))
        elif step == "evaluator":
            np.random.rand()
            random.random()
        else:
            np.random.seed(7)
            random.seed(7)
    matches = sum(g == e for g, e in zip(got, expected))
    # The evaluator draws between calls: the candidate starts from the evaluator's state (its own
    # earlier draws are not in it: they never advance the evaluator's generators).
    np.random.seed(11)
    np.random.rand()
    after_evaluator = module.draw()[0]
    reference = np.random.RandomState(11)
    reference.rand()
    matches += after_evaluator == float(reference.rand())
    return {"combined_score": matches / (len(expected) + 1), "got": repr(got), "expected": repr(expected)}
"""
)


def test_the_candidates_random_draws_follow_one_process_between_calls(pool: SandboxPool) -> None:
    """Seeded, the candidate's draws are one process's: consecutive calls go on (no repeated numbers),
    a reseed in between starts them over, and after the evaluator's own draws the candidate starts from
    the evaluator's state."""
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), RANDOM_PROGRAM, RANDOM_EVALUATOR, pool)
    assert evaluation.metrics.get("combined_score") == 1.0, evaluation.artifacts


class Unlinked:
    """An executor that cannot start jobs beside each other (drops `peer_of`): calls go through the host."""

    def __init__(self, pool: SandboxPool) -> None:
        self.pool = pool
        self.workers = pool.workers

    def run(self, job: Job, rpc: Any = None, stop: Any = None) -> Any:
        return self.pool.run(dataclasses.replace(job, peer_of=None), rpc, stop)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def test_through_the_host_handles_and_values_cross_the_same(pool: SandboxPool) -> None:
    """Where the executor cannot link the two processes, the same evaluator gets the same results."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "initial_program.py").write_text(SOLVER)
        (Path(tmp) / "evaluator.py").write_text(SOLVER_EVALUATOR)
        task = load_task(f"openevolve:{tmp}")
        linked = task.evaluate(SOLVER, executor=pool)
        unlinked = task.evaluate(SOLVER, executor=Unlinked(pool))  # type: ignore[arg-type]
    assert linked.metrics.get("combined_score") == 1.0, linked.artifacts
    assert unlinked.metrics.get("combined_score") == 1.0, unlinked.artifacts


THREADS_EVALUATOR = (
    LOAD
    + """
from concurrent.futures import ThreadPoolExecutor

def evaluate(program_path):
    module = load(program_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: module.spread(i, key=(i,)), range(200)))
    ok = all(result == ((i,), {"key": (i,)}) for i, result in enumerate(results))
    return {"combined_score": float(ok)}
"""
)


def test_calls_from_several_evaluator_threads_each_get_their_own_answer(pool: SandboxPool) -> None:
    """Evaluators that call the candidate from a thread pool (OpenEvolve's `run_with_timeout`)."""
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = run(Path(tmp), ECHO, THREADS_EVALUATOR, pool)
    assert evaluation.metrics.get("combined_score") == 1.0, evaluation.artifacts
