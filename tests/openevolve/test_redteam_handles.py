"""Red team on handles: a candidate holding or forging handles reaches neither the evaluator's objects nor
the host, and an id it did not make (forged, or made in another evaluation) is refused.

Real sandbox, evaluators of our own written the AlgoTune way (the evaluator makes the candidate's class
and calls its methods). Each attack sits beside an honest control in the same evaluation.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

SECRET = "EVALUATOR-SECRET-" + "3" * 16


LOAD = (
    LOAD_PROGRAM
    + """


def _error(call):
    try:
        return repr(call())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
"""
)

HUNTER = """
import gc
import os
import sys

SECRET_PREFIX = "EVALUATOR-SECRET-"
OWN = [SECRET_PREFIX + "its-own"]  # the hunt's control: found in its own process (lists are tracked)


class Solver:
    def __init__(self):
        self.kept = None

    def keep(self, value):
        self.kept = value
        return type(value).__name__

    def same(self, other):
        return other is self

    def hunt(self):
        \"\"\"Everything this process can see of the evaluator: objects, modules, memory of other pids.\"\"\"
        found = set()
        for container in gc.get_objects():  # strings live in containers (gc tracks no str itself)
            items = container.values() if isinstance(container, dict) else container
            if isinstance(container, (dict, list, tuple, set)):
                found.update(o for o in list(items) if isinstance(o, str) and o.startswith(SECRET_PREFIX) and o != SECRET_PREFIX)
        found = sorted(found)
        modules = sorted(name for name in sys.modules if "evaluator" in name or name.startswith("openevolve._selftaught"))
        memory = []
        for pid in range(1, 4097):
            if pid == os.getpid():
                continue
            for what in ("mem", "environ", "maps"):
                try:
                    with open(f"/proc/{pid}/{what}", "rb") as handle:
                        memory.append((pid, what, len(handle.read(64))))
                except OSError:
                    pass
        return {"found": found, "modules": modules, "memory": memory}
"""

HUNTER_EVALUATOR = (
    LOAD
    + f"""
KEPT_SECRET = {SECRET!r}  # a global of the evaluator's module, never passed to the candidate


class Scorer:
    secret = KEPT_SECRET

    def check(self):
        return KEPT_SECRET


def evaluate(program_path):
    module = load(program_path)
    solver = module.Solver()
    honest = solver.same(solver)  # control: a handle passed back is the candidate's own object
    callback = _error(lambda: solver.keep(Scorer().check))
    instance = _error(lambda: solver.keep(Scorer()))
    cls = _error(lambda: solver.keep(Scorer))
    seen = solver.hunt()
    return {{
        "combined_score": float(honest is True),
        "callback": callback, "instance": instance, "cls": cls,
        "kept": repr(solver.kept),
        "found": repr(seen["found"]), "modules": repr(seen["modules"]), "memory": repr(seen["memory"]),
    }}
"""
)


def test_a_handle_never_reaches_the_evaluators_objects(pool: SandboxPool) -> None:
    """The evaluator's functions, objects and classes cannot be passed to the candidate (no callbacks);
    from inside a method the candidate finds none of the evaluator's objects, modules or memory."""
    evaluation = run(HUNTER, HUNTER_EVALUATOR, pool)
    artifacts = evaluation.artifacts
    assert evaluation.metrics.get("combined_score") == 1.0, artifacts
    for what in ("callback", "instance", "cls"):
        assert artifacts[f"metric:{what}"].startswith("TypeError: selftaught: cannot pass"), artifacts
    assert artifacts["metric:kept"] == "None"  # nothing of the refused calls arrived
    assert artifacts["metric:found"] == "['EVALUATOR-SECRET-its-own']", artifacts  # its own only
    assert artifacts["metric:modules"] == "[]" and artifacts["metric:memory"] == "[]", artifacts


def test_a_handle_in_the_evaluators_answer_reaches_the_host_as_text_only(pool: SandboxPool) -> None:
    """An evaluator returning the candidate's object among its metrics: the host gets a short text (an
    artifact), never an object or a call into the candidate."""
    evaluator = LOAD + (
        "def evaluate(program_path):\n"
        "    module = load(program_path)\n"
        "    solver = module.Solver()\n"
        "    return {'combined_score': 0.5, 'solver': solver, 'nested': [solver, 1]}\n"
    )
    evaluation = run(HUNTER, evaluator, pool)
    assert evaluation.metrics.get("combined_score") == 0.5, (evaluation.metrics, evaluation.artifacts)
    assert set(evaluation.metrics) == {"combined_score"}, evaluation.metrics
    held = [value for key, value in evaluation.artifacts.items() if "solver" in key or "nested" in key]
    assert all(isinstance(value, str) for value in held)


ID_PROGRAM = """
class Solver:
    def __init__(self, scale):
        self.scale = scale

    def solve(self, x):
        return x * self.scale
"""

ID_EVALUATOR = (
    LOAD
    + """
def evaluate(program_path):
    module = load(program_path)
    mine = module.Solver(2)
    session = object.__getattribute__(mine, "_st_session")
    ref = object.__getattribute__(mine, "_st_ref")
    results = {"combined_score": float(mine.solve(3) == 6), "my_id": str(ref.id)}
    for name, other in (("earlier", EARLIER_ID), ("neighbour", ref.id ^ 1), ("zero", 0)):
        if other is None:
            continue
        request = {"op": "method", "module": "program", "module_id": session.module_id, "name": "solve",
                   "handle": other, "session": session.generation, "args_wire": b"[[3],{}]"}
        raw = session.direct.call(request, 5.0) if session.direct else session.broker.module(request, 5.0)
        results[name] = str(raw.get("error") or raw)
    return results
"""
)


def test_a_handle_id_from_another_evaluation_or_a_neighbouring_id_is_refused(pool: SandboxPool) -> None:
    """Ids are random and local to one candidate process: the id a first evaluation handed out is
    unknown to the second evaluation's process, as are guesses next to a live id."""
    first = run(ID_PROGRAM, ID_EVALUATOR.replace("EARLIER_ID", "None"), pool)
    assert first.metrics.get("combined_score") == 1.0, first.artifacts
    earlier = int(first.artifacts["metric:my_id"])
    second = run(ID_PROGRAM, ID_EVALUATOR.replace("EARLIER_ID", str(earlier)), pool)
    artifacts = second.artifacts
    assert second.metrics.get("combined_score") == 1.0, artifacts  # control: its own handle works
    assert int(artifacts["metric:my_id"]) != earlier
    for name in ("earlier", "neighbour", "zero"):
        assert "unknown handle" in artifacts[f"metric:{name}"], (name, artifacts)
