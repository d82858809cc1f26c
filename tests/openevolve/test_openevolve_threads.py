"""An OpenEvolve evaluator and its candidate run numpy with an ordinary process's BLAS threads.

Natively both run in OpenEvolve's own process, whose numpy starts one BLAS thread per CPU; AlgoTune's
timings (a `performance_score` of milliseconds per solve) depend on it. End to end on the real sandbox:
the evaluator reports its own count and the count its candidate's process answers with.
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool
from selftaught.sandbox.job import ordinary_library_threads

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


COUNT = """
import ctypes, os
from numpy._core import _multiarray_umath

def blas_threads():
    library = ctypes.CDLL(_multiarray_umath.__file__)
    for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                 "openblas_get_num_threads64_", "openblas_get_num_threads"):
        if hasattr(library, name):
            return getattr(library, name)()
    return -1

def variable():
    return int(os.environ.get("OPENBLAS_NUM_THREADS", "-1"))
"""

EVALUATOR = (
    LOAD_PROGRAM
    + COUNT
    + """

def evaluate(program_path):
    module = load(program_path)
    return {
        "combined_score": 1.0,
        "evaluator_blas": blas_threads(),
        "evaluator_variable": variable(),
        "candidate_blas": module.blas_threads(),
        "candidate_variable": module.variable(),
    }
"""
)


def test_the_evaluator_and_the_candidate_get_the_ordinary_blas_thread_count(pool: SandboxPool) -> None:
    evaluation = run(COUNT, EVALUATOR, pool)
    assert evaluation.setup_error is None, evaluation
    expected = float(ordinary_library_threads())
    assert {name: evaluation.metrics[name] for name in evaluation.metrics if name != "combined_score"} == {
        "evaluator_blas": expected,
        "evaluator_variable": expected,
        "candidate_blas": expected,
        "candidate_variable": expected,
    }
