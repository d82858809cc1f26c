"""Red-team tests of the wire's raw bodies and packed lists (the evaluator-candidate socket, and every
value a sandboxed program returns to the host).

Broke when written: the values of a dict with keys other than strings (the `dict` tag) were decoded
without the message's bodies and without its item budget. So (1) a large array or a long list of
numbers under an int key could not cross the evaluator-candidate socket at all ("array body out of
range": an honest evaluator passing `{0: weights}` failed), and (2) packed lists under such keys were
not charged to the item cap, so a program's result could decode into more Python numbers than
`MAX_ITEMS` in the host. Fixed in `wire.decode`: the `dict` tag's values get the budget and bodies like
every other container's items.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selftaught.sandbox.inside import wire

from .wire_values import same

FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
SPECIAL = st.sampled_from([0.5, -0.0, 1e308, 5e-324, 3, -(2**63), 2**63 - 1, 2**64, True, 1 + 2j])


def _filled(n: int, kind: str, odd: object) -> list[Any]:
    """n numbers of one kind (cheap to generate at any length), the last replaced by `odd` (often
    another kind, a bool or an int past int64: then the list must stay unpacked and still come back)."""
    base: list[Any] = [i / 7 for i in range(n)] if kind == "float" else [i * 3 - n for i in range(n)]
    if base:
        base[-1] = odd
    return base


LONG = st.builds(_filled, st.integers(300, 400), st.sampled_from(["float", "int"]), SPECIAL)
ARRAYS = st.integers(300, 600).map(lambda n: np.arange(n, dtype=np.float64) / 7)
MATRICES = st.builds(
    lambda rows, width, kind, odd, where: [
        _filled(width, kind, odd if r == where else (0.25 if kind == "float" else 4)) for r in range(rows)
    ],
    st.integers(1, 3),
    st.integers(0, 300),
    st.sampled_from(["float", "int"]),
    SPECIAL,
    st.integers(0, 3),
)
LEAVES = st.one_of(
    LONG, ARRAYS, MATRICES, st.integers(), FLOATS, st.text(max_size=5), st.lists(FLOATS, max_size=4)
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(st.integers(-5, 5), children, max_size=3),  # the `dict` tag
        st.dictionaries(st.text(max_size=3), children, max_size=3),
        st.lists(children, max_size=3),
        st.tuples(children, children),
    )


VALUES = st.recursive(LEAVES, _containers, max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(VALUES)
def test_every_value_crosses_the_direct_socket_as_it_went(value: Any) -> None:
    """Honest control and attack surface at once: whatever nests where (equal rows of numbers packed
    as 2-D arrays included), a value encoded with raw bodies decodes to the same value, of the same
    types (each body taken by exactly one array), and so does the plain encoding."""
    bodies = wire.Bodies()
    data = wire.dumps(value, bodies.hook)
    assert same(wire.loads(data, bodies=bodies.items), value)
    assert same(wire.loads(wire.dumps(value)), value)


def test_a_forged_packed_matrix_of_empty_rows_is_charged_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2-D packed list of shape (n, 0) has no data, so a message of a few dozen bytes names n empty
    lists: each row is charged to the item cap, so past it the message is refused; the control, fewer
    rows than the cap, decodes to that many empty lists."""
    monkeypatch.setattr(wire, "MAX_ITEMS", 10_000)

    def forged(rows: int) -> bytes:
        return json.dumps(
            {wire.TAG: "nd", "dtype": "<f8", "shape": [rows, 0], "b64": "", "list": True}
        ).encode()

    with pytest.raises(wire.WireError, match="items"):
        wire.loads(forged(10_001))
    assert wire.loads(forged(9_000)) == [[]] * 9_000


def test_an_int_keyed_dict_of_a_large_array_and_a_long_list_crosses_with_raw_bodies() -> None:
    value = {0: np.arange(1000.0), 1: [0.5] * 300, "s": {2: (np.ones(400), [1.5] * 300)}}
    bodies = wire.Bodies()
    data = wire.dumps(value, bodies.hook)
    assert len(bodies.items) == 4  # every large one went raw, none stayed base64
    assert same(wire.loads(data, bodies=bodies.items), value)


@pytest.mark.parametrize("wrap", [lambda a, b: {1: a, 2: b}, lambda a, b: {1: {2: a}, (3,): [b]}])
def test_packed_lists_under_any_key_count_against_the_item_cap(
    wrap: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two packed lists of 0.6 x MAX_ITEMS numbers each, under int keys: over the cap together, so
    refused; the control, one of them alone, decodes. (The cap is lowered to 10,000 for speed: the
    rule is the same at any size.)"""
    monkeypatch.setattr(wire, "MAX_ITEMS", 10_000)
    many = [0.5] * (wire.MAX_ITEMS * 6 // 10)
    with pytest.raises(wire.WireError, match="items"):
        wire.loads(wire.dumps(wrap(many, many)))
    alone = wire.loads(wire.dumps({1: many}))
    assert len(alone[1]) == len(many)
