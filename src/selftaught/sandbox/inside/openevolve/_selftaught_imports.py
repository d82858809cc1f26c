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

This module routes the imports and keeps the session with the candidate's process; the stand-ins the
module holds and the brokered call under each are `_selftaught_proxies`, the evaluator's generator
states sent along `_selftaught_rng`.
"""

import importlib.machinery
import importlib.util
import os
import sys
import threading

import wire

from openevolve import _selftaught_clock, _selftaught_direct, _selftaught_proxies, _selftaught_rng

PEER_WAIT = 30.0  # seconds for the socket to a just-started candidate process to arrive

REFUSED = (
    "selftaught: the candidate program never runs in the evaluator's process; import it with "
    "importlib.util.spec_from_file_location (you get a proxy module) or run it with "
    "subprocess.Popen([sys.executable, script])"
)


def _uncalibrated(direct):
    """Leave nothing of this process's calls out beyond the evaluator's CPU: its calibration ran while
    another thread was in a brokered call, whose work (decoding a large answer holds the interpreter
    for long stretches) slowed the pings. A candidate could arrange that, answering a call the
    evaluator gave up on with a large value and ending its process, so that the next process is
    timed slow and every later call of it allowed that much of its own time (a new thread's null
    round trip was measured at 5.4 ms instead of 0.2 ms, a request's 128 KB at 5.2 ms instead of 0.1)."""
    direct.null_wait = direct.first_null_wait = 0.0
    direct.rates = _selftaught_direct.Rates()


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
            _selftaught_proxies.raise_candidate_error(
                answer if isinstance(answer, dict) else {"error": "malformed answer"}
            )
        if answer.get("direct") is not True:
            self.through_host = True
            return None
        import child  # the sandbox's side of this process: where the zygote's sockets arrive

        fd = child.take_peer(min(timeout or PEER_WAIT, PEER_WAIT))
        if fd is None:
            raise _selftaught_proxies.CandidateError(
                "the candidate's process could not be reached (no socket from the sandbox)"
            )
        left = answer.get("left")
        direct = _selftaught_direct.Direct(
            fd, answer.get("session"), left if isinstance(left, float) else 0.0
        )
        entered, busy = _selftaught_proxies.others_calling()
        direct.calibrate()  # before anything of the candidate is imported into that process
        if busy or _selftaught_proxies.others_calling() != (entered, False):
            _uncalibrated(direct)
        self.direct = direct
        self.generation = answer.get("session")
        return self.direct

    def stub_class(self, name, methods=(), doc=""):
        """The stub class standing for the candidate's class `name` (one per name and import)."""
        cls = self.classes.get(name)
        if cls is None:
            short = name.rsplit(".", 1)[-1]
            cls = type(
                short, (_selftaught_proxies.CandidateObject,), {"__qualname__": short, "__doc__": doc or None}
            )
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


class CandidateLoader:
    """Loader for the candidate: `exec_module` fills the module with copies and remote functions."""

    def __init__(self, session, origin):
        self.session = session
        self.origin = origin

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        with _selftaught_proxies.Brokered():
            self._exec_module(module)

    def _exec_module(self, module):
        answer = _selftaught_proxies.remote(self.session, {"op": "describe", "module": module.__name__})
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
                setattr(
                    module,
                    name,
                    _selftaught_proxies.RemoteFunction(self.session, module.__name__, module_id, name, doc),
                )
            elif kind == "class":
                setattr(
                    module,
                    name,
                    _selftaught_proxies.new_class(self.session, module.__name__, module_id, name, value),
                )
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
    _selftaught_rng.count_moves()
    _patch_spec_from_file_location(session)
    sys.meta_path.insert(0, _CandidateFinder(session))
    sys.dont_write_bytecode = True
    _install_exec_guard(session)
    return session
