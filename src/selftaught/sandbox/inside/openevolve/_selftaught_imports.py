"""In the evaluator's child: importing the candidate gives a proxy module; running it here is refused.

Why: the evaluator and the candidate must not share a process (a candidate that runs next to the
evaluator can rewrite its checks or its answer). OpenEvolve evaluators import the candidate with
`importlib.util.spec_from_file_location(name, program_path)` + `exec_module`, or put its directory on
`sys.path` and import it by name. Both routes end here: the module the evaluator gets holds *copies* of
the candidate's plain-data globals and, for each of its functions, a stub whose call is a remote call
(the host runs the function in a separate sandboxed child, arguments and result passed as data).

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

import numpy

REFUSED = (
    "selftaught: the candidate program never runs in the evaluator's process; import it with "
    "importlib.util.spec_from_file_location (you get a proxy module) or run it with "
    "subprocess.Popen([sys.executable, script])"
)


class CandidateError(RuntimeError):
    """The candidate raised an exception whose type is not a builtin one (its text is kept)."""


class CandidateSession:
    """What the evaluator's side knows about the candidate: its path, its text, and the host proxy."""

    def __init__(self, broker, program_path, program_text):
        self.broker = broker
        self.path = program_path
        self.real = os.path.realpath(program_path)
        self.text = program_text

    def is_candidate(self, location):
        try:
            return os.path.realpath(os.fspath(location)) == self.real
        except (TypeError, ValueError, OSError):
            return False


def rng_state():
    """`random`'s and numpy's global generator states as data (the 625 words of `random` as one uint32
    array: a list of Python ints costs far more to encode)."""
    version, words, gauss = random.getstate()
    return {
        "random": [version, numpy.array(words, dtype=numpy.uint32), gauss],
        "numpy": list(numpy.random.get_state()),
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


def _remote(session, request):
    request = dict(request, rng=rng_state())
    answer = session.broker.module(request, _call_timeout())
    if not isinstance(answer, dict):
        raise CandidateError("malformed answer from the candidate's process")
    # The candidate's generator states are not adopted: it would choose the evaluator's later draws.
    for key, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        if isinstance(answer.get(key), str) and answer[key]:
            stream.write(answer[key])  # what the candidate printed, where the evaluator's prints go
    if "error" in answer or answer.get("timeout"):
        raise_candidate_error(answer)
    return answer


class RemoteFunction:
    """A function of the candidate: calling it runs it in the candidate's own sandboxed child."""

    def __init__(self, session, module_name, module_id, name, doc):
        self._session = session
        self._module = module_name
        self._module_id = module_id
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc or None

    def __call__(self, *args, **kwargs):
        request = {
            "op": "call",
            "module": self._module,
            "module_id": self._module_id,
            "name": self.__name__,
            "args": list(args),
            "kwargs": kwargs,
        }
        try:
            answer = _remote(self._session, request)
        except Exception as exc:
            if str(exc).startswith("unserializable"):
                raise TypeError(
                    f"selftaught: cannot pass this argument to the candidate's {self.__name__}() "
                    f"({exc}); the candidate runs in its own sandbox, only plain data "
                    "(numbers, strings, lists, dicts, numpy arrays) crosses"
                ) from None
            raise
        return answer.get("value")

    def __repr__(self):
        return f"<candidate function {self.__name__} (runs in its own sandbox)>"


class CandidateLoader:
    """Loader for the candidate: `exec_module` fills the module with copies and remote functions."""

    def __init__(self, session, origin):
        self.session = session
        self.origin = origin

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        answer = _remote(self.session, {"op": "describe", "module": module.__name__})
        names = answer.get("names") if isinstance(answer.get("names"), dict) else {}
        module_id = answer.get("module_id")
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
            elif kind == "data":
                setattr(module, name, value)
            else:
                unavailable[name] = f"{kind} {value}" if kind == "class" else str(value)
        module.__file__ = self.origin

        def missing(name, _module=module.__name__):
            if name in unavailable:
                raise AttributeError(
                    f"selftaught: {name} is a {unavailable[name]} in the candidate; it runs in its own sandbox, "
                    "so only its functions and plain-data globals reach the evaluator"
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
    _patch_spec_from_file_location(session)
    sys.meta_path.insert(0, _CandidateFinder(session))
    sys.dont_write_bytecode = True
    _install_exec_guard(session)
    return session
