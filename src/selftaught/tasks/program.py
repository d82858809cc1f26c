"""Static checks of a program's source, done in the host without ever executing it.

`selftaught eval` must turn bad input (empty file, syntax error, wrong entry-point name, non-UTF-8)
into one line and exit code 2 before any sandbox starts; inside a STOP run the same check lets a broken
candidate score the failure value without a sandbox round trip. Only `ast` is used: parsing is safe,
running is not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from selftaught.codetext import pysource
from selftaught.userfiles import read_text

MAX_PROGRAM_BYTES = 1_000_000


def validate_program(source: str, entry_point: str) -> str | None:
    """One line saying what is wrong with `source` as a program defining `entry_point`, or None."""
    if not source.strip():
        return "the program is empty"
    if "\x00" in source:
        return "the program contains NUL bytes"
    try:
        tree = pysource.parse(source)
    except pysource.SourceError as exc:  # syntax, pathological nesting or size, odd bytes
        if exc.lineno:
            return f"syntax error at line {exc.lineno}: {exc.msg}"
        return f"the program cannot be parsed: {exc.msg}"
    kinds = dict(_top_level_bindings(tree.body))
    kind = kinds.get(entry_point)
    if kind is None:
        defined = sorted(name for name, k in kinds.items() if k == "def")
        hint = f" (it defines: {', '.join(defined)})" if defined else ""
        return f"the program does not define a top-level function {entry_point!r}{hint}"
    if kind == "async def":
        return f"{entry_point!r} must be a plain function, not 'async def'"
    return None


def _top_level_bindings(body: list[ast.stmt]) -> Iterator[tuple[str, str]]:
    """Names bound at module level (also inside top-level if/try/with blocks), with how they are bound."""
    for node in body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, "def"
        elif isinstance(node, ast.AsyncFunctionDef):
            yield node.name, "async def"
        elif isinstance(node, ast.ClassDef):
            yield node.name, "class"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                yield from _assigned_names(target)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            yield from _assigned_names(node.target)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                yield (alias.asname or alias.name.split(".")[0]), "import"
        elif isinstance(node, ast.If | ast.For | ast.While | ast.With):
            yield from _top_level_bindings(node.body)
            yield from _top_level_bindings(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level_bindings(block)


def _assigned_names(target: ast.expr) -> Iterator[tuple[str, str]]:
    if isinstance(target, ast.Name):
        yield target.id, "assign"
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _assigned_names(element)


def read_program(path: Path) -> str:
    """The text of a program file, or a one-line `UsageError` (missing, a directory, not UTF-8, huge)."""
    return read_text(path, f"program file {str(path)!r}", limit=MAX_PROGRAM_BYTES)
