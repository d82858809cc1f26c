"""Lists of plain numbers travel packed (a 1-D array tagged `list`) and arrive as the same list of Python
numbers; the decoder charges their items to its item cap and refuses any other shape of the tag. Large
arrays may travel as raw message bodies (`wire.Bodies`), each body usable by one array only."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selftaught.sandbox.inside import arrays, wire

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def same(a: list[object], b: list[object]) -> bool:
    """Equal item by item, with the exact type kept (NaN equal to NaN, -0.0 apart from 0.0)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) or math.isnan(y):
                if not (math.isnan(x) and math.isnan(y)):
                    return False
            elif x != y or math.copysign(1, x) != math.copysign(1, y):
                return False
        elif x != y and not (isinstance(x, complex) and repr(x) == repr(y)):
            return False
    return True


def packed(data: bytes) -> bool:
    return b'"list":true' in data


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(), min_size=arrays.PACKED_MIN, max_size=200)
    | st.lists(INT64, min_size=arrays.PACKED_MIN, max_size=200)
    | st.lists(st.complex_numbers(), min_size=arrays.PACKED_MIN, max_size=50)
)
def test_lists_of_one_kind_of_number_are_packed_and_come_back_exactly(items: list[object]) -> None:
    data = wire.dumps(items)
    assert packed(data)
    back = wire.loads(data)
    assert type(back) is list and same(back, items)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats() | st.integers() | st.booleans() | st.complex_numbers() | st.none(),
        min_size=0,
        max_size=40,
    )
)
def test_any_list_of_numbers_comes_back_with_every_items_type(items: list[object]) -> None:
    assert same(wire.loads(wire.dumps(items)), items)
    nested = {"rows": [items, (items,)], "deep": [[items]]}
    back = wire.loads(wire.dumps(nested))
    assert (
        same(back["rows"][0], items) and same(back["rows"][1][0], items) and same(back["deep"][0][0], items)
    )


@pytest.mark.parametrize(
    "items",
    [
        [True] * 10,  # bools are not ints here
        [1] * 9 + [2**63],  # beyond int64: JSON keeps it exact
        [1.0] * 9 + [1],  # mixed float and int
        [np.float64(1.0)] * 10,  # numpy scalars keep their own encoding
        [1.0] * (arrays.PACKED_MIN - 1),  # too short to be worth a tag
    ],
)
def test_what_is_not_one_kind_of_plain_number_stays_unpacked(items: list[object]) -> None:
    data = wire.dumps(items)
    assert not packed(data)
    back = wire.loads(data)
    assert [type(x) for x in back] == [type(x) for x in items] and back == items


def test_packing_starts_at_packed_min_numbers_in_a_list_or_in_each_row() -> None:
    """The edge of "worth a tag": PACKED_MIN numbers are packed, one fewer stay JSON, for a flat list
    and for the rows of a list of rows (each row then stays a list of its own)."""
    n = arrays.PACKED_MIN
    assert packed(wire.dumps([0.5] * n)) and not packed(wire.dumps([0.5] * (n - 1)))
    rows, short = [[0.5] * n, [1.5] * n], [[0.5] * (n - 1), [1.5] * (n - 1)]
    assert wire.dumps(rows).count(b'"list":true') == 1
    assert not packed(wire.dumps(short))
    assert wire.loads(wire.dumps(rows)) == rows and wire.loads(wire.dumps(short)) == short


def test_a_list_of_equal_rows_is_packed_whole_and_ragged_rows_one_by_one() -> None:
    rows = np.random.default_rng(0).random((100, 100)).tolist()
    data = wire.dumps({"L": rows})
    assert data.count(b'"list":true') == 1  # one 2-D array
    back = wire.loads(data)
    assert back == {"L": rows} and type(back["L"][3]) is list and type(back["L"][3][4]) is float
    ragged = [row[: 10 + i] for i, row in enumerate(rows[:5])]
    data = wire.dumps(ragged)
    assert data.count(b'"list":true') == 5 and wire.loads(data) == ragged
    mixed = [[1.0] * 9, [1] * 9]  # one float row, one int row: each keeps its type
    assert wire.loads(wire.dumps(mixed)) == mixed and type(wire.loads(wire.dumps(mixed))[1][0]) is int


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=6).flatmap(
        lambda n: (
            st.lists(
                st.lists(st.floats(), min_size=n + arrays.PACKED_MIN, max_size=n + arrays.PACKED_MIN),
                min_size=1,
                max_size=5,
            )
            | st.lists(
                st.lists(st.integers(), min_size=n + arrays.PACKED_MIN, max_size=n + arrays.PACKED_MIN),
                min_size=1,
                max_size=5,
            )
        )
    )
)
def test_rows_of_numbers_come_back_as_rows_of_the_same_numbers(rows: list[list[object]]) -> None:
    back = wire.loads(wire.dumps(rows))
    assert type(back) is list and len(back) == len(rows)
    assert all(type(b) is list and same(b, r) for b, r in zip(back, rows, strict=True))


def _tag(arr: np.ndarray, **extra: object) -> dict[str, object]:
    raw = np.ascontiguousarray(arr).tobytes()
    return {
        "__st__": "nd",
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(raw).decode(),
        **extra,
    }


def test_packed_items_count_against_the_item_cap() -> None:
    one = _tag(np.zeros(wire.MAX_ITEMS // 2, dtype=np.int64), list=True)
    fits = json.dumps([one]).encode()
    assert len(wire.loads(fits)[0]) == wire.MAX_ITEMS // 2
    over = json.dumps([one, one, one]).encode()  # each within the cap, together past it
    with pytest.raises(wire.WireError, match="items"):
        wire.loads(over)
    alone = json.dumps(_tag(np.zeros(wire.MAX_ITEMS + 1, dtype=np.int64), list=True)).encode()
    with pytest.raises(wire.WireError, match="items"):
        wire.loads(alone)


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 5), (4, 1)])
def test_a_packed_list_costs_its_numbers_plus_its_rows_exactly(
    shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item budget at its edge (with a small cap): a packed list costs one item per number, plus
    one per row for a list of rows, on top of the JSON text's own items. A message whose packed list
    takes exactly what the text leaves decodes; a cap one lower refuses it."""
    data = json.dumps({"v": _tag(np.zeros(shape, dtype=np.int64), list=True)}).encode()
    text_items = data.count(b",") + data.count(b"[") + data.count(b"{")
    cost = math.prod(shape) + (shape[0] if len(shape) == 2 else 0)
    monkeypatch.setattr(wire, "MAX_ITEMS", text_items + cost)
    assert wire.loads(data) == {"v": np.zeros(shape, dtype=np.int64).tolist()}
    monkeypatch.setattr(wire, "MAX_ITEMS", text_items + cost - 1)
    with pytest.raises(wire.WireError, match="items"):
        wire.loads(data)


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((3, 3, 3)),  # neither one- nor two-dimensional
        np.zeros(9, dtype=np.float32),  # not one of the packed dtypes
        np.zeros(9, dtype=">f8"),  # float64, but not in this machine's byte order
        np.zeros(9, dtype=np.int32),
        np.array(["a"] * 9),
    ],
)
def test_a_forged_packed_list_of_another_shape_or_dtype_is_refused(arr: np.ndarray) -> None:
    with pytest.raises(wire.WireError, match="packed list"):
        wire.loads(json.dumps(_tag(arr, list=True)).encode())
    assert isinstance(wire.loads(json.dumps(_tag(arr)).encode()), np.ndarray)  # control: the plain tag


def _split(value: object) -> tuple[bytes, list[bytes]]:
    bodies = wire.Bodies()
    return wire.dumps(value, bodies.hook), bodies.items


def test_large_arrays_and_packed_lists_travel_as_raw_bodies_and_come_back_the_same() -> None:
    rng = np.random.default_rng(1)
    value = {
        "image": rng.random((100, 100)),
        "spectrum": rng.random((64, 64)) + 1j * rng.random((64, 64)),
        "small": np.arange(3),  # under BODY_MIN: stays inline
        "rows": rng.random((3, 400)).tolist(),  # equal rows: one packed 2-D list, a body too
        "labels": np.array(["a", "bc"] * 200),
    }
    data, bodies = _split(value)
    assert len(bodies) == 4 and b'"b64"' in data  # the small array inline, the rest raw
    back = wire.loads(data, bodies=bodies)
    for key in ("image", "spectrum", "small", "labels"):
        assert back[key].dtype == value[key].dtype and np.array_equal(back[key], value[key])
    assert back["rows"] == value["rows"] and type(back["rows"][0][0]) is float
    back["image"][0, 0] = -1.0  # a writable copy, as a base64 array is
    assert bodies[0] == value["image"].tobytes()


def test_a_body_named_twice_or_out_of_range_is_refused() -> None:
    data, bodies = _split([np.zeros(1000)])
    twice = b"[" + data[1:-1] + b"," + data[1:-1] + b"]"  # the same body tag again
    assert twice.count(b'"body":0') == 2
    with pytest.raises(wire.WireError, match="used twice"):
        wire.loads(twice, bodies=bodies)
    for forged in (b'"body":1', b'"body":5', b'"body":-1', b'"body":"0"', b'"body":0.0', b'"body":true'):
        with pytest.raises(wire.WireError, match=r"^array body out of range$"):
            wire.loads(data.replace(b'"body":0', forged), bodies=bodies)
    with pytest.raises(wire.WireError, match=r"^array body out of range$"):
        wire.loads(data)  # no bodies given (the host's path)
    with pytest.raises(wire.WireError, match="size"):
        wire.loads(data, bodies=[bodies[0][:-8]])  # a body shorter than the shape says
    assert wire.loads(data, bodies=bodies)[0].shape == (1000,)  # control
