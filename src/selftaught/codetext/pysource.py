"""Parsing generated Python source on the host: the one guarded parse every layer uses.

Generated text is hostile, and CPython's parser and compiler fail on some valid-looking inputs in ways
that are not SyntaxError: a flat sum of 5,000 terms makes `ast.parse` raise RecursionError (its AST is
5,000 levels deep), deep nesting raises MemoryError or SystemError, NUL bytes raise ValueError, and
3.11's parser is not safe to call from several threads at once. Any of those escaping a check would fail
a whole run for one program a model wrote. Here every failure becomes `SourceError` (a SyntaxError, so
callers that already report syntax errors report these too), inputs are bounded before parsing (size)
and after (tree depth, so recursive walkers downstream never meet a tree deeper than `MAX_TREE_DEPTH`).

Stdlib only, like the rest of `codetext` (the sandbox mounts it beside `inside/`).
"""

from __future__ import annotations

import ast
import threading

# CPython 3.11's parser is not safe to call from several threads at once (its AST conversion shares a
# recursion counter and can raise SystemError): every parse and compile of generated text holds this.
PARSE_LOCK = threading.Lock()
MAX_SOURCE_CHARS = 2_000_000  # larger generated sources are refused unparsed (an AST costs ~100x)
MAX_TREE_DEPTH = (
    200  # honest programs stay far below; ast.unparse recurses ~3 frames a level (fails near 330)
)
_FAILURES = (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError, SystemError)


class SourceError(SyntaxError):
    """`source` cannot be parsed or compiled; `msg` says why in one line (lineno when known).

    `exceeded` is True when a bound stopped it (size, depth, recursion, memory) rather than a mistake
    in the text: scanners may want to say that something was too big to look at.
    """

    exceeded = False


def _exceeded(why: str, filename: str) -> SourceError:
    error = SourceError(why, (filename, None, None, None))
    error.exceeded = True
    return error


def parse(
    source: str,
    filename: str = "<program>",
    *,
    limit: int = MAX_SOURCE_CHARS,
    max_depth: int | None = MAX_TREE_DEPTH,
) -> ast.Module:
    """`ast.parse(source)` bounded and guarded: the module, or SourceError (never anything else).

    `max_depth=None` for scanners that walk the tree without recursion and describe deep nodes with
    `shown_node` (a hostile program must not hide from them behind one deep expression).
    """
    _check_size(source, limit)
    try:
        with PARSE_LOCK:
            tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise SourceError(exc.msg, (filename, exc.lineno, exc.offset, exc.text)) from None
    except _FAILURES as exc:
        raise _failure(exc, filename) from None
    if max_depth is not None and (deepest := tree_depth(tree)) > max_depth:
        raise _exceeded(f"nested too deeply to analyse ({deepest} levels; at most {max_depth})", filename)
    return tree


def parse_or_none(
    source: str,
    filename: str = "<program>",
    *,
    limit: int = MAX_SOURCE_CHARS,
    max_depth: int | None = MAX_TREE_DEPTH,
) -> ast.Module | None:
    """The module, or None when `source` does not parse (for checks that only ask "is this Python?")."""
    try:
        return parse(source, filename, limit=limit, max_depth=max_depth)
    except SourceError:
        return None


def shown_node(node: ast.AST, limit: int = 120) -> str:
    """Source text of `node` cut to `limit` characters, or a description when it is too deep to
    unparse (ast.unparse recurses)."""
    if tree_depth(node) > MAX_TREE_DEPTH:
        return f"<expression nested over {MAX_TREE_DEPTH} deep, line {getattr(node, 'lineno', 0)}>"
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, TypeError, AttributeError):
        return f"<expression at line {getattr(node, 'lineno', 0)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_compiles(source: str, filename: str = "<program>", *, limit: int = MAX_SOURCE_CHARS) -> None:
    """Raise SourceError unless `source` compiles (the compiler fails on some trees the parser takes)."""
    _check_size(source, limit)
    try:
        with PARSE_LOCK:
            compile(source, filename, "exec")
    except SyntaxError as exc:
        raise SourceError(exc.msg, (filename, exc.lineno, exc.offset, exc.text)) from None
    except _FAILURES as exc:
        raise _failure(exc, filename) from None


def describe(exc: SyntaxError) -> str:
    """One line for a SourceError (or any SyntaxError): "syntax error at line N: ..." or the reason."""
    if exc.lineno:
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    return f"cannot be parsed: {exc.msg}"


def tree_depth(tree: ast.AST) -> int:
    """The depth of `tree`, walked without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check_size(source: str, limit: int) -> None:
    if not isinstance(source, str):
        raise SourceError(f"not text: {type(source).__name__}", ("<program>", None, None, None))
    if len(source) > limit:
        raise _exceeded(f"too large to parse ({len(source)} characters; at most {limit})", "<program>")


def _failure(exc: BaseException, filename: str) -> SourceError:
    if isinstance(exc, RecursionError):
        return _exceeded("nested too deeply to parse (RecursionError)", filename)
    if isinstance(exc, MemoryError):
        return _exceeded("too large or deep to parse (MemoryError)", filename)
    if isinstance(exc, ValueError) and "null" in str(exc).lower():
        return SourceError("source contains NUL bytes", (filename, None, None, None))
    return SourceError(f"{type(exc).__name__}: {str(exc)[:200]}", (filename, None, None, None))
