"""The parsed improver as the strategy rules read it: one walk of its syntax tree, indexed once.

Every rule asks the same questions (which identifiers contain a word, which loops call the LM, which
function a node sits in); answering them from one index built per improver keeps each rule short and
keeps a report of many improvers from walking every tree once per rule. Identifiers are split into
lowercase words (`best_score`, `bestScore` -> best, score) before matching.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

LM_METHODS = frozenset({"prompt", "batch_prompt"})


def words(identifier: str) -> list[str]:
    """`bestScore_v2` -> ["best", "score", "v2"]: snake_case and camelCase split into lowercase words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", identifier)
    return [part.lower() for part in re.split(r"[_\W]+", spaced) if part]


class ImproverCode:
    """The parsed improver plus the indexes the rules share (computed once)."""

    def __init__(self, source: str, tree: ast.Module) -> None:
        self.lines = source.splitlines()
        self.tree = tree
        self.nodes = list(ast.walk(tree))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.identifiers: list[tuple[str, ast.AST]] = []
        for node in self.nodes:
            for name in names_of(node):
                self.identifiers.append((name, node))
        self.lm_functions = self._lm_functions()

    def line(self, node: ast.AST) -> str:
        lineno = getattr(node, "lineno", 0)
        text = self.lines[lineno - 1].strip() if 0 < lineno <= len(self.lines) else ast.unparse(node)
        return f"L{lineno}: {text[:100]}"

    def loops(self) -> list[ast.AST]:
        return [node for node in self.nodes if isinstance(node, (ast.For, ast.While, ast.AsyncFor))]

    def inside_loop(self, node: ast.AST) -> bool:
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, (ast.For, ast.While, ast.AsyncFor, ast.comprehension)):
                return True
            if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
            current = self.parents.get(current)
        return False

    def function_of(self, node: ast.AST) -> ast.AST | None:
        """The innermost function (or lambda) containing `node`; None at module level."""
        current = self.parents.get(node)
        while current is not None and not isinstance(
            current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        ):
            current = self.parents.get(current)
        return current

    def word_hits(self, vocabulary: Iterable[str]) -> list[ast.AST]:
        wanted = set(vocabulary)
        return [node for name, node in self.identifiers if wanted & set(words(name))]

    def _lm_functions(self) -> set[str]:
        """Names of the module's functions that call the LM, directly or through each other."""
        bodies = {
            node.name: node
            for node in self.nodes
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        found = set(LM_METHODS)
        changed = True
        while changed:
            changed = False
            for name, body in bodies.items():
                if name not in found and any(called_name(call) in found for call in calls(body)):
                    found.add(name)
                    changed = True
        return found

    def calls_lm(self, node: ast.AST) -> bool:
        return any(called_name(call) in self.lm_functions for call in calls(node))


def names_of(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.asname or node.name]
    return []


def calls(node: ast.AST) -> list[ast.Call]:
    return [child for child in ast.walk(node) if isinstance(child, ast.Call)]


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None
