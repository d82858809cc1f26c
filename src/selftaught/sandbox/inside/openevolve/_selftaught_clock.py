"""In the evaluator's child: the evaluator's clocks leave out what brokering a call to the candidate costs.

Why: natively an OpenEvolve evaluator calls the candidate's functions in its own process, so a timing
metric (AlgoTune's `performance_score = 1 / (1 + ms per solve)`) measures the candidate alone. Here each
call crosses to the candidate's own sandboxed process and back, which adds the encoding and decoding of
the arguments and the result and a round trip on the socket: a fraction of a millisecond, as large as the
sub-millisecond solves being timed. That cost belongs to the isolation, not to the candidate.

What is left out of `time.perf_counter`, `time.monotonic`, `time.time` (and their `_ns` forms), per call
(`_selftaught_proxies.Brokered`): `cpu + min(allowance, took - cpu)`, where
- `took` is the call's real duration in the evaluator's thread and `cpu` the CPU time that thread spent
  on it (encoding, decoding, starting a candidate process), measured here on the real clocks;
- `took - cpu` is the rest (waiting for the candidate's process, or for a core after a wake-up), of
  which at most the `allowance` is left out: the null round trip plus, at calibrated per-unit costs, the
  request's and the answer's bytes and the packed numbers of the arguments (the null as a new thread's
  first exchange costs it, for a thread's first call), all timed by trusted code on
  the new candidate process before any of the candidate's code was imported into it
  (`_selftaught_direct.Direct.calibrate` and `Direct.allowance`: the fastest of several pings each).

Nothing the candidate's process says is used: it cannot report a time, and its rates were timed before
its code ran. Its answer's size is credited only at the rate of sending a ready-made array, and only up
to twice the request's bytes plus 64 KB; encoding its result is not credited at all (a patched encoder
could send cached bytes it would be credited for). Whatever else it does (slow answers, stalls while
reading) only lengthens `took - cpu`, of which no more than the allowance is ever left out. A call's
credit is never more than the call took (nothing when it overlapped another thread's brokered call:
`_selftaught_proxies.Brokered`), and the clocks never go backwards (a clock read during a call by
another thread stands still until the real clock catches up). The sandbox's own limits (timers, the
trusted side's deadlines) use the real clocks, kept below.
"""

import threading
import time

_NAMES = ("perf_counter", "monotonic", "time")
_REAL = {name: getattr(time, name) for name in _NAMES}
_REAL_NS = {name: getattr(time, f"{name}_ns") for name in _NAMES}
real_perf_counter = _REAL["perf_counter"]
real_monotonic = _REAL["monotonic"]

# Reentrant: Python runs a signal handler between any two bytecodes of the main thread, also inside a
# clock read, and an evaluator's alarm handler may read a clock (a log record takes `time.time()`); with
# a plain lock it would wait for ever on its own thread. Nothing changes the credit between the outer
# read and the handler's (no other thread gets the lock), so neither goes backwards.
_lock = threading.RLock()
_credit_ns = [0]  # nanoseconds left out of the evaluator's clocks so far
_last_ns: dict[str, int] = {}  # name -> the last value a clock gave (they never go backwards)


def credit(seconds):
    """Leave `seconds` (the brokering overhead of one call, computed by trusted code) out of the clocks."""
    if seconds > 0:
        with _lock:
            _credit_ns[0] += int(seconds * 1e9)


def credited():
    """Seconds left out so far (for reports and tests)."""
    return _credit_ns[0] / 1e9


def _read_ns(name):
    real_ns = _REAL_NS[name]
    with _lock:
        value = real_ns() - _credit_ns[0]
        last = _last_ns.get(name)
        if last is not None and value < last:
            value = last
        _last_ns[name] = value
        return value


def _clock_ns(name):
    def clock_ns():
        return _read_ns(name)

    clock_ns.__name__ = clock_ns.__qualname__ = f"{name}_ns"
    clock_ns.__doc__ = getattr(time, f"{name}_ns").__doc__
    return clock_ns


def _clock(name):
    def clock():
        return _read_ns(name) / 1e9

    clock.__name__ = clock.__qualname__ = name
    clock.__doc__ = getattr(time, name).__doc__
    return clock


def install():
    """Replace the `time` module's clocks in this process (once, before the evaluator is imported)."""
    if getattr(time.perf_counter, "__module__", None) == __name__:
        return
    for name in _NAMES:
        setattr(time, name, _clock(name))
        setattr(time, f"{name}_ns", _clock_ns(name))
