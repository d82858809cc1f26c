"""Finding the programs in a prompt: its fenced blocks that parse, read by the same extractor improvers
use (`selftaught.codetext.reply_code`), so an improver whose prompt strings hold fences is recovered
whole; and telling the program to improve from the scorer's description."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from selftaught.codetext.reply_code import code_blocks, parse_module

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
    """The prompt's fenced blocks that parse as Python, left to right (read by the one extractor)."""
    blocks: list[CodeBlock] = []
    for source in code_blocks(text):
        tree = _parse(source)
        if tree is not None and tree.body:
            blocks.append(CodeBlock(source, tree))
    return blocks


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


def _parse(source: str) -> ast.Module | None:
    return parse_module(source)
