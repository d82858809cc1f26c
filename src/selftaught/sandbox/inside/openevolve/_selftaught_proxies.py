"""In the evaluator's child: the stand-ins for the candidate's functions, classes and objects, and the
brokered call under each of them.

A `RemoteFunction` is a function of the candidate, a stub class (`new_class`) one of its classes, a
`CandidateObject` a handle to one of its objects, and a `RemoteMethod` a method of such an object: each
use of one is one call into the candidate's own sandboxed process, through the direct socket to it
(`_selftaught_direct`) or through the host, values encoded with the sandbox's wire codec. Each call is
`Brokered`: its brokering overhead is left out of the evaluator's clocks (`_selftaught_clock`). A
candidate's exception comes back as the same builtin type, or as `CandidateError`, with its traceback.
"""

import builtins
import signal
import sys
import threading
import time

import wire

from openevolve import _selftaught_clock, _selftaught_rng

# Special methods forwarded to a handle's object (the host accepts these names and no other dunder).
DUNDERS = ("__call__", "__len__", "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__")


class CandidateError(RuntimeError):
    """The candidate raised an exception whose type is not a builtin one (its text is kept)."""


def raise_candidate_error(answer):
    """Re-raise the candidate's exception here: same builtin type when it is one, with its traceback."""
    if answer.get("timeout"):
        raise TimeoutError(answer.get("error") or "the candidate timed out")
    kind = getattr(builtins, str(answer.get("etype")), None)
    if isinstance(kind, type) and issubclass(kind, Exception) and kind.__module__ == "builtins":
        try:
            exc = kind(str(answer.get("message", answer.get("error"))))
        except Exception:
            exc = CandidateError(str(answer.get("error")))
    else:
        exc = CandidateError(str(answer.get("error")))
    if answer.get("traceback"):
        exc.add_note("candidate traceback (in its own sandboxed process):\n" + str(answer["traceback"]))
    raise exc


def _call_timeout():
    """Seconds left on the evaluator's `signal.alarm`/`setitimer`, if it set one (else None)."""
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    return left if left > 0 else None


_CALL = threading.local()  # the brokered call this thread is in: its waits for the candidate
# The outer brokered calls in progress, in any thread (`Brokered`). Reentrant: a signal handler may make
# a brokered call between two bytecodes of one holding it.
_ACTIVE: set = set()
_ACTIVE_LOCK = threading.RLock()
_ENTERED = [0]  # outer brokered calls entered so far, in any thread


def others_calling():
    """(outer brokered calls entered so far in any thread, whether another thread's is in progress):
    compared before and after a new candidate process's calibration (`_selftaught_imports`)."""
    me = threading.get_ident()
    with _ACTIVE_LOCK:
        return _ENTERED[0], any(call.thread != me for call in _ACTIVE)


class Brokered:
    """Around one call of the evaluator into the candidate (an import, a function, a handle's method or
    attribute): leaves its brokering overhead out of the evaluator's clocks (`_selftaught_clock`).

    Left out: the CPU time this thread spent on the call (encoding, decoding, starting a process: work
    a native evaluator does not do) except on the direct socket's sends and reads (their pace is the
    candidate's process's choice: `Direct.call`), and of the rest of the call's duration (waiting for the
    candidate's process, or for a core after a wake-up) at most the exchanges' allowances
    (`Direct.allowance`: the null round trip and the calibrated cost of the bytes and packed numbers
    this side sent and received, all timed before the candidate's code ran); so never more than the
    call took. Through the host (no direct channel) there is no allowance: only this thread's CPU time
    is left out, nothing of the candidate's time.

    A call that overlapped another thread's brokered call is credited nothing. Why: the clocks are the
    process's, so a credit left out at a call's end shortens every window open then, also another
    thread's call, whose candidate kept computing on its own core meanwhile. A candidate could time a
    late answer to a call the evaluator gave up on (a thread pool's timeout) so that its decoding, a
    large value's worth of credited CPU, ends inside the next timed call and erases that much of the
    candidate's work from it. One call at a time (AlgoTune's `run_with_timeout` waits for each) keeps
    its credit."""

    def __enter__(self):
        self.outer = getattr(_CALL, "waits", None) is None
        if self.outer:
            _CALL.waits, _CALL.allowed, _CALL.io = [0.0], [0.0], [0.0]
            self.overlapped = False
            self.thread = threading.get_ident()
            with _ACTIVE_LOCK:
                _ENTERED[0] += 1
                # An outer call of this thread still listed ended without leaving (an alarm's exception
                # between two bytecodes of `__exit__`, in the main thread): it is over, not overlapping.
                for stale in [call for call in _ACTIVE if call.thread == self.thread]:
                    _ACTIVE.discard(stale)
                if _ACTIVE:
                    self.overlapped = True
                    for other in _ACTIVE:
                        other.overlapped = True
                _ACTIVE.add(self)
            self.started = _selftaught_clock.real_perf_counter()
            self.cpu = time.thread_time()
        return self

    def __exit__(self, *exc):
        if self.outer:
            cpu = max(0.0, time.thread_time() - self.cpu - _CALL.io[0])
            took = _selftaught_clock.real_perf_counter() - self.started
            allowed = _CALL.allowed[0]
            _CALL.waits = None
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)
                overlapped = self.overlapped
            if not overlapped:
                _selftaught_clock.credit(cpu + min(allowed, max(0.0, took - cpu)))
        return False


def remote(session, request):
    with Brokered():
        return _remote_call(session, request)


def _remote_call(session, request):
    timeout = _call_timeout()
    direct = session.direct_channel(timeout)
    request, mark = _selftaught_rng.with_rng(session, request)
    waits = getattr(_CALL, "waits", None) or [0.0]
    if direct is not None:
        try:
            outer = waits is getattr(_CALL, "waits", None)
            allowed = getattr(_CALL, "allowed", None) if outer else None
            io = getattr(_CALL, "io", None) if outer else None
            answer = direct.call(request, timeout, waits, allowed, io)
        finally:
            if direct.dead:  # timed out, ended, or interrupted by the evaluator's own alarm mid-call
                session.broker.module({"op": "stop", "session": direct.generation}, timeout)
    else:
        started = _selftaught_clock.real_perf_counter()
        try:
            answer = session.broker.module(request, timeout)
        finally:
            waits[0] += _selftaught_clock.real_perf_counter() - started
    if not isinstance(answer, dict):
        raise CandidateError("malformed answer from the candidate's process")
    # The candidate's generator states are not adopted: it would choose the evaluator's later draws.
    for key, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        if isinstance(answer.get(key), str) and answer[key]:
            stream.write(answer[key])  # what the candidate printed, where the evaluator's prints go
    generation = answer.get("session")
    if type(generation) is int:
        session.generation = generation
        kept = session.rng_sent is not None and session.rng_sent[0] == generation
        session.rng_sent = (generation, mark) if "rng" in request or kept else None
    if "error" in answer or answer.get("timeout"):
        raise_candidate_error(answer)
    return answer


def _arguments(args, kwargs, what, bodies=None):
    """The call's arguments in the wire encoding (handles as their ids), or TypeError naming the element.
    With `bodies` (a `wire.Bodies`: the call goes on the direct socket), large arrays go there raw."""
    hook = bodies.hook if bodies is not None else None
    try:
        data = wire.dumps(list(args), hook, root=f"{what} argument")
        keywords = wire.dumps(kwargs, hook, root=f"{what} keyword argument")
    except wire.Unserializable as exc:
        raise TypeError(
            f"selftaught: cannot pass this to the candidate's {what} ({exc}); the candidate runs in its "
            "own sandbox, only plain data (numbers, strings, tuples, lists, dicts, sets, numpy arrays and "
            "other arrays) and handles to the candidate's own objects cross"
        ) from None
    return b"[" + data + b"," + keywords + b"]"


def _value(session, answer):
    """The value an answer carries, decoded here (bounded: the candidate's process encoded it)."""
    data = answer.get("value_wire")
    if not isinstance(data, (bytes, bytearray)):
        raise CandidateError("malformed answer from the candidate's process (no value)")
    bodies = answer.get("value_bodies")
    try:
        return wire.loads(data, refs=session.handle, bodies=bodies if isinstance(bodies, list) else None)
    except wire.WireError as exc:
        raise CandidateError(f"the candidate's process sent a value that could not be read: {exc}") from None


def _call(session, request, args, kwargs, what):
    with Brokered():
        direct = session.direct_channel(_call_timeout()) is not None
        # Through the host, values stay one JSON body.
        bodies = wire.Bodies(wire.PEER_BODY_MIN) if direct else None
        request = dict(request, args_wire=_arguments(args, kwargs, what, bodies))
        if bodies is not None and bodies.items:
            request["args_bodies"] = bodies.items
        if bodies is not None:
            request["args_items"] = bodies.packed_items
        return _value(session, remote(session, request))


class RemoteFunction:
    """A function of the candidate: calling it runs it in the candidate's own sandboxed child."""

    def __init__(self, session, module_name, module_id, name, doc):
        self._session = session
        self._module = module_name
        self._module_id = module_id
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc or None

    def __call__(self, *args, **kwargs):
        request = {"op": "call", "module": self._module, "module_id": self._module_id, "name": self.__name__}
        return _call(self._session, request, args, kwargs, f"{self.__name__}()")

    def __repr__(self):
        return f"<candidate function {self.__name__} (runs in its own sandbox)>"


class CandidateObject:
    """A handle to an object of one of the candidate's classes, which lives in the candidate's process.

    Attribute reads and writes and method calls are remote calls (arguments and results plain data or
    handles). The handle is valid while the candidate's process that made it lives: after a timeout or
    crash of that process it is refused (ReferenceError).
    """

    _st_methods: frozenset = frozenset()

    def __wire_ref__(self):
        ref = object.__getattribute__(self, "_st_ref")
        if (
            object.__getattribute__(self, "_st_generation")
            != object.__getattribute__(self, "_st_session").generation
        ):
            raise wire.Unserializable(f"{ref.cls} handle of the candidate's process that has ended")
        return ref

    def _st_request(self, op, name):
        ref = CandidateObject.__wire_ref__(self)
        session = object.__getattribute__(self, "_st_session")
        request = {
            "op": op,
            "module": session.module_name,
            "module_id": session.module_id,
            "name": name,
            "handle": ref.id,
            "session": object.__getattribute__(self, "_st_generation"),
        }
        return session, request

    def _st_method(self, name, args, kwargs):
        session, request = CandidateObject._st_request(self, "method", name)
        return _call(session, request, args, kwargs, f"{type(self).__name__}.{name}()")

    def __getattr__(self, name):
        if name.startswith("_st_") or (name.startswith("__") and name not in DUNDERS):
            raise AttributeError(name)
        if name in type(self)._st_methods:
            return RemoteMethod(self, name)
        session, request = CandidateObject._st_request(self, "getattr", name)
        with Brokered():
            answer = remote(session, request)
            if answer.get("callable") is True:
                return RemoteMethod(self, name)
            return _value(session, answer)

    def __setattr__(self, name, value):
        session, request = CandidateObject._st_request(self, "setattr", name)
        _call(session, request, (value,), {}, f"{type(self).__name__}.{name} =")

    def __call__(self, *args, **kwargs):
        return CandidateObject._st_method(self, "__call__", args, kwargs)

    def __len__(self):
        return CandidateObject._st_method(self, "__len__", (), {})

    def __getitem__(self, key):
        return CandidateObject._st_method(self, "__getitem__", (key,), {})

    def __setitem__(self, key, value):
        CandidateObject._st_method(self, "__setitem__", (key, value), {})

    def __contains__(self, item):
        return CandidateObject._st_method(self, "__contains__", (item,), {})

    def __repr__(self):
        ref = object.__getattribute__(self, "_st_ref")
        return f"<candidate {ref.cls} object (a handle: it lives in the candidate's sandboxed process)>"


class RemoteMethod:
    """A method of a handle's object, bound to it: calling it runs in the candidate's process."""

    def __init__(self, obj, name):
        self._obj = obj
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return CandidateObject._st_method(self._obj, self.__name__, args, kwargs)

    def __repr__(self):
        return f"<candidate method {self.__name__} of {self._obj!r}>"


def new_class(session, module_name, module_id, name, entry):
    """The stub class of a candidate class: calling it makes the object over there, a handle here."""
    methods = entry.get("methods") if isinstance(entry, dict) else None
    methods = (
        [m for m in methods if isinstance(m, str) and m.isidentifier()] if isinstance(methods, list) else []
    )
    doc = entry.get("doc") if isinstance(entry, dict) and isinstance(entry.get("doc"), str) else ""
    session.classes.pop(name, None)  # a new import: new classes, as a second exec of the module gives
    cls = session.stub_class(name, methods, doc)

    def make(cls, *args, **kwargs):
        request = {"op": "new", "module": module_name, "module_id": module_id, "name": name}
        return _call(session, request, args, kwargs, f"{name}()")

    cls.__new__ = make
    cls.__init__ = lambda self, *args, **kwargs: None
    return cls
