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
- `describe`: import the program; say which names are functions and which are plain data (with values).
- `call`: import the program, call one function with the given arguments, return its value.
- `run`: run a script as `__main__` (what `subprocess.Popen([sys.executable, script])` would do); the
  answer is the exit code and the files the script created or changed (stdout and stderr are the job's
  own, captured by the trusted side).

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

import numpy

PROGRAM_NAME = "candidate_program.py"
MAX_RETURNED_BYTES = 16_000_000
MAX_DATA_DEPTH = 20
MAX_PRINTED = 64_000
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


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
    """Adopt the evaluator's generator states (see `_selftaught_imports.rng_state` for the format)."""
    if not state:
        return
    version, words, gauss = state["random"]
    random.setstate((version, tuple(int(w) for w in words), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    numpy.random.set_state((kind, numpy.asarray(keys, dtype=numpy.uint32), pos, has_gauss, cached))


def _plain(value, depth=0):
    """True if `value` is data that can be handed to the evaluator as a copy."""
    if depth > MAX_DATA_DEPTH:
        return False
    if isinstance(value, (*_SCALARS, numpy.generic)):
        return True
    if isinstance(value, numpy.ndarray):
        return value.dtype.kind in "biufcUS"
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


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


def _describe(module):
    names = {}
    for name, value in list(vars(module).items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, type):
            names[name] = ["class", value.__name__]
        elif callable(value):
            names[name] = ["function", getattr(value, "__doc__", None) or ""]
        elif _plain(value):
            names[name] = ["data", value]
        else:
            names[name] = ["other", type(value).__name__]
    return names


def _error(exc):
    return {
        "error": f"{type(exc).__name__}: {exc}",
        "message": str(exc),
        "etype": type(exc).__name__,
        "traceback": traceback.format_exc()[-4000:],
    }


def _module_op(request, workdir, modules):
    """`describe` (import the candidate, as module id `module_id`) or `call` one of its functions.

    A `call` for a module this process has not imported (a fresh session after a timeout or crash)
    imports it first: its module-level state starts over, as after a restart.
    """
    _set_rng(request.get("rng"))
    key = request.get("module_id")
    try:
        if request["op"] == "describe" or key not in modules:
            modules[key] = _import(request, workdir)
        module = modules[key]
        if request["op"] == "describe":
            return {"names": _describe(module)}
        function = getattr(module, request["name"])
        value = function(*request.get("args", []), **request.get("kwargs", {}))
        if _plain(value):
            return {"value": value}
        return {
            "error": f"TypeError: the candidate returned a {type(value).__name__}; only plain data (numbers, "
            "strings, lists, dicts, numpy arrays) crosses the sandbox boundary",
            "message": f"the candidate returned a {type(value).__name__}, not plain data",
            "etype": "TypeError",
        }
    except BaseException as exc:  # the candidate's own failure: reported to the evaluator as data
        return _error(exc)


def _timed_op(request, workdir, modules):
    """One session request under a timer whose default action kills this process at the call's limit."""
    out, err = io.StringIO(), io.StringIO()
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, float(request.get("limit") or 0) or 0.05)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            answer = _module_op(request, workdir, modules)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    answer.update(
        seq=request.get("seq"), stdout=out.getvalue()[-MAX_PRINTED:], stderr=err.getvalue()[-MAX_PRINTED:]
    )
    return answer


def serve_session(base, session):
    """Serve the evaluator's imports and calls in this one process until the host says stop (None)."""
    workdir, _ = _prepare(base)
    modules = {}
    answer = None
    while True:
        request = session.next(answer)
        if not isinstance(request, dict):
            return None
        answer = _timed_op(request, workdir, modules)


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
    return _module_op(request, workdir, {})
