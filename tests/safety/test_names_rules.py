"""How the static scan resolves what a name refers to: import bindings, plain aliases, getattr chains,
dynamic imports, strict mode, and the chain-length limit, each with the exact dotted path expected."""

from __future__ import annotations

import ast

import pytest

from selftaught.detectors.names import MAX_CHAIN, ImportMap, constant_str, imported_module

MODULE = """\
import os.path
import numpy as np
import a.b as ab
from sys import _getframe as gf, modules
from . import rel
from .x import y
from os import *
gf2 = gf
np = 3
local = np.linalg
plain = something
alias = os.path.join
os = 5
first, second = gf, gf
chained = twice = sys.settrace
modules = os.path
holder.frame = gf
"""


def _map(source: str) -> ImportMap:
    return ImportMap(list(ast.walk(ast.parse(source))))


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def test_imports_and_plain_aliases_bind_these_names() -> None:
    # `import os.path` binds os; `as` binds the full path; relative and star imports bind nothing;
    # an alias needs a dotted value and never rebinds a name already bound (np = 3, os = 5, modules =
    # os.path); only names are bound (not holder.frame)
    assert _map(MODULE).names == {
        "ab": "a.b",
        "alias": "os.path.join",
        "chained": "sys.settrace",
        "twice": "sys.settrace",
        "gf": "sys._getframe",
        "gf2": "sys._getframe",
        "local": "numpy.linalg",
        "modules": "sys.modules",
        "np": "numpy",
        "os": "os",
    }


@pytest.mark.parametrize(
    ("text", "loose", "strict"),
    [
        ("np.linalg.norm", "numpy.linalg.norm", "numpy.linalg.norm"),
        ("ab.c", "a.b.c", "a.b.c"),
        ("gf", "sys._getframe", "sys._getframe"),
        ("getattr(os, 'environ')", "os.environ", "os.environ"),
        ("getattr(os, name)", None, None),
        ("getattr(os)", None, None),
        ("getattr(os, 'environ', None)", "os.environ", "os.environ"),  # with a default
        ("hasattr(os, 'environ')", None, None),  # only getattr names an attribute
        ("delattr(os, 'environ')", None, None),
        ("getattr(getattr(os, 'path'), 'join')", "os.path.join", "os.path.join"),
        ("getattr(unknown, 'x')", "unknown.x", None),
        ("__import__('ctypes').CDLL", "ctypes.CDLL", "ctypes.CDLL"),
        ("importlib.import_module('x').y", "x.y", "x.y"),
        ("x.y", "x.y", None),
        ("f().g", None, None),
        ("(1).real", None, None),
        ("unknown_local.attr", "unknown_local.attr", None),
    ],
)
def test_an_expression_resolves_to_this_dotted_path(text: str, loose: str | None, strict: str | None) -> None:
    imports = _map(MODULE)
    assert imports.dotted(_expr(text)) == loose
    assert imports.dotted(_expr(text), strict=True) == strict


def test_chains_longer_than_the_limit_are_not_resolved() -> None:
    assert MAX_CHAIN == 64
    imports = _map("")
    assert imports.dotted(_expr("a" + ".b" * MAX_CHAIN)) == "a" + ".b" * MAX_CHAIN
    assert imports.dotted(_expr("a" + ".b" * (MAX_CHAIN + 1))) is None

    def nested(depth: int) -> ast.expr:
        return _expr("getattr(" * depth + "os" + ", 'x')" * depth)

    assert imports.dotted(nested(MAX_CHAIN)) == "os" + ".x" * MAX_CHAIN
    assert imports.dotted(nested(MAX_CHAIN + 1)) is None


@pytest.mark.parametrize(
    ("text", "module"),
    [
        ("__import__('a')", "a"),
        ("builtins.__import__('b')", "b"),
        ("importlib.import_module('c')", "c"),
        ("importlib.__import__('d')", "d"),
        ("__import__('ctypes', None, None, ['CDLL'])", "ctypes"),  # the module is the first argument
        ("importlib.import_module('.sub', 'pkg')", ".sub"),
        ("__import__(name)", None),
        ("__import__()", None),
        ("f('x')", None),
        ("(lambda: 1)('x')", None),
        ("importlib.reload('e')", None),
    ],
)
def test_a_dynamic_import_names_its_module(text: str, module: str | None) -> None:
    call = _expr(text)
    assert isinstance(call, ast.Call)
    assert imported_module(call, _map("import importlib, builtins")) == module


def test_only_string_literals_are_constant_strings() -> None:
    assert constant_str(_expr("'s'")) == "s"
    assert constant_str(_expr("b's'")) is None and constant_str(_expr("3")) is None
    assert constant_str(_expr("f'{x}'")) is None
