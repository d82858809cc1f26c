"""In the evaluator's child: importing the candidate gives a proxy module; running it here is refused.

Why: the evaluator and the candidate must not share a process (a candidate that runs next to the
evaluator can rewrite its checks or its answer). OpenEvolve evaluators import the candidate with
`importlib.util.spec_from_file_location(name, program_path)` + `exec_module`, or put its directory on
`sys.path` and import it by name. Both routes end here: the module the evaluator gets holds *copies* of
the candidate's plain-data globals and, for each of its functions, a stub whose call is a remote call
(the host runs the function in a separate sandboxed child, arguments and result passed as data).
For each of its classes the module holds a stub class: calling it makes the object in the candidate's
process and gives a *handle* here (`CandidateObject`, an instance of the stub class, so
`isinstance(obj, module.Cls)` holds); attribute reads, writes and method calls on a handle are remote
calls too. A result that is an object of one of the candidate's classes arrives as such a handle.

Values are encoded and decoded here with the sandbox's wire codec (`wire.py`; the host passes the bytes
on unread): tuples stay tuples, numpy values keep dtype and shape, other libraries' arrays become numpy
arrays, a refusal names the element (`argument[1]['x']: ...`).

Any other way of executing the candidate's code in this process (`runpy.run_path`, a `SourceFileLoader`,
`exec` of its text) is refused by an audit hook with a message saying what to do instead.
"""

import builtins
import importlib.machinery
import importlib.util
import os
import random
import signal
import sys
import threading
import time

import numpy
import wire

from openevolve import _selftaught_clock, _selftaught_direct

PEER_WAIT = 30.0  # seconds for the socket to a just-started candidate process to arrive

REFUSED = (
    "selftaught: the candidate program never runs in the evaluator's process; import it with "
    "importlib.util.spec_from_file_location (you get a proxy module) or run it with "
    "subprocess.Popen([sys.executable, script])"
)


# Special methods forwarded to a handle's object (the host accepts these names and no other dunder).
DUNDERS = ("__call__", "__len__", "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__")


class CandidateError(RuntimeError):
    """The candidate raised an exception whose type is not a builtin one (its text is kept)."""


class CandidateSession:
    """What the evaluator's side knows about the candidate: its path, its text, and the host proxy."""

    def __init__(self, broker, program_path, program_text):
        self.broker = broker
        self.path = program_path
        self.real = os.path.realpath(program_path)
        self.text = program_text
        self.generation = None  # the candidate process that answered last (handles are its own)
        self.classes = {}  # qualified class name -> stub class (the latest import's)
        self.module_id = None  # the latest import of the candidate (handle requests name it)
        self.module_name = "candidate"
        self.direct = None  # the socket to the candidate's process, when the host linked one
        self.through_host = False  # the host cannot link them (another executor): every call goes by it
        self.rng_sent = None  # (candidate process, evaluator's generators) as of the last call
        self._starting = threading.Lock()

    def direct_channel(self, timeout):
        """The live direct socket to the candidate's process, asking the host for a process if there is
        none (the host starts one beside this child and its zygote passes the socket); None when calls
        go through the host. One thread at a time starts a process (each start brings one socket)."""
        if self.direct is not None and not self.direct.dead:
            return self.direct
        with self._starting:
            return self._direct_channel(timeout)

    def _direct_channel(self, timeout):
        if self.direct is not None and not self.direct.dead:
            return self.direct
        if self.through_host:
            return None
        answer = self.broker.module({"op": "start"}, timeout)
        if not isinstance(answer, dict) or "error" in answer or answer.get("timeout"):
            raise_candidate_error(answer if isinstance(answer, dict) else {"error": "malformed answer"})
        if answer.get("direct") is not True:
            self.through_host = True
            return None
        import child  # the sandbox's side of this process: where the zygote's sockets arrive

        fd = child.take_peer(min(timeout or PEER_WAIT, PEER_WAIT))
        if fd is None:
            raise CandidateError("the candidate's process could not be reached (no socket from the sandbox)")
        left = answer.get("left")
        direct = _selftaught_direct.Direct(
            fd, answer.get("session"), left if isinstance(left, float) else 0.0
        )
        direct.calibrate()  # before anything of the candidate is imported into that process
        self.direct = direct
        self.generation = answer.get("session")
        return self.direct

    def stub_class(self, name, methods=(), doc=""):
        """The stub class standing for the candidate's class `name` (one per name and import)."""
        cls = self.classes.get(name)
        if cls is None:
            short = name.rsplit(".", 1)[-1]
            cls = type(short, (CandidateObject,), {"__qualname__": short, "__doc__": doc or None})
            cls._st_methods = frozenset()
            self.classes[name] = cls
        if methods:
            cls._st_methods = frozenset(methods)
        return cls

    def handle(self, ref):
        """`wire` resolver: a handle the candidate's process sent, as an instance of its stub class."""
        obj = object.__new__(self.stub_class(ref.cls))
        object.__setattr__(obj, "_st_ref", ref)
        object.__setattr__(obj, "_st_session", self)
        object.__setattr__(obj, "_st_generation", self.generation)
        return obj

    def is_candidate(self, location):
        try:
            return os.path.realpath(os.fspath(location)) == self.real
        except (TypeError, ValueError, OSError):
            return False


def rng_state():
    """`random`'s and numpy's global generator states as data (the 625 words of `random` as one uint32
    array: a list of Python ints costs far more to encode)."""
    # Read from the generators themselves: the module's functions are counted (`_count_moves`).
    version, words, gauss = getattr(random, "_inst", random).getstate()
    return {
        "random": [version, numpy.array(words, dtype=numpy.uint32), gauss],
        "numpy": list((_numpy_global() or numpy.random).get_state()),
    }


def _call_timeout():
    """Seconds left on the evaluator's `signal.alarm`/`setitimer`, if it set one (else None)."""
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    return left if left > 0 else None


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


_MOVES = [0]  # calls of the global generators' functions by the evaluator: draws, seeds, set-states


def _count_moves():
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


def _with_rng(session, request):
    """Send the evaluator's generator states only when the evaluator drew or seeded since the last call
    (or the candidate's process is new): otherwise the candidate's generators go on from its last call,
    as the one shared generator would in one process, at no cost per call."""
    mark = _rng_mark()
    if session.rng_sent == (session.generation, mark):
        return dict(request), mark
    return dict(request, rng=rng_state()), mark


_CALL = threading.local()  # the brokered call this thread is in: its waits for the candidate


class _Brokered:
    """Around one call of the evaluator into the candidate (an import, a function, a handle's method or
    attribute): leaves its brokering overhead out of the evaluator's clocks (`_selftaught_clock`).

    Left out: the CPU time this thread spent on the call (encoding, decoding, starting a process: work
    a native evaluator does not do) except on the direct socket's sends and reads (their pace is the
    candidate's process's choice: `Direct.call`), and of the rest of the call's duration (waiting for the
    candidate's process, or for a core after a wake-up) at most the exchanges' allowances
    (`Direct.allowance`: the null round trip and the calibrated cost of the bytes and packed numbers
    this side sent and received, all timed before the candidate's code ran); so never more than the
    call took. Through the host (no direct channel) there is no allowance: only this thread's CPU time
    is left out, nothing of the candidate's time."""

    def __enter__(self):
        self.outer = getattr(_CALL, "waits", None) is None
        if self.outer:
            _CALL.waits, _CALL.allowed, _CALL.io = [0.0], [0.0], [0.0]
            self.started = _selftaught_clock.real_perf_counter()
            self.cpu = time.thread_time()
        return self

    def __exit__(self, *exc):
        if self.outer:
            cpu = max(0.0, time.thread_time() - self.cpu - _CALL.io[0])
            took = _selftaught_clock.real_perf_counter() - self.started
            allowed = _CALL.allowed[0]
            _CALL.waits = None
            _selftaught_clock.credit(cpu + min(allowed, max(0.0, took - cpu)))
        return False


def _remote(session, request):
    with _Brokered():
        return _remote_call(session, request)


def _remote_call(session, request):
    timeout = _call_timeout()
    direct = session.direct_channel(timeout)
    request, mark = _with_rng(session, request)
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
    if not isinstance(data, bytes):
        raise CandidateError("malformed answer from the candidate's process (no value)")
    bodies = answer.get("value_bodies")
    try:
        return wire.loads(data, refs=session.handle, bodies=bodies if isinstance(bodies, list) else None)
    except wire.WireError as exc:
        raise CandidateError(f"the candidate's process sent a value that could not be read: {exc}") from None


def _call(session, request, args, kwargs, what):
    with _Brokered():
        direct = session.direct_channel(_call_timeout()) is not None
        # Through the host, values stay one JSON body.
        bodies = wire.Bodies(wire.PEER_BODY_MIN) if direct else None
        request = dict(request, args_wire=_arguments(args, kwargs, what, bodies))
        if bodies is not None and bodies.items:
            request["args_bodies"] = bodies.items
        if bodies is not None:
            request["args_items"] = bodies.packed_items
        return _value(session, _remote(session, request))


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
        with _Brokered():
            answer = _remote(session, request)
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


def _new_class(session, module_name, module_id, name, entry):
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


class CandidateLoader:
    """Loader for the candidate: `exec_module` fills the module with copies and remote functions."""

    def __init__(self, session, origin):
        self.session = session
        self.origin = origin

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        with _Brokered():
            self._exec_module(module)

    def _exec_module(self, module):
        answer = _remote(self.session, {"op": "describe", "module": module.__name__})
        names = answer.get("names") if isinstance(answer.get("names"), dict) else {}
        module_id = answer.get("module_id")
        self.session.module_id = module_id
        self.session.module_name = module.__name__
        unavailable = {}
        for name, entry in names.items():
            if not isinstance(entry, list) or len(entry) != 2:
                continue
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
                continue  # the answer came from the candidate's process: module internals stay ours
            kind, value = entry
            if kind == "function":
                doc = value if isinstance(value, str) else ""
                setattr(module, name, RemoteFunction(self.session, module.__name__, module_id, name, doc))
            elif kind == "class":
                setattr(module, name, _new_class(self.session, module.__name__, module_id, name, value))
            elif kind == "data" and isinstance(value, bytes):
                try:
                    setattr(module, name, wire.loads(value, refs=self.session.handle))
                except wire.WireError:
                    unavailable[name] = "value that could not be read"
            else:
                unavailable[name] = str(value)[:200]
        module.__file__ = self.origin

        def missing(name, _module=module.__name__):
            if name in unavailable:
                raise AttributeError(
                    f"selftaught: {name} is a {unavailable[name]} in the candidate; it runs in its own sandbox, "
                    "so only its functions, classes, plain-data globals and objects of its classes reach "
                    "the evaluator"
                )
            raise AttributeError(f"module {_module!r} has no attribute {name!r}")

        module.__getattr__ = missing


class _CandidateFinder:
    """Catches `import candidate_program` (its directory on sys.path) and gives the proxy module."""

    def __init__(self, session):
        self.session = session

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.origin or not self.session.is_candidate(spec.origin):
            return None
        return importlib.util.spec_from_loader(
            fullname, CandidateLoader(self.session, spec.origin), origin=spec.origin
        )


def _patch_spec_from_file_location(session):
    original = importlib.util.spec_from_file_location

    def spec_from_file_location(name, location=None, *args, **kwargs):
        if location is not None and session.is_candidate(location):
            origin = os.fspath(location)
            return importlib.util.spec_from_loader(name, CandidateLoader(session, origin), origin=origin)
        return original(name, location, *args, **kwargs)

    importlib.util.spec_from_file_location = spec_from_file_location


def _install_exec_guard(session):
    """Refuse executing code compiled from the candidate's file or text in this process."""
    text, data = session.text, session.text.encode("utf-8")
    tainted = {session.path, session.real}

    def hook(event, args):
        if event == "compile":
            source, filename = args[0], args[1]
            if isinstance(source, (str, bytes)) and source in (text, data):
                tainted.add(os.fspath(filename) if isinstance(filename, (str, bytes)) else str(filename))
        elif event == "exec" and getattr(args[0], "co_filename", None) in tainted:
            raise RuntimeError(REFUSED)

    sys.addaudithook(hook)


def install(broker, program_path, program_text):
    """Route every import of the candidate through the host; returns the session."""
    session = CandidateSession(broker, program_path, program_text)
    _selftaught_clock.install()
    _count_moves()
    _patch_spec_from_file_location(session)
    sys.meta_path.insert(0, _CandidateFinder(session))
    sys.dont_write_bytecode = True
    _install_exec_guard(session)
    return session
