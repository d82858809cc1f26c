"""Plain data crosses the wire as it went: property tests of the round trip, other libraries' arrays,
refusals that name the element, and attacks on the new paths (each beside an honest control)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from selftaught.sandbox.inside import wire

from .wire_values import same, values


@settings(max_examples=300, deadline=None)
@given(values)
def test_every_supported_value_round_trips_exactly(value: Any) -> None:
    back = wire.loads(wire.dumps(value))
    assert same(back, value), (value, back)


def test_the_kinds_the_issue_names_come_back_as_they_went() -> None:
    value = (
        1,
        (2.5, ("nested", [3, (4,)])),
        {1: "int key", "s": "str key", (1, (2, "x")): "tuple key"},
        np.int64(7),
        np.float32(0.5),
        np.bool_(True),
        np.arange(6, dtype=np.int16).reshape(2, 3, 1),
        1 + 2j,
    )
    back = wire.loads(wire.dumps(value))
    assert same(back, value)
    assert type(back[1][1][1][1]) is tuple and type(back[3]) is np.int64 and back[6].shape == (2, 3, 1)


class ArrayLike:
    """Another library's array, by `__array__` (like jax.Array): arrives as a numpy array."""

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data


class InterfaceLike:
    """By the array interface only."""

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    @property
    def __array_interface__(self) -> dict[str, Any]:
        return self._data.__array_interface__


class DLPackLike:
    """By DLPack only (like a torch CPU tensor seen through `__dlpack__`)."""

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Any:
        return self._data.__dlpack_device__()


@pytest.mark.parametrize("kind", [ArrayLike, InterfaceLike, DLPackLike])
def test_other_libraries_arrays_arrive_as_numpy_arrays(kind: type) -> None:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    back = wire.loads(wire.dumps({"result": (kind(data), 1)}))
    arr = back["result"][0]
    assert type(arr) is np.ndarray and arr.dtype == np.float32 and arr.shape == (3, 4)
    assert np.array_equal(arr, data) and type(back["result"]) is tuple


def test_a_refusal_names_the_element_by_its_path() -> None:
    class Opaque:
        pass

    with pytest.raises(wire.Unserializable) as caught:
        wire.dumps((1, {"x": Opaque()}), root="result")
    assert str(caught.value) == f"unserializable: result[1]['x']: {Opaque.__module__}.{Opaque.__qualname__}"
    with pytest.raises(wire.Unserializable, match=r"^unserializable: value\[0\]\[2\]: object$"):
        wire.dumps([[1, 2, object()]])
    with pytest.raises(wire.Unserializable, match=r"^unserializable: object$"):  # the value itself: no path
        wire.dumps(object())
    with pytest.raises(wire.Unserializable, match=r"^unserializable: value\[\(1, 2\)\]: function$"):
        wire.dumps({(1, 2): lambda: 1})


# ---------------------------------------------------------------- attacks, each beside an honest control


class RecursiveArray:
    """`__array__` returns another object with `__array__` (numpy does not follow it)."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return RecursiveArray()


class RaisingArray:
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise RuntimeError("boom")


class ListArray:
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return [1, 2, 3]


class ObjectArray:
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return np.array([object()], dtype=object)


class LyingShape(DLPackLike):
    """Claims a huge shape by attribute; the DLPack capsule is what counts."""

    shape = (1 << 40, 1 << 40)
    ndim = 2


class BadDLPack:
    def __dlpack__(self, **kwargs: Any) -> Any:
        return 42

    def __dlpack_device__(self) -> Any:
        return (1, 0)


class SneakyGetattr:
    """Pretends through the instance's `__getattr__`: protocols are looked up on the type only."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"looked up {name} on the instance")


@pytest.mark.parametrize(
    "hostile", [RecursiveArray, RaisingArray, ListArray, ObjectArray, BadDLPack, SneakyGetattr]
)
def test_broken_array_likes_are_refused_by_name_and_an_honest_one_beside_them_crosses(hostile: type) -> None:
    with pytest.raises(wire.Unserializable, match=r"^unserializable: value\[1\]: "):
        wire.dumps([ArrayLike(np.ones(2)), hostile()])
    honest = wire.loads(wire.dumps([ArrayLike(np.ones(2)), 1]))
    assert np.array_equal(honest[0], np.ones(2))


def test_a_dlpack_object_lying_about_its_shape_gets_its_real_shape() -> None:
    back = wire.loads(wire.dumps(LyingShape(np.zeros((2, 3)))))
    assert back.shape == (2, 3)


def test_a_converted_array_is_a_copy_not_a_view_of_the_other_librarys_buffer() -> None:
    data = np.zeros(3)
    arr = wire._from_array_like(ArrayLike(data))
    assert arr is not None and not np.shares_memory(arr, data)


@pytest.mark.parametrize(
    "payload",
    [
        {"__st__": "tuple", "items": "abc"},
        {"__st__": "tuple"},
        {"__st__": "complex", "re": "1", "im": 0},
        {"__st__": "complex", "re": [1], "im": 0},
        {"__st__": "ref", "id": 1, "cls": "Solver"},  # no resolver here: a handle means nothing
        {"__st__": "dict", "items": [[[1, 2], 3]]},  # a list key (encode never sends one) is a tuple
        {
            "__st__": "dict",
            "items": [[{"__st__": "nd", "dtype": "<f8", "shape": [1], "b64": "AAAAAAAAAAA="}, 1]],
        },
    ],
)
def test_malformed_new_tags_are_refused_or_read_safely(payload: Any) -> None:
    data = json.dumps(payload).encode()
    try:
        back = wire.loads(data)
    except wire.WireError:
        return
    assert back == {(1, 2): 3}  # the one well-formed reading above


@pytest.mark.parametrize(
    ("ref", "ok"),
    [
        ({"id": 5, "cls": "Solver"}, True),
        ({"id": 5, "cls": "mod.Solver"}, True),
        ({"id": -1, "cls": "Solver"}, False),
        ({"id": 1 << 63, "cls": "Solver"}, False),
        ({"id": 5.0, "cls": "Solver"}, False),
        ({"id": True, "cls": "Solver"}, False),
        ({"id": 5, "cls": "a b"}, False),
        ({"id": 5, "cls": "x" * 300}, False),
        ({"id": 5, "cls": ["Solver"]}, False),
    ],
)
def test_handle_tags_are_checked_before_the_resolver_sees_them(ref: dict[str, Any], ok: bool) -> None:
    seen: list[wire.Ref] = []
    data = json.dumps({"__st__": "ref", **ref}).encode()
    if ok:
        wire.loads(data, refs=seen.append)
        assert seen == [wire.Ref(ref["id"], ref["cls"])]
    else:
        with pytest.raises(wire.WireError):
            wire.loads(data, refs=seen.append)
        assert not seen


def test_deep_and_huge_tuples_keep_the_old_bounds() -> None:
    deep: Any = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = (deep,)
    with pytest.raises(wire.Unserializable, match="nesting"):
        wire.dumps(deep)
    ok: Any = 1
    for _ in range(wire.MAX_DEPTH - 5):
        ok = (ok,)
    assert wire.loads(wire.dumps(ok)) == ok  # honest control: deep but within the bound
    crafted = b'{"__st__":"tuple","items":[' * 300 + b"1" + b"]}" * 300
    with pytest.raises(wire.WireError):
        wire.loads(crafted)
    many = b'{"__st__":"tuple","items":[' + b",".join([b"1"] * (wire.MAX_ITEMS + 1)) + b"]}"
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        wire.loads(many)
