"""How many threads a job's numerical libraries (numpy's BLAS, OpenMP, MKL) may start.

The zygote imports numpy once with one BLAS thread (`OPENBLAS_NUM_THREADS=1` and its kin in its
environment, read when the library loads) and forks every child from that state, so no BLAS thread pool
ever exists across a fork. A job of the paper's tasks keeps that one thread: its calls are limited and
scored by CPU time, which a thread pool would spread over cores. A job that must behave like an ordinary
process (an OpenEvolve evaluator and its candidate, scored by wall-clock timings as OpenEvolve scores
them) gets the thread count an ordinary process would: the variables are set to that count for the
libraries it loads itself, and numpy's already-loaded BLAS is told by a call (`apply`), made in the
child after every sandbox layer is in force, so the threads it starts run under the same Landlock
domain, seccomp filter, uid and rlimits (`RLIMIT_NPROC` counts them) as the job's own code.
"""

from __future__ import annotations

import ctypes
from typing import Any

# What OpenBLAS, OpenMP runtimes and MKL read when they load.
VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The thread-count setter of the BLAS numpy may be linked against, by its exported name: numpy's own
# wheels (scipy-openblas, 64-bit integers), OpenBLAS builds of either integer width, MKL.
SETTER_NAMES = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
    "MKL_Set_Num_Threads",
)
_setters: list[Any] = []


def find_setters() -> int:
    """In the zygote, after numpy is imported: resolve the setters of the BLAS numpy loaded. Returns
    how many were found (0 when numpy is missing or its BLAS exports none of the names; then only the
    variables reach libraries, which is all a job of the default one thread needs)."""
    _setters.clear()
    try:
        from numpy._core import _multiarray_umath as umath  # type: ignore[attr-defined]  # numpy 2
    except ImportError:
        try:
            from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]  # numpy 1
        except ImportError:
            return 0
    try:
        # Symbols are looked up in the extension and the libraries it was linked with: its BLAS.
        library = ctypes.CDLL(umath.__file__)
    except OSError:
        return 0
    for name in SETTER_NAMES:
        setter = getattr(library, name, None)
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            _setters.append(setter)
    return len(_setters)


def environment(base: dict[str, str], threads: int) -> dict[str, str]:
    """`base` (the job environment) with every thread variable set to `threads`."""
    return {**base, **{name: str(threads) for name in VARIABLES}}


def apply(threads: int) -> None:
    """In the child, once confined: numpy's loaded BLAS may use `threads` threads from now on.

    Nothing to do for one thread (the state the zygote loaded it in)."""
    if threads == 1:
        return
    for setter in _setters:
        setter(threads)
