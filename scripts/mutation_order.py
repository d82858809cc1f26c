"""Run a mutant's tests in the order most likely to kill it soonest (used by scripts/mutation).

A mutant costs one pytest run that stops at the first failure (`-x`). Which tests run first decides what
a killed mutant costs: the tests that execute the mutated statement go first, cheapest first, then every
other test of the list. Every test still runs before a mutant counts as a survivor, so the order changes
the cost, never the verdict.

    python scripts/mutation_order.py map TARGET MAP.json -- PYTEST_ARGS...
        run the tests once, unmutated, recording which lines of TARGET each test executes and its CPU
        seconds; the exit code is pytest's (the baseline)
    python scripts/mutation_order.py run TARGET ORIGINAL MAP.json -- PYTEST_ARGS...
        run the tests against TARGET as it is now (mutated), ordered by the lines where it differs
        from ORIGINAL
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest


class LineMap:
    """Per test: the lines of one file it executes (traced in every thread) and its CPU seconds."""

    def __init__(self, target: Path) -> None:
        self.target = str(target.resolve())
        self.lines: dict[str, list[int]] = {}
        self.seconds: dict[str, float] = {}
        self._now: set[int] = set()

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._line if frame.f_code.co_filename == self.target else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self._now.add(frame.f_lineno)
        return self._line

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
        self._now = set()
        threading.settrace(self._call)
        sys.settrace(self._call)
        started = time.process_time()
        yield
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self.seconds[item.nodeid] = time.process_time() - started
        self.lines[item.nodeid] = sorted(self._now)


def changed_lines(original: str, current: str) -> set[int]:
    """Lines (1-based, in the original) where the mutant differs; a mutation keeps the line count."""
    old, new = original.splitlines(), current.splitlines()
    if len(old) != len(new):
        import difflib

        found: set[int] = set()
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
            if tag != "equal":
                found.update(range(i1 + 1, max(i1 + 1, i2) + 1))
        return found
    return {number for number, (a, b) in enumerate(zip(old, new, strict=True), 1) if a != b}


def statement_span(original: str, lines: set[int]) -> tuple[set[int], bool]:
    """The lines of the innermost statement holding each changed line, and whether every one sits in a
    function body (a statement run at import, e.g. a constant or a default argument, affects every test)."""
    tree = ast.parse(original)
    spans: set[int] = set()
    in_functions = True
    for line in lines:
        best: tuple[ast.stmt, bool] | None = None
        stack: list[tuple[ast.AST, bool]] = [(tree, False)]
        while stack:
            node, inside = stack.pop()
            for child in ast.iter_child_nodes(node):
                start, end = getattr(child, "lineno", None), getattr(child, "end_lineno", None)
                if start is not None and not (start <= line <= (end or start)):
                    continue  # nodes without positions (operators, contexts, arguments) are searched
                if isinstance(child, ast.stmt):
                    size = (child.end_lineno or child.lineno) - child.lineno
                    if best is None or size <= (best[0].end_lineno or best[0].lineno) - best[0].lineno:
                        best = (child, inside)
                body = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                stack.append((child, inside or body))
        if best is None:
            in_functions = False
            continue
        node, inside = best
        spans.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        in_functions = in_functions and inside
    return spans, in_functions


class Order:
    """Tests that execute the mutated statement first (cheapest first), then the rest (cheapest first)."""

    def __init__(self, first: set[str], seconds: dict[str, float]) -> None:
        self.first, self.seconds = first, seconds

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=lambda item: (item.nodeid not in self.first, self.seconds.get(item.nodeid, 1e9)))


def run(target: Path, original_file: Path, map_file: Path, pytest_args: list[str]) -> int:
    """One mutant's tests, in process: those that execute the mutated statement first."""
    original = original_file.read_text()
    saved = json.loads(map_file.read_text())
    span, in_functions = statement_span(original, changed_lines(original, target.read_text()))
    if in_functions:
        first = {nodeid for nodeid, ran in saved["lines"].items() if span.intersection(ran)}
    else:
        first = set(saved["lines"])
    return int(pytest.main(pytest_args, plugins=[Order(first, saved["seconds"])]))


def serve(socket_path: Path, timeout: float, run_args: tuple[Path, Path, Path, list[str]]) -> None:
    """Run mutants' tests on request, each in a fork of this process, which has already imported pytest
    and the test dependencies (they are most of what a short pytest run costs). Nothing of selftaught
    or of the tests is imported here: each fork imports them afresh, from the mutated source."""
    import signal
    import socket
    from importlib.metadata import entry_points

    import _pytest.config

    _pytest.config.get_config()  # pytest's own plugins
    plugins = [point.value.split(":")[0] for point in entry_points(group="pytest11")]
    for name in ("numpy", "hypothesis", "hypothesis.strategies", *plugins):
        with contextlib.suppress(ImportError):
            __import__(name)
    early = [name for name in sys.modules if name.split(".")[0] in ("selftaught", "tests", "conftest")]
    if early:
        sys.exit(f"mutation_order: {early[0]} was imported before the mutants' forks")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(1)
    while True:
        connection, _ = server.accept()
        with connection:
            connection.recv(1)
            child = os.fork()
            if child == 0:
                server.close()
                connection.close()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                # Bytecode caches spare each fork compiling the tests and the unmutated modules again;
                # the mutated module's own cache is removed first (a mutant may keep the file's size
                # and modification second, which is all a cache is checked against).
                sys.dont_write_bytecode = False
                Path(importlib.util.cache_from_source(str(run_args[0].resolve()))).unlink(missing_ok=True)
                code = 3
                try:
                    code = run(*run_args)
                finally:
                    os._exit(code)
            deadline = time.monotonic() + timeout
            while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            if done[0] == 0:  # hung: killed, and told as a failed run (as cosmic-ray's own timeout)
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                code = 124
            else:
                code = os.waitstatus_to_exitcode(done[1])
            with contextlib.suppress(OSError):  # the client was ended (cosmic-ray's own timeout)
                connection.sendall(bytes([code & 0xFF]))


def main(argv: list[str]) -> int:
    split = argv.index("--")
    mine, pytest_args = argv[:split], argv[split + 1 :]
    if mine[0] == "map":
        target, out = Path(mine[1]), Path(mine[2])
        recorder = LineMap(target)
        code = int(pytest.main(pytest_args, plugins=[recorder]))
        out.write_text(json.dumps({"lines": recorder.lines, "seconds": recorder.seconds}))
        return code
    if mine[0] == "serve":
        serve(Path(mine[1]), float(mine[2]), (Path(mine[3]), Path(mine[4]), Path(mine[5]), pytest_args))
        return 0
    return run(Path(mine[1]), Path(mine[2]), Path(mine[3]), pytest_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
