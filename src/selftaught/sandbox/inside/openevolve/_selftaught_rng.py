"""In the evaluator's child: the evaluator's global generators, shared with the candidate's process.

Why: in OpenEvolve the evaluator and the candidate share one process, so the candidate draws from the
generators the evaluator seeded. Here they are two processes, so the evaluator's `random` and numpy
global states travel with a call (`with_rng`), but only when the evaluator drew or seeded since the last
one (`count_moves`): otherwise the candidate's generators go on from its last call, as the one shared
generator would, at no cost per call. The candidate's states never come back (they would choose the
evaluator's later draws).
"""

import random

import numpy


def rng_state():
    """`random`'s and numpy's global generator states as data (the 625 words of `random` as one uint32
    array: a list of Python ints costs far more to encode)."""
    # Read from the generators themselves: the module's functions are counted (`count_moves`).
    version, words, gauss = getattr(random, "_inst", random).getstate()
    return {
        "random": [version, numpy.array(words, dtype=numpy.uint32), gauss],
        "numpy": list((_numpy_global() or numpy.random).get_state()),
    }


_MOVES = [0]  # calls of the global generators' functions by the evaluator: draws, seeds, set-states


def count_moves():
    """Wrap the module-level functions of `random` and `numpy.random` (the methods of their one global
    generator: draws, `seed`, `setstate`, ...) to count their calls. Why: reading both generators'
    states before every call to see whether they moved costs more than the call itself."""
    for module, generator in ((random, getattr(random, "_inst", None)), (numpy.random, _numpy_global())):
        if generator is None:
            continue
        for name in dir(module):
            function = getattr(module, name, None)
            if name.startswith("_") or getattr(function, "__self__", None) is not generator:
                continue
            setattr(module, name, _counted(function, name))


def _numpy_global():
    mtrand = getattr(numpy.random, "mtrand", None)
    return getattr(mtrand, "_rand", None)


def _counted(function, name):
    def counted(*args, **kwargs):
        _MOVES[0] += 1
        return function(*args, **kwargs)

    counted.__name__ = counted.__qualname__ = name
    counted.__doc__ = function.__doc__
    counted.__wrapped__ = function
    return counted


def _rng_mark():
    """What says whether the evaluator's generators moved since the last call (its draws or seeding)."""
    return _MOVES[0]


def with_rng(session, request):
    """Send the evaluator's generator states only when the evaluator drew or seeded since the last call
    (or the candidate's process is new): otherwise the candidate's generators go on from its last call,
    as the one shared generator would in one process, at no cost per call."""
    mark = _rng_mark()
    if session.rng_sent == (session.generation, mark):
        return dict(request), mark
    return dict(request, rng=rng_state()), mark
