"""In the evaluator's child: `python script.py` becomes a job run by the host; unpickling is data-only.

Why: OpenEvolve's flagship evaluators run the candidate with `subprocess.Popen([sys.executable, tmp])`,
a timeout, and a pickle file the script writes. Forking is forbidden in the sandbox (seccomp), so here
`subprocess.Popen` is replaced by a stand-in that asks the host to run the script in a *separate*
sandboxed child: the evaluator's new and changed files go with it (paths into the evaluator's directory
are mapped onto the twin directory of that child), and the files the script creates or changes come
back and are written here. The script's exit code, stdout and stderr behave as a process's would; a
`timeout` is the child's limit (the trusted side kills it), and `TimeoutExpired` is raised as usual.

Unpickling runs code named by the pickle, and the pickle now comes from the candidate; so in this
process `pickle.load`/`loads`/`Unpickler` accept only plain data: builtin containers and scalars and
numpy arrays, scalars and dtypes. Anything else raises `pickle.UnpicklingError` naming the global.

Only `python FILE [args]` and `python -c CODE [args]` can be started (any spelling of the Python
executable); other commands raise `PermissionError` saying so. The script starts when the evaluator
first waits for it (`communicate`, `wait`, `poll`, reading its output), so `poll()` blocks.
"""

import hashlib
import io
import os
import pickle
import shlex
import subprocess
import sys

MAX_SENT_BYTES = 8_000_000
_PYTHON_NAMES = ("python", "python3", f"python3.{sys.version_info[1]}")
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".pth", ".so", ".pyd")
_FLAGS_WITHOUT_VALUE = {"-u", "-B", "-E", "-I", "-O", "-OO", "-s", "-S", "-q", "-b", "-bb", "-d", "-v"}

# ---------------------------------------------------------------- data-only unpickling

_SAFE_GLOBALS = (
    {
        ("builtins", name)
        for name in (
            "set",
            "frozenset",
            "complex",
            "bytearray",
            "slice",
            "range",
            "list",
            "dict",
            "tuple",
            "bytes",
            "str",
            "int",
            "float",
            "bool",
        )
    }
    | {("_codecs", "encode"), ("collections", "OrderedDict")}
    | {
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }
    | {("numpy", name) for name in ("float64", "float32", "int64", "int32", "bool_", "complex128")}
    | {
        ("numpy.dtypes", name)
        for name in (
            "Float64DType",
            "Float32DType",
            "Int64DType",
            "Int32DType",
            "BoolDType",
            "Complex128DType",
            "UInt8DType",
            "Int8DType",
            "Int16DType",
            "UInt16DType",
            "UInt32DType",
            "UInt64DType",
            "StrDType",
            "BytesDType",
        )
    }
)


_PY2_MODULES = {"__builtin__": "builtins"}  # protocol 0-2 pickles name builtins the Python 2 way


class DataUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain data (see `_SAFE_GLOBALS`)."""

    def find_class(self, module, name):
        if (_PY2_MODULES.get(module, module), name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(
                f"selftaught: refused to unpickle {module}.{name}: in the sandbox, pickles from the candidate "
                "may hold only plain data (builtins and numpy arrays)"
            )
        return super().find_class(module, name)


def _load(file, **kwargs):
    return DataUnpickler(file, **kwargs).load()


def _loads(data, /, **kwargs):
    return DataUnpickler(io.BytesIO(bytes(data)), **kwargs).load()


def restrict_pickle():
    pickle.Unpickler = DataUnpickler
    pickle.load, pickle.loads = _load, _loads
    pickle._load, pickle._loads, pickle._Unpickler = _load, _loads, DataUnpickler


# ---------------------------------------------------------------- the Popen stand-in


class Workdir:
    """The evaluator's directory and the files it started with (unchanged ones are not sent again)."""

    def __init__(self, path, written):
        self.path = path
        self.written = dict(written)  # relative -> sha256 of what the runner wrote
        self.original = frozenset(written)  # the task's files and the candidate: never overwritten

    def relative(self, path):
        full = os.path.abspath(path)
        inside = full == self.path or full.startswith(self.path + os.sep)
        return os.path.relpath(full, self.path).replace(os.sep, "/") if inside else None

    def changed_files(self):
        """(new or changed files to send, the relative paths of every non-empty file there now)."""
        out, total, filled = {}, 0, set()
        for root, dirs, names in os.walk(self.path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(names):
                path = os.path.join(root, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
                relative = self.relative(path)
                if data:
                    filled.add(relative)
                if self.written.get(relative) == hashlib.sha256(data).hexdigest():
                    continue
                total += len(data)
                if total > MAX_SENT_BYTES:
                    raise OSError(
                        f"selftaught: more than {MAX_SENT_BYTES} bytes of new files to hand to the script"
                    )
                out[relative] = data
        return out, filled

    def accept(self, files, protected):
        """Write the files the script created (relative paths only, inside this directory).

        Never Python code (`.py`, `.pyc`, `.pth`, extension modules): this directory is first on the
        evaluator's `sys.path`, so a module handed back here could be imported by the evaluator and run
        the candidate's code in its process. Never a file in `protected`: the task's own files, the
        candidate, and whatever non-empty file the evaluator had before the script ran (its inputs or
        reference data, which it may read again); an empty file it created for the output is filled.
        """
        for relative, data in (files or {}).items():
            parts = [p for p in str(relative).split("/") if p not in ("", ".")]
            if not parts or ".." in parts or not isinstance(data, bytes):
                continue
            if parts[-1].endswith(_CODE_SUFFIXES) or "__pycache__" in parts or "/".join(parts) in protected:
                print(
                    f"selftaught: not handed back to the evaluator: {'/'.join(parts)} (code, or a file the "
                    "evaluator had before the script ran)",
                    file=sys.stderr,
                )
                continue
            target = os.path.join(self.path, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
            self.written[relative] = hashlib.sha256(data).hexdigest()


def _is_python(program):
    name = os.path.basename(str(program))
    return str(program) == sys.executable or name in _PYTHON_NAMES or name == os.path.basename(sys.executable)


def parse_command(args, shell):
    """(script text or None, script path or None, argv) of `python [flags] FILE|-c CODE [args]`."""
    argv = shlex.split(args) if isinstance(args, (str, bytes)) else [os.fspath(a) for a in args]
    argv = [a.decode() if isinstance(a, bytes) else str(a) for a in argv]
    if not argv or not _is_python(argv[0]):
        raise PermissionError(
            f"selftaught: the evaluator may start only `python FILE` or `python -c CODE` (each runs as its own "
            f"sandboxed job), not {argv[:1]!r}: processes cannot fork in the sandbox"
        )
    rest = argv[1:]
    while rest and rest[0] in _FLAGS_WITHOUT_VALUE:
        rest = rest[1:]
    if rest[:1] == ["-c"] and len(rest) >= 2:
        return rest[1], None, rest[2:]
    if not rest or rest[0].startswith("-"):
        raise PermissionError(
            f"selftaught: only `python FILE` and `python -c CODE` are supported, got {argv!r}"
        )
    return None, rest[0], rest[1:]


class _LazyStream:
    """`process.stdout`/`.stderr` when piped: reading waits for the script, like a pipe would."""

    def __init__(self, process, which):
        self._process, self._which, self._buffer = process, which, None

    def _data(self):
        if self._buffer is None:
            self._process.wait()
            self._buffer = io.BytesIO(self._process._output(self._which) or b"")
        return self._buffer

    def read(self, size=-1):
        return self._process._decode(self._data().read(size))

    def readline(self, size=-1):
        return self._process._decode(self._data().readline(size))

    def readlines(self):
        return [self._process._decode(line) for line in self._data().readlines()]

    def __iter__(self):
        return iter(self.readlines())

    def close(self):
        pass


class BrokeredPopen:
    """`subprocess.Popen` for `python FILE`: the host runs the script in its own sandboxed child."""

    _pids = iter(range(40000, 1 << 30))

    def __init__(
        self,
        args,
        bufsize=-1,
        executable=None,
        stdin=None,
        stdout=None,
        stderr=None,
        preexec_fn=None,
        close_fds=True,
        shell=False,
        cwd=None,
        env=None,
        universal_newlines=None,
        startupinfo=None,
        creationflags=0,
        restore_signals=True,
        start_new_session=False,
        pass_fds=(),
        *,
        text=None,
        encoding=None,
        errors=None,
        **_ignored,
    ):
        self.args = args
        code, script_path, argv = parse_command(args, shell)
        base = os.path.abspath(os.fspath(cwd)) if cwd is not None else os.getcwd()
        workdir = BrokeredPopen.workdir
        if code is None:
            full = os.path.join(base, script_path)
            with open(full, encoding="utf-8") as handle:
                code = handle.read()
            name = workdir.relative(full) or "_selftaught_script.py"
        else:
            name = "_selftaught_command.py"
        self._request = {
            "op": "run",
            "script": code,
            "script_name": name,
            "argv": argv,
            "cwd": workdir.relative(base) or "",
            "evaluator_dir": workdir.path,
        }
        self._pipes = {"stdout": stdout, "stderr": stderr}
        self._text = bool(text or universal_newlines or encoding or errors)
        self._encoding, self._errors = encoding or "utf-8", errors or "strict"
        self.stdin = None
        self.stdout = _LazyStream(self, "stdout") if stdout == subprocess.PIPE else None
        self.stderr = _LazyStream(self, "stderr") if stderr == subprocess.PIPE else None
        self.pid = next(BrokeredPopen._pids)
        self.returncode = None
        self._answer = None
        self._killed = False

    def _decode(self, data):
        return data.decode(self._encoding, self._errors) if self._text and isinstance(data, bytes) else data

    def _start(self, timeout, stdin=None):
        if self._answer is not None:
            return
        if self._killed:
            self._answer, self.returncode = {"stdout": b"", "stderr": b""}, -9
            return
        files, filled = BrokeredPopen.workdir.changed_files()
        request = dict(self._request, files=files)
        if stdin is not None:
            request["stdin"] = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
        answer = BrokeredPopen.broker.run(request, timeout)
        answer = answer if isinstance(answer, dict) else {"error": "malformed answer from the host"}
        BrokeredPopen.workdir.accept(answer.get("files"), BrokeredPopen.workdir.original | filled)
        self._answer = answer
        if answer.get("timeout"):
            return
        code = answer.get("returncode")
        self.returncode = code if isinstance(code, int) and not isinstance(code, bool) else 1
        self._echo()

    def _timed_out(self):
        return bool(self._answer and self._answer.get("timeout")) and self.returncode is None

    def _output(self, which):
        data = (self._answer or {}).get(which) or b""
        data = data if isinstance(data, bytes) else str(data).encode()
        if which == "stdout" and self._pipes["stderr"] == subprocess.STDOUT:
            data += self._output("stderr")
        return data

    def _echo(self):
        """Output that was not piped goes where the evaluator's own output goes (kept as artifacts)."""
        for which, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
            target = self._pipes[which]
            if target is None:
                stream.write(self._output(which).decode("utf-8", "replace"))
            elif hasattr(target, "write") and target not in (
                subprocess.PIPE,
                subprocess.DEVNULL,
                subprocess.STDOUT,
            ):
                data = self._output(which)
                try:
                    target.write(data)
                except TypeError:
                    target.write(data.decode("utf-8", "replace"))

    def communicate(self, input=None, timeout=None):
        self._start(timeout, input)
        if self._timed_out():
            raise subprocess.TimeoutExpired(self.args, timeout)
        out = self._decode(self._output("stdout")) if self._pipes["stdout"] == subprocess.PIPE else None
        err = self._decode(self._output("stderr")) if self._pipes["stderr"] == subprocess.PIPE else None
        return out, err

    def wait(self, timeout=None):
        self._start(timeout)
        if self._timed_out():
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def poll(self):
        self._start(None)
        return self.returncode

    def kill(self):
        self._killed = True
        if self.returncode is None:
            self.returncode = -9

    terminate = kill

    def send_signal(self, sig):
        self.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __del__(self):
        pass


def install(broker, workdir, written):
    """Replace `subprocess.Popen` (and so `run`, `call`, `check_output`) and restrict unpickling."""
    BrokeredPopen.broker = broker
    BrokeredPopen.workdir = Workdir(workdir, written)
    subprocess.Popen = BrokeredPopen
    restrict_pickle()
