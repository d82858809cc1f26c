"""The strict output validators: exact type family, length/shape, finiteness and value set."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.tasks import InvalidOutput, binary_vector, permutation, string_over

bits = st.sampled_from([0, 1, True, False, 0.0, 1.0, np.int64(1), np.float32(0.0), np.bool_(True)])


@given(st.lists(bits, min_size=1, max_size=40))
def test_binary_vector_accepts_any_zero_one_sequence_of_the_exact_length(values: list) -> None:
    out = binary_vector(values, len(values))
    assert out.dtype == np.int8
    assert out.tolist() == [int(v) for v in values]


@given(st.lists(bits, min_size=0, max_size=40), st.integers(0, 40))
def test_binary_vector_refuses_every_other_length(values: list, length: int) -> None:
    if len(values) == length:
        return
    with pytest.raises(InvalidOutput):
        binary_vector(values, length)


@given(
    hnp.arrays(
        np.int64,
        hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=25),
        elements=st.integers(0, 1),
    )
)
def test_binary_vector_refuses_arrays_that_would_broadcast(array: np.ndarray) -> None:
    with pytest.raises(InvalidOutput):
        binary_vector(array, array.size)


@pytest.mark.parametrize(
    "value",
    [
        [0, 1, 2],
        [0, 1, -1],
        [0, 0.5, 1],
        [0, 1, math.nan],
        [0, 1, math.inf],
        ["0", "1", "0"],
        "010",
        None,
        [[0], [1], [0]],
        [0, None, 1],
        np.array([0, 1, 0], dtype=object),
        np.array(["0", "1", "0"]),
        {0: 0, 1: 1, 2: 0},
        [0, 1, 10**400],
    ],
)
def test_binary_vector_refuses_malformed_values(value: object) -> None:
    with pytest.raises(InvalidOutput):
        binary_vector(value, 3)


@given(st.integers(1, 30), st.randoms(use_true_random=False))
def test_permutation_accepts_permutations_as_lists_and_arrays(n: int, rng) -> None:
    order = list(range(n))
    rng.shuffle(order)
    assert permutation(order, n).tolist() == order
    assert permutation(np.array(order, dtype=np.int32), n).tolist() == order
    assert permutation([np.int64(v) for v in order], n).tolist() == order


@pytest.mark.parametrize(
    "value",
    [
        [0, 0, 1],
        [0, 1],
        [0, 1, 2, 3],
        [0, 1, 3],
        [0.0, 1.0, 2.0],
        [True, False, 2],
        np.array([0.0, 1.0, 2.0]),
        np.array([[0, 1, 2]]),
        "012",
        None,
        [0, 1, -1],
    ],
)
def test_permutation_refuses_non_permutations(value: object) -> None:
    with pytest.raises(InvalidOutput):
        permutation(value, 3)


@settings(max_examples=50)
@given(st.text(alphabet="ABC", min_size=0, max_size=12), st.integers(0, 12))
def test_string_over_accepts_exactly_the_right_strings(text: str, length: int) -> None:
    valid = len(text) == length and set(text) <= {"A", "B"}
    if valid:
        assert string_over(text, length, "AB") == text
    else:
        with pytest.raises(InvalidOutput):
            string_over(text, length, "AB")


def test_string_over_refuses_non_strings() -> None:
    for value in (["A", "B"], b"AB", None, 12, np.array(["A", "B"])):
        with pytest.raises(InvalidOutput):
            string_over(value, 2, "AB")
