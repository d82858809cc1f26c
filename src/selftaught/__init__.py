"""selftaught: STOP (Self-Taught Optimizer) as dependable software.

An improver asks a language model for better versions of a program and keeps the best by a utility;
run on its own source and scored by a meta-utility, it improves itself. Every generated program runs in
an OS-level sandbox (see :mod:`selftaught.sandbox`).
"""

__version__ = "0.1.0"
