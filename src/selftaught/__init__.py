"""selftaught: STOP (Self-Taught Optimizer) as dependable software.

An improver asks a language model for better versions of a program and keeps the best by a utility;
run on its own source and scored by a meta-utility, it improves itself. Every generated program runs in
an OS-level sandbox (see :mod:`selftaught.sandbox`).
"""

from selftaught._version import __version__ as __version__

_API = ("improve", "meta_utility", "self_improve", "transfer", "open_session")


def __getattr__(name: str) -> object:
    # The API is imported lazily so `selftaught --help` and the sandbox-facing modules stay light.
    if name in _API:
        from selftaught.stop import api

        return getattr(api, name)
    raise AttributeError(f"module 'selftaught' has no attribute {name!r}")
