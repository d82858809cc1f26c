"""Red team on packed lists (lists of one kind of plain number sent as arrays, their types checked with
`operator.countOf` since the rewrite) through the evaluator's proxy, both ways, on the real sandbox.

Values an honest evaluator or candidate may hand over whose items are almost, but not exactly, one kind
of plain number: bools among ints or floats, float and int subclasses (an IntEnum), numpy scalars of
several dtypes, ints at and past int64's edges, NaN, infinities and signed zeros, complex numbers with
NaN parts, rows of equal length but mixed kinds, a tuple or a number among rows, three levels of rows.
Each must arrive as a single process would hold it after plain data crossed: every item's type kept
(subclasses as their builtin base, as JSON gives them), every value exact. A lying metaclass (its
`__eq__` says its class is `float`) is checked apart (`tests/sandbox/test_redteam_packed_types.py`).
"""

from __future__ import annotations

import pytest
from oe_directory import LOAD_PROGRAM, run

from selftaught.sandbox import SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

VALUES = """
import enum
import math

import numpy as np


class Half(float):
    pass


class Kind(enum.IntEnum):
    A = 3


def values():
    return {
        'bools': [True, False] * 5,
        'float_then_bool': [1.0] * 9 + [True],
        'int_then_bool': [1] * 9 + [True],
        'bool_then_ints': [True] + [1] * 9,
        'float_subclass': [Half(1.5)] * 9,
        'floats_then_subclass': [0.5] * 8 + [Half(2.5)],
        'intenum': [Kind.A] * 9,
        'ints_then_intenum': [3] * 8 + [Kind.A],
        'np_float64': [np.float64(1.5)] * 9,
        'np_int64': [np.int64(-3)] * 9,
        'np_float32': [np.float32(0.25)] * 9,
        'np_bool': [np.bool_(True)] * 9,
        'floats_then_np': [0.5] * 8 + [np.float64(0.5)],
        'ints_then_np': [7] * 8 + [np.int64(7)],
        'int64_edges': [2**63 - 1, -(2**63)] * 5,
        'past_int64': [1] * 9 + [2**63],
        'below_int64': [-(2**63) - 1] + [1] * 9,
        'huge_ints': [2**100 + i for i in range(9)],
        'non_finite': [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, -1.0],
        'complex': [complex(math.nan, -0.0), 1j, complex(math.inf, 1)] * 3,
        'complex_then_float': [1j] * 8 + [1.0],
        'rows_mixed_kinds': [[1.0] * 8, [1] * 8],
        'rows_with_bool': [[1] * 8, [1] * 7 + [True]],
        'rows_then_tuple': [[1.0] * 8, (1.0,) * 8],
        'rows_ragged': [[1.0] * 8, [1.0] * 9],
        'rows_np': [[np.float64(1.0)] * 8] * 2,
        'rows_then_number': [[1.0] * 8, 1.0],
        'rows_of_subclass': [[0.5] * 8, [Half(0.5)] * 8],
        'three_levels': [[[0.5] * 8] * 8] * 2,
        'empty_rows': [[]] * 9,
        'exactly_min': [0.5] * 8,
        'one_short': [0.5] * 7,
        'nan_rows': [[math.nan] * 8, [-0.0] * 8],
    }


def plain(value):
    # What a value is after crossing as plain data: subclasses of builtin numbers as their base.
    if isinstance(value, (bool, np.generic)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    return value


def shape(value):
    # The types of a value, nested: what each process sees of it.
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [shape(item) for item in value]]
    if isinstance(value, np.generic):
        return value.dtype.str
    return type(value).__name__


def same(a, b):
    # Equal with the exact type kept: NaN equal to NaN, -0.0 apart from 0.0, numpy dtypes compared.
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and same(a.item(), b.item())
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b
"""

PROGRAM = (
    VALUES
    + """

def echo(value):
    return value, shape(value)


def make(name):
    return values()[name]
"""
)

EVALUATOR = (
    LOAD_PROGRAM
    + VALUES
    + """

def evaluate(program_path):
    module = load(program_path)
    wrong = []
    for name, value in values().items():
        expected = plain(value)
        back, seen_there = module.echo(value)
        if not same(back, expected):
            wrong.append(f'{name}: sent {value!r:.120} came back {back!r:.120}')
        if seen_there != shape(expected):
            wrong.append(f'{name}: the candidate saw {seen_there!r:.160}')
        made = module.make(name)
        if not same(made, expected):
            wrong.append(f'{name}: made there, arrived as {made!r:.120}')
    return {'combined_score': 1.0, 'wrong': ' | '.join(wrong) or 'none'}
"""
)


def test_almost_packable_lists_cross_both_ways_with_every_items_type(pool: SandboxPool) -> None:
    evaluation = run(PROGRAM, EVALUATOR, pool)
    assert evaluation.artifacts.get("metric:wrong") == "none", evaluation.artifacts
