"""Runs the *candidate* of an OpenEvolve-style task in its own sandboxed child (stdlib + numpy only).

This file is the source of the second kind of sandbox job of `--task openevolve:PATH` (the host sends
its text; selftaught never imports it). Why a second child: the evaluator and the candidate must not
share a process, or the candidate could patch the evaluator (its module, its checks, the wire format of
its answer) and score what it likes. The evaluator's child holds a proxy; every time it imports the
candidate, calls one of its functions or starts `python script.py`, the host runs one job of this file
with the request as plain data and hands the answer back as plain data.

Scripts run one per job (`serve_request`); imports and calls are served by one long-lived job per
evaluation (`serve_session`: it asks the host for each next request, so the candidate's module keeps its
state between calls), each request under a timer that kills this process at the call's limit.
`op` is one of:
- `ping`: nothing (the evaluator times the round trip of a call before the candidate is imported).
- `describe`: import the program; say which names are functions, classes (with their methods) and plain
  data (with values).
- `call`: call one of its functions; `new`: make an instance of one of its classes; `method`, `getattr`,
  `setattr`: act on an object the evaluator holds a handle to.
- `run`: run a script as `__main__` (what `subprocess.Popen([sys.executable, script])` would do); the
  answer is the exit code and the files the script created or changed (stdout and stderr are the job's
  own, captured by the trusted side).

Values cross as the sandbox's wire encoding (`wire.py`), made and read here, never by the host: arguments
arrive as `args_wire` bytes, a result leaves as `value_wire` bytes. An object of one of the candidate's
classes leaves as a *handle* (`Handles`): a random id this process alone can turn back into the object,
so the evaluator can call its methods while the object stays here.

`random`'s and numpy's global generators are set from the evaluator's state before `describe`/`call`, so
an evaluator that seeds them and then calls the candidate gets the candidate's result it would get in
one process. The new state is not sent back: the evaluator's own later draws must not be the candidate's
choice.
"""

import contextlib
import hashlib
import io
import os
import random
import signal
import sys
import traceback
import types

import frames
import numpy
import wire

PROGRAM_NAME = "candidate_program.py"
MAX_RETURNED_BYTES = 16_000_000
MAX_VALUE_BYTES = 3_900_000  # a result travels in one remote call of the session (4 MiB, headers included)
MAX_PRINTED = 64_000
MAX_HANDLES = 100_000
PEER_CAP = 16 << 20  # one request from the evaluator on the direct socket (header or arguments)
MAX_METHODS = 500
# Special methods an evaluator may call on a handle (its other names must be public identifiers).
DUNDERS = ("__call__", "__len__", "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__")


def _workdir():
    """A fresh directory in this child's scratch, the twin of the evaluator's working directory."""
    here = globals().get("__file__")
    base = os.path.dirname(os.path.abspath(here)) if here else os.getcwd()
    path = os.path.join(base, "openevolve-candidate")
    os.makedirs(path, exist_ok=True)
    return path


def _safe_parts(relative):
    parts = [part for part in str(relative).replace("\\", "/").split("/") if part not in ("", ".")]
    return parts if parts and ".." not in parts else None


def _write_files(workdir, files):
    """Write the task's files (and the evaluator's own new files); returns {relative: sha256}."""
    written = {}
    for relative, data in files.items():
        parts = _safe_parts(relative)
        if parts is None:
            continue
        data = data if isinstance(data, bytes) else str(data).encode("utf-8")
        target = os.path.join(workdir, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        written["/".join(parts)] = hashlib.sha256(data).hexdigest()
    return written


def _changed_files(workdir, before):
    """Files created or changed under `workdir` since `before`, as {relative: bytes} (capped)."""
    out, total = {}, 0
    for root, dirs, names in os.walk(workdir):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, workdir).replace(os.sep, "/")
            size = os.path.getsize(path)
            if total + size > MAX_RETURNED_BYTES:
                print(
                    f"selftaught: {relative} not handed back (files over {MAX_RETURNED_BYTES} bytes)",
                    file=sys.stderr,
                )
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if before.get(relative) != hashlib.sha256(data).hexdigest():
                out[relative] = data
                total += size
    return out


def _set_rng(state):
    """Adopt the evaluator's generator states (see `_selftaught_rng.rng_state` for the format)."""
    if not state:
        return
    version, words, gauss = state["random"]
    random.setstate((version, tuple(int(w) for w in words), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    numpy.random.set_state((kind, numpy.asarray(keys, dtype=numpy.uint32), pos, has_gauss, cached))


class Handles:
    """The candidate's objects the evaluator holds handles to (this process only, dies with it).

    Ids are random 63-bit numbers: an id this table did not hand out (forged, or made by an earlier
    process of the candidate) is refused, never guessed into another object.
    """

    def __init__(self):
        self.objects = {}
        self.ids = {}  # id(object) -> handle id: the same object always gets the same handle
        self.modules = set()  # names the candidate was imported as: instances of its classes become handles

    def ref(self, value):
        """`wire` hook for results: a handle for an instance of one of the candidate's classes."""
        cls = type(value)
        if getattr(cls, "__module__", None) not in self.modules:
            return None
        handle = self.ids.get(id(value))
        if handle is None:
            if len(self.objects) >= MAX_HANDLES:
                raise wire.Unserializable(f"{cls.__qualname__} (more than {MAX_HANDLES} handles)")
            handle = int.from_bytes(os.urandom(8), "little") & wire.MAX_REF_ID
            self.objects[handle] = value
            self.ids[id(value)] = handle
        return wire.Ref(handle, cls.__qualname__).tag()

    def get(self, ref):
        """`wire` resolver for arguments: the object behind a handle this process made."""
        if ref.id not in self.objects:
            raise wire.WireError(
                "unknown handle: not made by this candidate process (forged, or from a process that ended)"
            )
        return self.objects[ref.id]


def _class_entry(cls):
    methods = [
        name
        for name in dir(cls)
        if (not name.startswith("_") or name in DUNDERS) and callable(getattr(cls, name, None))
    ]
    return {"methods": methods[:MAX_METHODS], "doc": (cls.__doc__ or "")[:4000]}


def _import(request, workdir):
    """Import the candidate as module `request["module"]` (by hand: importlib.util costs ~10 ms a job)."""
    path = os.path.join(workdir, PROGRAM_NAME)
    name = request.get("module") or "program"
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def _describe(module, handles):
    names = {}
    for name, value in list(vars(module).items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, type):
            names[name] = ["class", _class_entry(value)]
        elif callable(value) and not hasattr(type(value), "__wire_ref__"):
            names[name] = ["function", getattr(value, "__doc__", None) or ""]
        else:
            try:
                names[name] = ["data", wire.dumps(value, other_hook=handles.ref, root=name)]
            except Exception:
                names[name] = ["other", type(value).__name__]
    return names


def _error(exc):
    return {
        "error": f"{type(exc).__name__}: {exc}",
        "message": str(exc),
        "etype": type(exc).__name__,
        "traceback": traceback.format_exc()[-4000:],
    }


def _arguments(request, handles):
    """The call's arguments, decoded here with the bounded decoder (handles become the objects)."""
    data = request.get("args_wire", b"[[],{}]")
    bodies = request.get("args_bodies")
    try:
        decoded = wire.loads(
            data if isinstance(data, (bytes, bytearray)) else b"",
            refs=handles.get,
            bodies=bodies if isinstance(bodies, list) else None,
        )
    except wire.WireError as exc:
        raise TypeError(f"selftaught: the arguments could not be read: {exc}") from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], list)):
        raise TypeError("selftaught: malformed arguments")
    if not (isinstance(decoded[1], dict) and all(isinstance(k, str) for k in decoded[1])):
        raise TypeError("selftaught: malformed keyword arguments")
    return decoded[0], decoded[1]


def _target(request, module, handles):
    """What the request acts on: a function, a class, or an attribute of a handle's object."""
    op, name = request["op"], request.get("name", "")
    if op in ("call", "new"):
        target = getattr(module, name)
        if op == "new" and not isinstance(target, type):
            raise TypeError(f"{name} is not a class of the candidate")
        return target
    return handles.get(wire.Ref(int(request["handle"]), "object"))


def _result(value, handles, bodies=None):
    """The answer carrying `value` (encoded here: the host passes the bytes on without reading them).
    With `bodies` (a `wire.Bodies`: the answer goes on the direct socket), large arrays go there raw."""
    try:
        data = wire.dumps(value, bodies.hook if bodies else None, handles.ref, root="result")
    except wire.Unserializable as exc:
        return {
            "error": f"TypeError: {exc}; only plain data (numbers, strings, tuples, lists, dicts, sets, "
            "numpy arrays and other arrays) and objects of the candidate's own classes cross the sandbox "
            "boundary",
            "message": f"{exc}",
            "etype": "TypeError",
        }
    size = len(data) + (bodies.size if bodies else 0)
    if size > MAX_VALUE_BYTES:
        return {
            "error": f"ValueError: the candidate's result is {size} bytes encoded (cap {MAX_VALUE_BYTES})",
            "message": f"result too large: {size} bytes",
            "etype": "ValueError",
        }
    if bodies and bodies.items:
        return {"value_wire": data, "value_bodies": bodies.items}
    return {"value_wire": data}


def _module_op(request, workdir, modules, handles, raw=False):
    """`describe` (import the candidate, as module id `module_id`), `call` one of its functions, `new`
    one of its classes, or `method`/`getattr`/`setattr` on a handle's object. `raw`: the answer goes on
    the direct socket, where large arrays travel as raw bodies.

    A request for a module this process has not imported (a fresh session after a timeout or crash)
    imports it first: its module-level state starts over, as after a restart.
    """
    op = request["op"]
    if op == "ping":  # the evaluator timing a round trip (nothing of the candidate runs): `_ping`
        return _ping(request, handles, raw)
    _set_rng(request.get("rng"))
    key = request.get("module_id")
    try:
        if op == "describe" or key not in modules:
            modules[key] = _import(request, workdir)
            handles.modules.add(modules[key].__name__)
        module = modules[key]
        if op == "describe":
            return {"names": _describe(module, handles)}
        target = _target(request, module, handles)
        if op == "getattr":
            value = getattr(target, request["name"])
            if (
                callable(value)
                and not isinstance(value, type)
                and getattr(type(value), "__module__", None) not in handles.modules
            ):
                return {"callable": True}
            return _result(value, handles, _bodies(raw))
        args, kwargs = _arguments(request, handles)
        if op == "setattr":
            setattr(target, request["name"], args[0])
            return _result(None, handles, _bodies(raw))
        if op == "method":
            target = getattr(target, request["name"])
        return _result(target(*args, **kwargs), handles, _bodies(raw))
    except BaseException as exc:  # the candidate's own failure: reported to the evaluator as data
        return _error(exc)


def _bodies(raw):
    return wire.Bodies(wire.PEER_BODY_MIN) if raw else None


ECHO_MAX = 1 << 20  # bytes a calibration ping may ask back
_ECHOES: dict = {}  # size -> the array a ping asks back (made once: what it costs to send is what is timed)


def _ping(request, handles, raw):
    """A call that runs nothing of the candidate, timed by the evaluator before the candidate's code is
    imported into this process (`_selftaught_direct.Direct.calibrate`): its arguments are decoded as a
    call's are, and its answer is None or, asked `echo` bytes, a ready-made array of that many bytes
    (the cheapest a result of that size can be sent: nothing to encode, the bytes written uncopied)."""
    if "args_wire" in request:
        _arguments(request, handles)
    size = request.get("echo")
    value = None
    if type(size) is int and 0 < size <= ECHO_MAX:
        value = _ECHOES.get(size)
        if value is None:
            value = _ECHOES[size] = numpy.zeros(size, dtype=numpy.uint8)
    return _result(value, handles, _bodies(raw))


def _timed_op(request, workdir, modules, handles, raw=False):
    """One session request under a timer whose default action kills this process at the call's limit."""
    out, err = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, float(request.get("limit") or 0) or 0.05)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            answer = _module_op(request, workdir, modules, handles, raw)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    answer.update(
        seq=request.get("seq"), stdout=out.getvalue()[-MAX_PRINTED:], stderr=err.getvalue()[-MAX_PRINTED:]
    )
    return answer


PEER_FIELDS = ("op", "module", "module_id", "name", "handle", "session", "rng", "seq", "limit", "echo")


def _serve_peer(fd, workdir, modules, handles):
    """Serve requests arriving on the socket the zygote linked to the evaluator's child, until it closes.

    Each request is one message: a header (the request's fields, wire-encoded) and the arguments'
    bytes as its body; each answer a header and the value's (or the import's names') bytes as body.
    A request is read whole in few system calls (`frames.SocketReader`), its raw bodies decoded in place;
    an answer is written with one `writev` of its parts, arrays uncopied (`frames.pack_parts`).
    """
    reader = frames.SocketReader(fd)
    while True:
        try:
            header, bodies = frames.recv_message(reader, PEER_CAP)
            fields = wire.decode(header.get("request"))
        except (EOFError, OSError, wire.WireError, ValueError):
            return None
        if not isinstance(fields, dict):
            return None
        request = {key: fields[key] for key in PEER_FIELDS if key in fields}
        if bodies:
            request["args_wire"], request["args_bodies"] = bodies[0], bodies[1:]
        answer = _timed_op(request, workdir, modules, handles, raw=True)
        body = answer.pop("value_wire", None)
        raw = answer.pop("value_bodies", [])
        if "names" in answer:
            body = wire.dumps(answer.pop("names"))
            answer["names_wire"] = True
        try:
            frames.write_all(fd, frames.pack_parts(answer, [body, *raw] if body is not None else []))
        except OSError:
            return None


def serve_session(base, session):
    """Serve the evaluator's imports and calls in this one process until the host says stop (None), or,
    if the zygote linked this process to the evaluator's (`child.take_peer`), until that socket closes."""
    workdir, _ = _prepare(base)
    modules = {}
    handles = Handles()
    peer = _take_peer()
    # The first message says whether this process is linked; the host answers a linked one at once.
    request = session.next({"hello": True, "linked": peer is not None})
    if peer is not None and request is None:
        return _serve_peer(peer, workdir, modules, handles)
    while True:
        if not isinstance(request, dict):
            return None
        request = session.next(_timed_op(request, workdir, modules, handles))


def _take_peer():
    try:
        import child  # the sandbox's own side of this process (inside/ is first on sys.path)
    except ImportError:
        return None
    take = getattr(child, "take_peer", None)
    return take(0.0) if take is not None else None


def _run_script(request, workdir, before):
    """Run the script like `python script.py args...`: `__main__`, argv, cwd; return the exit code."""
    # Paths into the evaluator's directory (baked into the script by the evaluator) mean this twin.
    origin = request.get("evaluator_dir") or workdir

    def here(text):
        return text.replace(origin, workdir) if isinstance(text, str) else text

    script_path = os.path.join(workdir, *(_safe_parts(request["script_name"]) or ["script.py"]))
    cwd_parts = _safe_parts(request.get("cwd") or "")
    os.chdir(os.path.join(workdir, *cwd_parts) if cwd_parts else workdir)
    sys.argv = [script_path, *(here(arg) for arg in request.get("argv", []))]
    stdin = request.get("stdin")
    if isinstance(stdin, bytes):
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="replace")
    sys.path.insert(0, os.path.dirname(script_path))
    globals_ = {"__name__": "__main__", "__file__": script_path, "__builtins__": __builtins__}
    code = 0

    def _exit(status):  # `os._exit` ends a real script at once; here the files it wrote must still go back
        raise SystemExit(status)

    os._exit = _exit
    try:
        exec(compile(here(request["script"]), script_path, "exec"), globals_)
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return {"returncode": code, "files": _changed_files(workdir, before)}


def _prepare(request):
    """This child's twin of the evaluator's directory: the task's files and the candidate."""
    workdir = _workdir()
    files = dict(request.get("files", {}))
    files[PROGRAM_NAME] = request["program"].encode("utf-8")
    before = _write_files(workdir, files)
    sys.dont_write_bytecode = True
    sys.path.insert(0, workdir)
    os.chdir(workdir)
    return workdir, before


def serve_request(request):
    """Answer one request of the evaluator (see the module docstring); never raises for the candidate."""
    workdir, before = _prepare(request)
    if request["op"] == "run":
        return _run_script(request, workdir, before)
    return _module_op(request, workdir, {}, Handles())
