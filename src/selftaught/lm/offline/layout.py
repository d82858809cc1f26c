"""Writing a mutated program back with the original's layout, as a model editing the program would.

`ast.unparse` loses what a reader sees first: comments, blank lines, and above all multi-line strings,
which it folds onto one line with `\\n` escapes (an improver's prompt string, whose fences start lines,
becomes one long line). So the mutant is written statement by statement: a statement whose tree is
unchanged (wherever the mutation moved it) is copied from the original source, re-indented to its new
depth except for lines inside a multi-line string literal; a changed compound statement (a `for`, an
`if`, a `def`) gets a fresh header from `ast.unparse` and its bodies are written the same way,
recursively; only a changed simple statement is unparsed. The result is checked to parse to the
mutant's exact tree; if it does not (tabs, statements sharing a line), the whole mutant is unparsed.
"""

from __future__ import annotations

import ast
import copy
import io
import tokenize

from selftaught.codetext import pysource

_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers")
_PLACEHOLDER = "__selftaught_body_{}__"
_INDENT = "    "


class Layout:
    """The original program's statements, by tree dump, with their source lines (read-only once built,
    so the replies of one request share it)."""

    def __init__(self, source: str, tree: ast.Module) -> None:
        self.source = source
        self.dump = ast.dump(tree)  # the whole tree's: a mutant equal to it changed nothing
        self.lines = source.split("\n")
        self.in_string = _string_continuation_lines(source)
        self.segments: dict[str, tuple[list[int], int]] = {}  # dump -> (line numbers, indent)
        self.leading: dict[str, list[str]] = {}  # statement identity -> blank and comment lines above it
        self.usable = True  # False when the source's statements could not be read: mutants are unparsed
        try:
            self._read(tree)
        except (ValueError, TypeError, AttributeError, RecursionError):
            self.usable = False

    def _read(self, tree: ast.Module) -> None:
        shared: set[str] = set()
        for body in _statement_lists(tree):
            previous_end = 0 if body is tree.body else None
            for index, stmt in enumerate(body):
                first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
                end = stmt.end_lineno or stmt.lineno
                sibling_end = body[index - 1].end_lineno if index else None
                if sibling_end is not None and sibling_end >= first:
                    shared.add(ast.dump(stmt))  # `a = 1; b = 2`: no line range of its own
                    shared.add(ast.dump(body[index - 1]))
                start = first
                if sibling_end is not None:
                    start = sibling_end + 1  # keep the comments and blank lines above it
                elif previous_end is not None:
                    start = 1  # the module's first statement keeps the header comments
                self.segments.setdefault(ast.dump(stmt), (list(range(start, end + 1)), stmt.col_offset))
                identity = _identity(stmt)
                if identity is not None and start < first:
                    above = [line.strip() for line in self.lines[start - 1 : first - 1]]
                    self.leading.setdefault(identity, above)
        for dump in shared:
            self.segments.pop(dump, None)

    def copy(self, stmt: ast.stmt, indent: str) -> list[str] | None:
        found = self.segments.get(ast.dump(stmt))
        if found is None:
            return None
        numbers, old_indent = found
        out: list[str] = []
        for number in numbers:
            line = self.lines[number - 1]
            if number in self.in_string:
                out.append(line)
            elif not line.strip():
                out.append("")
            else:
                head = line[:old_indent]
                stripped = (
                    line[old_indent:] if not head.strip() and len(head) == old_indent else line.lstrip()
                )
                out.append(indent + stripped)
        return out


def _identity(stmt: ast.stmt) -> str | None:
    """What a changed statement still is (the function `f`, the assignment to `x`), so it keeps the
    comments and blank lines that stood above it."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return f"def {stmt.name}"
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return f"{stmt.targets[0].id} ="
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return f"{stmt.target.id} ="
    return None


def _statement_lists(tree: ast.AST) -> list[list[ast.stmt]]:
    found: list[list[ast.stmt]] = []
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                found.append(value)
    return found


def _string_continuation_lines(source: str) -> set[int]:
    """Line numbers that begin inside a string literal (re-indenting them would change the string)."""
    lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                lines.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return lines


def _emit(stmts: list[ast.stmt], original: Layout, indent: str) -> list[str]:
    out: list[str] = []
    for stmt in stmts:
        copied = original.copy(stmt, indent)
        out.extend(copied if copied is not None else _emit_changed(stmt, original, indent))
    return out


def _emit_changed(stmt: ast.stmt, original: Layout, indent: str) -> list[str]:
    """A changed statement: fresh header, bodies written recursively (so unchanged inner statements
    keep their layout); a simple statement is unparsed."""
    bodies: list[list[ast.stmt]] = []
    shell = copy.copy(stmt)
    for name in _BODY_FIELDS:
        value = getattr(stmt, name, None)
        if not isinstance(value, list) or not value:
            continue
        if name == "handlers":
            handlers = []
            for handler in value:
                new_handler = copy.copy(handler)
                new_handler.body = [_placeholder(len(bodies))]
                bodies.append(handler.body)
                handlers.append(new_handler)
            setattr(shell, name, handlers)
        else:
            setattr(shell, name, [_placeholder(len(bodies))])
            bodies.append(value)
    text = ast.unparse(shell)
    identity = _identity(stmt)
    above = original.leading.get(identity, []) if identity is not None else []
    out: list[str] = [indent + line if line else "" for line in above]
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("__selftaught_body_") and stripped.endswith("__"):
            number = int(stripped.removeprefix("__selftaught_body_").removesuffix("__"))
            depth = line[: len(line) - len(line.lstrip())]
            out.extend(_emit(bodies[number], original, indent + depth))
        else:
            out.append(indent + line)
    return out


def _placeholder(number: int) -> ast.stmt:
    return ast.Expr(ast.Name(_PLACEHOLDER.format(number), ast.Load()))


def render_like(tree: ast.Module, layout: Layout, fallback: str = "") -> str | None:
    """Source for the mutant `tree` in the layout of the original program; None if the mutant cannot
    be written as source that compiles. `fallback` is `ast.unparse(tree)` when the caller has it and
    has checked that it compiles (the mutation engine has)."""
    if not fallback:
        try:
            fallback = ast.unparse(tree)
        except (ValueError, TypeError, AttributeError, RecursionError):
            return None
        expected = _dump(fallback)  # the tree as source can express it (Constant(-5) reads back as -5)
    else:
        expected = _dump(fallback, compiles=True)
    if expected is None:
        return None
    written: str | None = None
    if layout.usable:
        try:
            written = "\n".join(_emit(tree.body, layout, "")).strip("\n")
        except (ValueError, TypeError, AttributeError, RecursionError):
            written = None
    # Parsing to the fallback's exact tree is enough: whether a module compiles depends on its tree
    # alone, and the fallback's compiles.
    if written is not None and _dump(written, compiles=True) == expected:
        return written
    return fallback


def _dump(source: str, *, compiles: bool = False) -> str | None:
    """The tree dump of `source` if it compiles (`compiles`: already checked), else None."""
    try:
        parsed = pysource.parse(source, "<mutant>")  # depth-bounded, so ast.dump below cannot recurse too far
        if not compiles:
            pysource.check_compiles(source, "<mutant>")
    except pysource.SourceError:
        return None
    return ast.dump(parsed)
