"""Finding the programs in a prompt, and writing one back inside a fence that survives extraction.

Prompts at the meta level embed an improver whose own source contains fenced blocks inside its prompt
string, so a regex over fences (as `helpers.extract_code` uses) cuts such a program into pieces. Here a
block is the longest span between an opening fence and a later closing fence that parses as Python,
which recovers the whole improver. On the way out, backtick runs inside string literals are written as
escapes (`\\x60`), so the reply's one fenced block is unambiguous for any extractor.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_OPEN = re.compile(r"^```[ \t]*[A-Za-z0-9_+-]*[^\n]*\n", re.MULTILINE)
_CLOSE = re.compile(r"^[ \t]*```", re.MULTILINE)
_SCORER_NAMES = frozenset({"utility", "meta_utility", "score", "secret_utility"})


@dataclass(frozen=True)
class CodeBlock:
    """A fenced span of the prompt that parses as a Python module."""

    source: str
    tree: ast.Module

    @property
    def function_names(self) -> set[str]:
        return {
            node.name for node in self.tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    @property
    def is_scorer(self) -> bool:
        """True for the utility description shown next to the program (not something to mutate)."""
        # Any block defining a scorer name is the description, even with helpers beside it
        # (str_grid_dist's utility text also defines grid_dist).
        return bool(self.function_names & _SCORER_NAMES)


def find_blocks(text: str) -> list[CodeBlock]:
    """All maximal parseable fenced blocks, left to right, non-overlapping."""
    closes = [match.start() for match in _CLOSE.finditer(text)]
    blocks: list[CodeBlock] = []
    consumed = 0
    for opening in _OPEN.finditer(text):
        if opening.start() < consumed:
            continue
        found = _longest_parse(text, opening.end(), [c for c in closes if c >= opening.end()])
        if found is not None:
            blocks.append(found[0])
            consumed = found[1] + 3
    return blocks


def _longest_parse(text: str, start: int, closes: list[int]) -> tuple[CodeBlock, int] | None:
    """Grow the span close by close, keeping the longest that parses. A syntax error that is not about
    an unfinished construct (an unterminated string or bracket) cannot be fixed by more text, so the
    search stops there: this keeps prompts with many fences linear instead of quadratic."""
    best: tuple[CodeBlock, int] | None = None
    for close in closes:
        source = text[start:close]
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            if not _unfinished(exc, source):
                break
            continue
        except (ValueError, RecursionError, MemoryError):
            break
        if tree.body:
            best = (CodeBlock(source.strip("\n"), tree), close)
    return best


def _unfinished(exc: SyntaxError, source: str) -> bool:
    message = str(exc.msg)
    if "unterminated" in message or "never closed" in message or "unexpected EOF" in message:
        return True
    return exc.lineno is None or exc.lineno >= source.count("\n")


def choose_target(blocks: list[CodeBlock]) -> tuple[CodeBlock | None, list[CodeBlock]]:
    """The program to mutate (the largest block that is not the scorer's description) and the other
    blocks that define some of the same functions (crossover partners)."""
    programs = [block for block in blocks if not block.is_scorer] or blocks
    if not programs:
        return None, []
    target = max(programs, key=lambda block: len(block.source))
    names = target.function_names
    partners = [
        block
        for block in programs
        if block is not target
        and block.source != target.source
        and (not names or names & block.function_names)
    ]
    return target, partners


def render(tree: ast.Module) -> str | None:
    """Source for `tree` with backtick runs in literals escaped; None if it does not compile."""
    try:
        source = ast.unparse(tree)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None
    if "```" not in source:
        return source if _compiles(source) else None
    escaped = source.replace("```", "\\x60\\x60\\x60")
    for candidate in (escaped, source):
        parsed = _parse(candidate)
        if parsed is not None and ast.dump(parsed) == ast.dump(ast.parse(source)) and _compiles(candidate):
            return candidate
    return None


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
