"""A list whose items' class lies about being `float` (its metaclass's `__eq__` says so) is checked for
packing by `operator.countOf(map(type, items), float)`, which compares with `==` after identity: such
items pass as floats and are packed by their `__float__`, where an exact type check (`is`) would refuse
them as unserializable. Kept as a strict expected failure: no hostile party can put such an object in a
value (the evaluator's and the host's values are their own, and a candidate's process encodes its own
results however it likes), and the exact check costs about twice the type count on every packed list a
candidate returns (its time, as the evaluator's clocks see it). If packing is made exact, this passes
and the mark must go."""

from __future__ import annotations

from typing import Any

import pytest

from selftaught.sandbox.inside import arrays, wire


class _SaysFloat(type):
    def __eq__(cls, other: object) -> bool:
        return True

    __hash__ = type.__hash__


class LooksLikeFloat(metaclass=_SaysFloat):
    def __float__(self) -> float:
        return 2.0


@pytest.mark.xfail(strict=True, reason="countOf compares types with ==; a lying metaclass passes")
@pytest.mark.parametrize(
    "items",
    [
        [1.0] + [LooksLikeFloat()] * 7,
        [[1.0] * 8, [1.0] * 7 + [LooksLikeFloat()]],
    ],
)
def test_an_item_whose_class_only_claims_to_be_float_is_not_packed(items: list[Any]) -> None:
    assert arrays.packed(items) is None
    with pytest.raises(wire.Unserializable):
        wire.dumps(items)


def test_a_list_of_exact_floats_beside_it_is_packed() -> None:
    """The control: the same shape of exact floats is packed and comes back as it went."""
    items = [1.0] + [2.0] * 7
    assert arrays.packed(items) is not None
    assert wire.loads(wire.dumps(items)) == items
