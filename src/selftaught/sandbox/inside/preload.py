"""What the zygote imports and runs once, before it forks any child.

Stdlib + numpy + the sandbox's own modules (runs in the zygote).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import frames
import wire

# Imported once here so children start fast, and so that they work in weak mode even when the
# interpreter's directory is not readable by the sandbox uid (e.g. a pyenv Python under /root).
PRELOAD = [
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "numpy.fft",
    "collections",
    "collections.abc",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "math",
    "cmath",
    "random",
    "re",
    "json",
    "copy",
    "typing",
    "dataclasses",
    "statistics",
    "string",
    "time",
    "datetime",
    "threading",
    "queue",
    "concurrent.futures",
    "fractions",
    "decimal",
    "operator",
    "enum",
    "abc",
    "contextlib",
    "warnings",
    "traceback",
    "inspect",
    "ast",
    "weakref",
    "numbers",
    "struct",
    "array",
    "hashlib",
    "base64",
    "textwrap",
    "difflib",
    "socket",
    "subprocess",
    "signal",
    "ctypes",
    "resource",
    "gc",
    "io",
    "pathlib",
    "tempfile",
    "shutil",
    "glob",
    "fnmatch",
    "secrets",
    "uuid",
    "pickle",
    "csv",
    "logging",
    "multiprocessing",
    "helpers",
]


def preload() -> None:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _warm_child_path()


def _warm_child_path() -> None:
    """Run, once in the zygote, the library code every child runs before and while answering.

    Why: a child is a copy-on-write fork, and on this kind of machine each page it writes costs
    ~2.5 us. First calls do one-off work that writes memory (numpy's legacy seeding allocates and
    caches on first use, the JSON codec and the compiler build their state), which every child would
    otherwise redo in its own copied pages. Doing it here, before `gc.freeze()`, leaves it shared.
    """
    import numpy

    numpy.random.seed(0)
    namespace: dict[str, Any] = {}
    exec(compile("def f(x):\n    return x\n", "program.py", "exec"), namespace)
    for _ in range(2):
        body = wire.dumps([[1, 2.5, "a"], {"k": None}])
        wire.loads(body)
        reader = frames.FrameReader(1 << 20)
        reader.feed(frames.pack_message({"t": "call", "n": os.urandom(8).hex()}, [body]))
        reader.messages()
