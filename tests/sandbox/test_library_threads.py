"""How many BLAS threads a job's numpy runs, per kind of job, on the real sandbox.

A job of the paper's tasks (the default) keeps one BLAS thread: its calls are charged by CPU time. A job
that asks for more (OpenEvolve's evaluators and candidates ask for the ordinary count) gets them from
numpy's already-loaded BLAS and in the thread variables, while its limits stay the sandbox's: the
process limit still stops a thread bomb, and the job cannot raise it.
"""

from __future__ import annotations

import resource

import pytest

from selftaught.sandbox import Job, SandboxPool
from selftaught.sandbox.job import (
    MAX_LIBRARY_THREADS,
    OPENBLAS_BUFFER,
    ORDINARY_THREADS,
    THREAD_STACK_FALLBACK,
    ordinary_library_threads,
)
from selftaught.sandbox.jobmessage import job_header, validate

from .util import healthy

# Asks numpy's own BLAS (through the extension that links it, as threadpoolctl does not need to) how
# many threads it will use, and checks a product the threads computed.
LOOK = """
import ctypes, os, resource
import numpy
from numpy._core import _multiarray_umath

GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
           "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads")

def look():
    library = ctypes.CDLL(_multiarray_umath.__file__)
    getter = next((getattr(library, n) for n in GETTERS if hasattr(library, n)), None)
    a = numpy.arange(300 * 300, dtype=float).reshape(300, 300) / 1e4
    b = numpy.eye(300) * 2.0
    return {
        "blas": getter() if getter is not None else None,
        "env": {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")},
        "product_right": bool(numpy.array_equal(a @ b, a * 2.0)),
        "nproc": list(resource.getrlimit(resource.RLIMIT_NPROC)),
    }
"""

VARIABLES = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}


def _look(pool: SandboxPool, threads: int) -> dict:
    result = pool.run(Job(source=LOOK, entry="look", instances=[[]], memory_mb=512, library_threads=threads))
    output = result.instances[0].output
    assert output is not None, (result.setup_error, result.instances[0].error, result.stderr)
    return output


def test_a_job_of_the_papers_tasks_runs_numpy_with_one_blas_thread(pool: SandboxPool) -> None:
    seen = _look(pool, 1)
    assert seen["blas"] == 1
    assert seen["env"] == dict.fromkeys(VARIABLES, "1")
    assert seen["product_right"]


def test_a_job_asking_for_two_threads_gets_two_from_numpys_loaded_blas(pool: SandboxPool) -> None:
    """Machine-independent: the count is the job's, not the host's, and the threads compute correctly."""
    seen = _look(pool, 2)
    assert seen["blas"] == 2
    assert seen["env"] == dict.fromkeys(VARIABLES, "2")
    assert seen["product_right"]
    # The next job of the same zygote is back to one thread: the count is set per child, never kept.
    assert _look(pool, 1)["blas"] == 1


def test_a_job_asking_for_the_ordinary_count_gets_one_thread_per_cpu(pool: SandboxPool) -> None:
    seen = _look(pool, ORDINARY_THREADS)
    assert seen["blas"] == ordinary_library_threads()
    assert seen["env"] == dict.fromkeys(VARIABLES, str(ordinary_library_threads()))


def test_the_process_limit_still_stops_a_thread_bomb_in_a_multithreaded_job(pool: SandboxPool) -> None:
    """BLAS threads count against the job's uid like its own; the limit is the sandbox's, soft = hard,
    and the job cannot raise it."""
    bomb = """
import resource, threading, time
def f():
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (1000, 1000))
        raised = True
    except (ValueError, OSError):
        raised = False
    threads = []
    try:
        for _ in range(10000):
            t = threading.Thread(target=time.sleep, args=(5,), daemon=True)
            t.start(); threads.append(t)
    except RuntimeError:
        pass
    return {"raised": raised, "started": len(threads), "limit": list(resource.getrlimit(resource.RLIMIT_NPROC))}
"""
    result = pool.run(Job(source=bomb, entry="f", instances=[[]], memory_mb=2048, library_threads=4))
    seen = result.instances[0].output
    assert seen is not None, (result.setup_error, result.instances[0].error)
    assert seen["raised"] is False and seen["limit"] == [64, 64]
    # The main thread and the BLAS's three extra threads already count against the 64.
    assert seen["started"] <= 64 - 4
    assert _look(pool, 4)["nproc"] == [64, 64]
    assert healthy(pool)


@pytest.mark.parametrize("threads", [-1, MAX_LIBRARY_THREADS + 1, True, 2.0, "2"])
def test_a_thread_count_outside_the_range_is_refused_before_anything_runs(threads: object) -> None:
    with pytest.raises(ValueError, match="library_threads"):
        validate(Job(source="def f(): pass", entry="f", instances=[[]], library_threads=threads))  # type: ignore[arg-type]


def test_the_cpu_limit_grows_with_the_threads_a_job_may_keep_busy() -> None:
    """RLIMIT_CPU counts every thread: N library threads may spend N CPU seconds per second of limit."""
    job = Job(source="def f(): pass", entry="f", instances=[[], []], instance_timeout=10.0)
    one = job_header(job, 1, {})
    four = job_header(Job(**{**job.__dict__, "library_threads": 4}), 2, {})
    ordinary = job_header(Job(**{**job.__dict__, "library_threads": ORDINARY_THREADS}), 3, {})
    assert one["library_threads"] == 1 and four["library_threads"] == 4
    assert four["cpu_seconds"] == 4 * one["cpu_seconds"] > 20
    assert ordinary["library_threads"] == ordinary_library_threads()
    assert ordinary["cpu_seconds"] == ordinary_library_threads() * one["cpu_seconds"]


def test_the_memory_limit_grows_by_what_each_library_thread_beyond_the_first_maps() -> None:
    """Each extra BLAS thread maps a 32 MiB buffer and a thread stack (this host's stack limit), and
    the threads share one more malloc arena (64 MiB), all of which the address-space limit counts: the
    limit grows by that, plus a few MiB at most; a one-thread job's limit is its memory_mb."""
    job = Job(source="def f(): pass", entry="f", instances=[[]], memory_mb=512)
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    stack_mb = (THREAD_STACK_FALLBACK if soft == resource.RLIM_INFINITY else soft) / (1 << 20)
    for threads in (1, 2, 5, MAX_LIBRARY_THREADS):
        header = job_header(Job(**{**job.__dict__, "library_threads": threads}), threads, {})
        growth = header["memory_mb"] - 512
        if threads == 1:
            assert growth == 0
        else:
            least = (threads - 1) * (OPENBLAS_BUFFER / (1 << 20) + stack_mb) + 64
            assert least <= growth <= least + 4, (threads, growth)
