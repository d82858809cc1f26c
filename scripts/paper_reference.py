#!/usr/bin/env python3
"""Run the original STOP code's scorer on a program: where the paper-protocol reference numbers in
tests/tasks/test_paper_protocol.py come from.

    git clone https://github.com/microsoft/stop && git -C stop checkout 0d6780c
    .venv/bin/python scripts/paper_reference.py stop str_grid_dist \\
        src/selftaught/tasks/builtin/str_grid_dist/paper/seed.py test
    # prints 0.43887465112343044
    .venv/bin/python scripts/paper_reference.py --count stop three_sat \\
        tests/tasks/programs/paper/three_hang_at_4.py test
    # prints 0.01 30: the value, then how many times the scorer called the program

It imports `tasks/<task>/secret_utility.py` from that checkout unchanged and prints
`repr(utility(program_text, mode=MODE))`. Only the imports the scorers need beyond numpy are stood in
for, each with what it does there: `pebble.ThreadPool` (schedule a call in a thread, wait for its result
with a timeout) by a concurrent.futures thread pool, `helpers.temp_override` (define the program's
function and return it) by exec into a fresh dict, `tqdm` by the identity, `multiprocess` by nothing (the
scorers import it without using it). Run it by hand on a trusted program: it executes the program in
this process, exactly as the original did.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any


class _ThreadPool:
    """pebble.ThreadPool as the scorers use it: schedule(fn, args).result(timeout=...), stop(), join()."""

    def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
        # pebble's default is one worker per CPU: a call that hangs holds one of them and the next calls
        # still run on the others (what the original did with a hanging program on a multi-core machine)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers or os.cpu_count() or 1)

    def schedule(self, function: Any, args: Any = (), kwargs: Any = None) -> concurrent.futures.Future:
        return self._pool.submit(function, *args, **(kwargs or {}))

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def join(self) -> None:
        return None


CALLS = [0]  # how many times the scorer called the program's function (printed with --count)


def _temp_override(define_fn_str: str, base_name: str, *args: Any, **kwargs: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(define_fn_str, namespace)
    function = namespace[base_name]

    def counted(*call_args: Any, **call_kwargs: Any) -> Any:
        CALLS[0] += 1
        return function(*call_args, **call_kwargs)

    return counted


def _install_stand_ins(checkout: Path) -> None:
    pebble = types.ModuleType("pebble")
    pebble.ThreadPool = _ThreadPool  # type: ignore[attr-defined]
    helpers = types.ModuleType("helpers")
    helpers.temp_override = _temp_override  # type: ignore[attr-defined]
    helpers.read_file_as_str = lambda path: (checkout / path).read_text()  # type: ignore[attr-defined]
    tqdm = types.ModuleType("tqdm")
    tqdm.tqdm = lambda iterable, *a, **k: iterable  # type: ignore[attr-defined]
    sys.modules.update(
        {"pebble": pebble, "helpers": helpers, "tqdm": tqdm, "multiprocess": types.ModuleType("multiprocess")}
    )
    sys.path.insert(0, str(checkout))  # the checkout's own config.py


def main() -> int:
    argv = sys.argv[1:]
    count = argv[:1] == ["--count"]
    argv = argv[count:]
    if len(argv) != 4:
        print("usage: paper_reference.py [--count] CHECKOUT TASK PROGRAM.py val|test", file=sys.stderr)
        return 2
    checkout, task, program, mode = Path(argv[0]).resolve(), argv[1], Path(argv[2]), argv[3]
    source = program.read_text()
    _install_stand_ins(checkout)
    os.chdir(checkout)  # the scorers read their own utility.py by a relative path
    spec = importlib.util.spec_from_file_location(
        "secret_utility", checkout / "tasks" / task / "secret_utility.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    value = module.utility(source, mode=mode)
    # numpy scalars print as plain floats; with --count, the number of calls of the program follows
    print(repr(float(value)), *([CALLS[0]] if count else []), flush=True)
    os._exit(0)  # a program that hangs still holds a pool thread: do not wait for it at exit


if __name__ == "__main__":
    sys.exit(main())
