"""`held_size` is what budgets in the host are charged with: it must never undercount what a decoded
value really holds, whatever shape a sandboxed program gives its output (no sandbox needed)."""

from __future__ import annotations

import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from selftaught.sandbox.held import Budget, held_size
from selftaught.sandbox.inside import wire

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=30)
        | st.dictionaries(st.text(max_size=10), inner, max_size=30)
        | st.dictionaries(st.integers(), inner, max_size=10)
        | st.frozensets(st.integers(), max_size=10)
    ),
    max_leaves=300,
)


def deep_size(value: object) -> int:
    """The reference: every object reachable from `value` (each once), by sys.getsizeof."""
    seen: set[int] = set()
    total, todo = 0, [value]
    while todo:
        item = todo.pop()
        if id(item) in seen or item is None or isinstance(item, bool):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
    return total


@settings(max_examples=100, deadline=None)
@given(values)
def test_held_size_never_undercounts_a_decoded_value(value: object) -> None:
    decoded = wire.loads(wire.dumps(value))
    assert held_size(decoded) >= deep_size(decoded)


def test_floats_are_counted_as_held_not_as_sent() -> None:
    data = wire.dumps([*(i + 0.5 for i in range(200_000)), 0])  # mixed: JSON numbers, not packed
    decoded = wire.loads(data)
    assert held_size(decoded) >= deep_size(decoded) > 3 * len(data)  # 32 bytes held a float, ~9 sent
    packed = wire.dumps([i + 0.5 for i in range(200_000)])  # 8 bytes a float, in base64
    assert b'"list":true' in packed
    decoded = wire.loads(packed)
    assert held_size(decoded) >= deep_size(decoded) > 2.5 * len(packed)
    array = wire.loads(wire.dumps(np.zeros(100_000)))
    assert held_size(array) >= 800_000


def test_a_budget_exchanges_encoded_for_decoded_bytes() -> None:
    budget = Budget(100)
    assert budget.reserve(60) and not budget.reserve(50)
    assert not budget.exchange(60, 120) and budget.held == 0  # neither kept when the decoded size is over
    assert budget.reserve(40) and budget.exchange(40, 90) and budget.held == 90
