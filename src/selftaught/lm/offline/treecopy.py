"""A faster `copy.deepcopy` for syntax trees: the offline model copies the program's tree before every
operator it tries, and `copy.deepcopy` (pickle's protocol, one memo lookup per object) was the largest
part of the host's CPU in the main job.

The copy is the same as `copy.deepcopy`'s for a tree of `ast` nodes and lists holding immutable leaves
(names, numbers, strings, tuples of constants): every node and list is new, and a node or list reached
twice is copied once and shared again in the copy, as deepcopy's memo does. Anything else (a mutable
value an operator might have put in a field) goes to `copy.deepcopy` with the same memo.
"""

from __future__ import annotations

import ast
import copy
from typing import Any, TypeVar

_Tree = TypeVar("_Tree", bound=ast.AST)
_IMMUTABLE = (str, int, float, complex, bytes, bool, type(None), type(...))


def copy_tree(tree: _Tree) -> _Tree:
    """A deep copy of `tree` (see the module docstring)."""
    copied: _Tree = _copy(tree, {})
    return copied


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    known = memo.get(id(value))
    if known is not None:
        return known
    if isinstance(value, ast.AST):
        cls = value.__class__
        new = cls.__new__(cls)
        memo[id(value)] = new
        fields = new.__dict__
        for name, item in value.__dict__.items():
            fields[name] = _copy(item, memo)
        return new
    if type(value) is list:
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(_copy(item, memo) for item in value)
        return items
    return copy.deepcopy(value, memo)
