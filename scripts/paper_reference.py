#!/usr/bin/env python3
"""Run the original STOP code's scorer on a program: where the paper-protocol reference numbers in
tests/tasks/test_paper_protocol.py come from.

    git clone https://github.com/microsoft/stop && git -C stop checkout 0d6780c
    .venv/bin/python scripts/paper_reference.py stop str_grid_dist \\
        src/selftaught/tasks/builtin/str_grid_dist/paper/seed.py test
    # prints 0.43887465112343044

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def schedule(self, function: Any, args: Any = (), kwargs: Any = None) -> concurrent.futures.Future:
        return self._pool.submit(function, *args, **(kwargs or {}))

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def join(self) -> None:
        return None


def _temp_override(define_fn_str: str, base_name: str, *args: Any, **kwargs: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(define_fn_str, namespace)
    return namespace[base_name]


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
    if len(sys.argv) != 5:
        print("usage: paper_reference.py CHECKOUT TASK PROGRAM.py val|test", file=sys.stderr)
        return 2
    checkout, task, program, mode = Path(sys.argv[1]).resolve(), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
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
    print(repr(float(value)))  # numpy scalars print as plain floats
    return 0


if __name__ == "__main__":
    sys.exit(main())
