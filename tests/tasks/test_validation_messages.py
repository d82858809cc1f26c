"""The output checks' every branch with the exact words it refuses with (they reach run records and
`--verbose`), and the exact value and type it returns when it accepts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from selftaught.tasks import validation

CASES: list[tuple[str, tuple[Any, ...], tuple[str, Any]]] = [
    (
        "binary_vector",
        (np.array(1), 1),
        ("invalid", "output: expected a 1-D sequence of 1, got ndarray of shape () and dtype int64"),
    ),
    (
        "permutation",
        (np.array(1), 1),
        (
            "invalid",
            "assignment: expected a 1-D integer sequence of 1, got ndarray of shape () and dtype int64",
        ),
    ),
    (
        "binary_vector",
        (np.zeros((2, 2)), 4),
        ("invalid", "output: expected a 1-D sequence of 4, got ndarray of shape (2, 2) and dtype float64"),
    ),
    (
        "binary_vector",
        (np.array(["0", "1"]), 2),
        ("invalid", "output: expected numbers, got ndarray of shape (2,) and dtype <U1"),
    ),
    (
        "binary_vector",
        (np.array([0, 1], dtype=object), 2),
        ("invalid", "output: expected numbers, got ndarray of shape (2,) and dtype object"),
    ),
    (
        "binary_vector",
        (np.array([0j, 1j]), 2),
        ("invalid", "output: expected numbers, got ndarray of shape (2,) and dtype complex128"),
    ),
    (
        "binary_vector",
        ([0, "1"], 2, "predictions"),
        ("invalid", "predictions: expected numbers, found an element of type str of length 1"),
    ),
    (
        "binary_vector",
        ([0, None], 2),
        ("invalid", "output: expected numbers, found an element of type NoneType"),
    ),
    ("binary_vector", ([0, 10**400], 2), ("invalid", "output: a value does not fit a float")),
    ("binary_vector", ({0: 1}, 2), ("invalid", "output: expected a list or 1-D array of 2, got dict")),
    (
        "binary_vector",
        ("01", 2),
        ("invalid", "output: expected a list or 1-D array of 2, got str of length 2"),
    ),
    ("binary_vector", ([0, 1, 0], 2), ("invalid", "output: expected exactly 2 values, got 3")),
    ("binary_vector", (np.array([0, 1, 0]), 2), ("invalid", "output: expected exactly 2 values, got 3")),
    ("binary_vector", ([0, float("nan")], 2), ("invalid", "output: contains NaN or infinity")),
    ("binary_vector", ([0, 2], 2, "partition"), ("invalid", "partition: values must be 0 or 1")),
    ("binary_vector", ([], 0), ("ok", [])),
    (
        "binary_vector",
        ((True, np.bool_(False), np.int8(1), np.float32(0.0), np.uint8(1)), 5),
        ("ok", [1, 0, 1, 0, 1]),
    ),
    ("binary_vector", (np.array([True, False]), 2), ("ok", [1, 0])),
    ("binary_vector", (np.array([1, 0], dtype=np.uint16), 2), ("ok", [1, 0])),
    (
        "permutation",
        (np.array([0.0, 1.0]), 2),
        (
            "invalid",
            "assignment: expected a 1-D integer sequence of 2, got ndarray of shape (2,) and dtype float64",
        ),
    ),
    (
        "permutation",
        (np.array([[0, 1]]), 2),
        (
            "invalid",
            "assignment: expected a 1-D integer sequence of 2, got ndarray of shape (1, 2) and dtype int64",
        ),
    ),
    ("permutation", (np.array([1, 0], dtype=np.uint8), 2), ("ok", [1, 0])),
    (
        "permutation",
        (np.array([True, False]), 2),
        (
            "invalid",
            "assignment: expected a 1-D integer sequence of 2, got ndarray of shape (2,) and dtype bool",
        ),
    ),
    (
        "permutation",
        ([0, True], 2),
        ("invalid", "assignment: expected integers, found an element of type bool"),
    ),
    (
        "permutation",
        ([0, np.bool_(True)], 2),
        ("invalid", "assignment: expected integers, found an element of type bool"),
    ),
    (
        "permutation",
        ([0, 1.0], 2),
        ("invalid", "assignment: expected integers, found an element of type float"),
    ),
    (
        "permutation",
        ("01", 2),
        ("invalid", "assignment: expected a list or 1-D array of 2 integers, got str of length 2"),
    ),
    ("permutation", ((1, 0), 2), ("ok", [1, 0])),
    ("permutation", ([0, 1, 2], 2, "order"), ("invalid", "order: expected exactly 2 values, got 3")),
    ("permutation", ([1, 1], 2), ("invalid", "assignment: not a permutation of range(2)")),
    ("permutation", ([1, 0], 3), ("invalid", "assignment: expected exactly 3 values, got 2")),
    ("permutation", ([], 0), ("ok", [])),
    ("string_over", (b"AB", 2, "AB"), ("invalid", "output: expected a str, got bytes")),
    ("string_over", ("ABA", 2, "AB"), ("invalid", "output: expected a string of length 2, got 3")),
    ("string_over", ("AC", 2, "AB"), ("invalid", "output: characters must come from 'AB'")),
    ("string_over", ("", 0, "AB"), ("ok", "")),
    ("real_array", (np.array([[1, 2]], dtype=np.int32), (1, 2)), ("ok", [[1.0, 2.0]])),
    (
        "real_array",
        (np.array([True]), (1,)),
        ("invalid", "output: expected real numbers, got ndarray of shape (1,) and dtype bool"),
    ),
    (
        "real_array",
        (np.array([1j]), (1,)),
        ("invalid", "output: expected real numbers, got ndarray of shape (1,) and dtype complex128"),
    ),
    (
        "real_array",
        ({1: 2}, (1,), "centers"),
        ("invalid", "centers: expected an array of shape (1,), got dict"),
    ),
    ("real_array", ([[1.0, 2.0]], (2, 1)), ("invalid", "output: expected shape (2, 1), got (1, 2)")),
    ("real_array", ([[1.0, float("inf")]], (1, 2)), ("invalid", "output: contains NaN or infinity")),
    (
        "real_array",
        ([[1.0, True]], (1, 2)),
        ("invalid", "output: expected real numbers, found an element of type bool"),
    ),
    (
        "real_array",
        ([[1.0, "2"]], (1, 2)),
        ("invalid", "output: expected real numbers, found an element of type str of length 1"),
    ),
    (
        "real_array",
        ([[1.0, 2.0], 3.0], (2, 2)),
        ("invalid", "output: expected 2 levels of nesting, found float"),
    ),
    (
        "real_array",
        ([1.0, [2.0]], (2,)),
        ("invalid", "output: expected real numbers, found an element of type list of length 1"),
    ),
    ("real_array", ([[1.0], [2.0, 3.0]], (2, 2)), ("invalid", "output: rows of different lengths")),
    ("real_array", ([[1.0, 10**400]], (1, 2)), ("invalid", "output: a value does not fit a float")),
    ("real_array", (([np.float32(1.5), np.int64(2)],), (1, 2)), ("ok", [[1.5, 2.0]])),
    ("real_array", ([np.array([1.0, 2.0])], (1, 2)), ("ok", [[1.0, 2.0]])),
    ("real_array", ([], (0,)), ("ok", [])),
]


@pytest.mark.parametrize(("check", "args", "expected"), CASES)
def test_each_check_accepts_or_refuses_with_these_words(
    check: str, args: tuple[Any, ...], expected: tuple[str, Any]
) -> None:
    verdict, value = expected
    if verdict == "invalid":
        with pytest.raises(validation.InvalidOutput) as refused:
            getattr(validation, check)(*args)
        assert str(refused.value) == value
        return
    out = getattr(validation, check)(*args)
    assert (out.tolist() if isinstance(out, np.ndarray) else out) == value


def test_accepted_values_come_back_in_the_documented_types() -> None:
    assert validation.binary_vector([True, 0, 1.0], 3).dtype == np.int8
    assert validation.permutation(np.array([1, 0], dtype=np.uint8), 2).dtype == np.intp
    assert validation.real_array(np.array([1, 2], dtype=np.int16), (2,)).dtype == np.float64
    assert validation.real_array([[1, 2]], (1, 2)).dtype == np.float64
    text = "ABBA"
    assert validation.string_over(text, 4, "AB") is text


@pytest.mark.parametrize("n", [256, 257, 1000, 4099])
def test_long_values_are_accepted_like_short_ones(n: int) -> None:
    """Lengths are compared by value: a user task's permutation or string may be longer than the
    small integers CPython keeps one object of (-5..256)."""
    order = np.random.default_rng(n).permutation(n)
    assert validation.permutation(order.tolist(), n).tolist() == order.tolist()
    assert validation.permutation(order, n).tolist() == order.tolist()
    text = "".join(np.random.default_rng(n).choice(["A", "B"], n))
    assert validation.string_over(text, n, "AB") is text
    assert validation.binary_vector([c == "A" for c in text], n).sum() == text.count("A")


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (np.zeros((2, 3), dtype=np.int8), "ndarray of shape (2, 3) and dtype int8"),
        ([1, 2], "list of length 2"),
        ((1,), "tuple of length 1"),
        ("abc", "str of length 3"),
        (None, "NoneType"),
        (3.5, "float"),
        ({1: 2}, "dict"),
    ],
)
def test_untrusted_values_are_described_by_type_and_size_only(value: object, described: str) -> None:
    assert validation.describe(value) == described
