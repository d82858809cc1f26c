"""Strict checks that turn an untrusted program output into a clean numpy value, or refuse it.

Outputs come back from the sandbox as JSON values or numpy arrays, produced by code we do not trust.
The paper's reward hack was numpy broadcasting: predictions of another shape compared element-wise
against the labels gave "accuracy" far above 100%. So every check here demands the exact type family,
the exact length or shape, finite values and the allowed value set, and raises `InvalidOutput` with a
short reason otherwise. Scorers (built-in and user ones) call these and let `Task` map the exception to
the task's failure value; the reason is kept for `--verbose` and for the run store.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_NUMBER_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
_INTEGER_SCALARS = (int, np.integer)


class InvalidOutput(ValueError):
    """The program's output is malformed for the task; it scores the task's failure value."""


def describe(value: Any) -> str:
    """A short, safe description of an untrusted value for error messages (never its full repr)."""
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, str):
        return f"str of length {len(value)}"
    return type(value).__name__


def _as_flat_array(value: Any, length: int, what: str) -> np.ndarray:
    """A 1-D float64 array of exactly `length` numeric, finite entries (no nesting, no strings)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise InvalidOutput(f"{what}: expected a 1-D sequence of {length}, got {describe(value)}")
        if value.dtype.kind not in "biuf":
            raise InvalidOutput(f"{what}: expected numbers, got {describe(value)}")
        array = value.astype(np.float64, copy=False)
    elif isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item, _NUMBER_SCALARS):
                raise InvalidOutput(f"{what}: expected numbers, found an element of type {describe(item)}")
        try:
            array = np.array([float(item) for item in value], dtype=np.float64)
        except OverflowError:
            raise InvalidOutput(f"{what}: a value does not fit a float") from None
    else:
        raise InvalidOutput(f"{what}: expected a list or 1-D array of {length}, got {describe(value)}")
    if array.shape != (length,):
        raise InvalidOutput(f"{what}: expected exactly {length} values, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise InvalidOutput(f"{what}: contains NaN or infinity")
    return array


def binary_vector(value: Any, length: int, what: str = "output") -> np.ndarray:
    """Exactly `length` values that are each 0 or 1 (bools, ints, or floats equal to 0.0/1.0).

    Booleans are accepted on purpose: `True`/`False` are the natural 0/1 of Python and numpy, and the
    original tasks compare with `==`, where `True == 1`. Anything else (2, -1, 0.5, "1") is refused.
    Returns an int8 array.
    """
    array = _as_flat_array(value, length, what)
    if not np.isin(array, (0.0, 1.0)).all():
        raise InvalidOutput(f"{what}: values must be 0 or 1")
    return array.astype(np.int8)


def permutation(value: Any, n: int, what: str = "assignment") -> np.ndarray:
    """A permutation of range(n) given as integers (Python or numpy ints; bools and floats refused).

    Bools are refused here, unlike in `binary_vector`: as indices `True`/`False` are almost surely a
    bug, and accepting them would let a 0/1 vector pass as a partial permutation for n = 2.
    """
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            raise InvalidOutput(f"{what}: expected a 1-D integer sequence of {n}, got {describe(value)}")
        items = value.tolist()
    elif isinstance(value, list | tuple):
        items = list(value)
        for item in items:
            if isinstance(item, bool | np.bool_) or not isinstance(item, _INTEGER_SCALARS):
                raise InvalidOutput(f"{what}: expected integers, found an element of type {describe(item)}")
    else:
        raise InvalidOutput(f"{what}: expected a list or 1-D array of {n} integers, got {describe(value)}")
    if len(items) != n:
        raise InvalidOutput(f"{what}: expected exactly {n} values, got {len(items)}")
    ints = [int(item) for item in items]
    if sorted(ints) != list(range(n)):
        raise InvalidOutput(f"{what}: not a permutation of range({n})")
    return np.array(ints, dtype=np.intp)


def string_over(value: Any, length: int, alphabet: str, what: str = "output") -> str:
    """A `str` of exactly `length` characters, each from `alphabet`."""
    if not isinstance(value, str):
        raise InvalidOutput(f"{what}: expected a str, got {describe(value)}")
    if len(value) != length:
        raise InvalidOutput(f"{what}: expected a string of length {length}, got {len(value)}")
    if not set(value) <= set(alphabet):
        raise InvalidOutput(f"{what}: characters must come from {alphabet!r}")
    return value


def real_array(value: Any, shape: tuple[int, ...], what: str = "output") -> np.ndarray:
    """A float64 array of exactly `shape`, every entry a finite real number.

    Accepts a numpy array of a real dtype (ints or floats; not bool, complex or object) or nested
    lists/tuples of Python/numpy numbers. The shape must match exactly: `(n, 1)` is not `(n,)`, because
    broadcasting such a shape is how malformed outputs used to pass as valid.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise InvalidOutput(f"{what}: expected real numbers, got {describe(value)}")
        array = value.astype(np.float64, copy=False)
    elif isinstance(value, list | tuple):
        array = _nested_floats(value, len(shape), what)
    else:
        raise InvalidOutput(f"{what}: expected an array of shape {shape}, got {describe(value)}")
    if array.shape != shape:
        raise InvalidOutput(f"{what}: expected shape {shape}, got {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidOutput(f"{what}: contains NaN or infinity")
    return array


def _nested_floats(value: list[Any] | tuple[Any, ...], depth: int, what: str) -> np.ndarray:
    """Nested lists of exactly `depth` levels whose leaves are real numbers (bools refused)."""

    def leaves(item: Any, level: int) -> Any:
        if level == depth:
            if isinstance(item, bool | np.bool_) or not isinstance(
                item, int | float | np.integer | np.floating
            ):
                raise InvalidOutput(
                    f"{what}: expected real numbers, found an element of type {describe(item)}"
                )
            try:
                return float(item)
            except OverflowError:
                raise InvalidOutput(f"{what}: a value does not fit a float") from None
        if not isinstance(item, list | tuple | np.ndarray):
            raise InvalidOutput(f"{what}: expected {depth} levels of nesting, found {describe(item)}")
        return [leaves(inner, level + 1) for inner in item]

    rows = leaves(value, 0)  # InvalidOutput is a ValueError: raise it before the ragged-rows check
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:  # ragged rows
        raise InvalidOutput(f"{what}: rows of different lengths") from None
