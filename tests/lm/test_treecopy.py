"""copy_tree is copy.deepcopy for syntax trees: the same tree, nothing shared with the original, and a
node reached twice copied once (the offline model's answers depend on all three)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest

from selftaught.lm.offline.treecopy import copy_tree

SOURCES = sorted((Path(__file__).resolve().parents[2] / "src" / "selftaught" / "lm" / "offline").glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_a_copy_is_the_same_tree_and_shares_nothing(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    copied = copy_tree(tree)
    assert ast.dump(copied, include_attributes=True) == ast.dump(tree, include_attributes=True)
    originals = {id(node) for node in ast.walk(tree)}
    assert not originals & {id(node) for node in ast.walk(copied)}
    for node in ast.walk(copied):  # changing the copy leaves the original as it was
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            node.value += 1
    assert ast.dump(tree) == ast.dump(ast.parse(path.read_text(encoding="utf-8")))


def test_a_node_reached_twice_is_shared_in_the_copy_as_deepcopy_shares_it() -> None:
    tree = ast.parse("x = 1\ny = 2\n")
    statement = tree.body[0]
    tree.body.append(statement)  # the same statement object twice (an operator may insert by reference)
    tree.body[1].value = ast.Constant(value=[1, 2])  # a mutable value in a field goes to deepcopy
    for copied in (copy_tree(tree), copy.deepcopy(tree)):
        assert copied.body[0] is copied.body[2] and copied.body[0] is not statement
        assert (
            copied.body[1].value.value == [1, 2]
            and copied.body[1].value.value is not tree.body[1].value.value
        )
