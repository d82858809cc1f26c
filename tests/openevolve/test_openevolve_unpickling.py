"""The evaluator's data-only unpickler and command parser (pure functions of the sandbox-side module).

The pickle an OpenEvolve evaluator reads back is written by the candidate's process, so unpickling it
must build plain data and nothing else: these tests run the unpickler in the test process on pickles
made by the real `pickle` module.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.sandbox.inside.openevolve._selftaught_popen import DataUnpickler, parse_command


def load(data: bytes) -> Any:
    return DataUnpickler(io.BytesIO(data)).load()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)
arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_, np.uint8, np.complex128]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
)
values = st.recursive(
    st.one_of(scalars, arrays),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and (a == b or a != a)


@settings(max_examples=150, deadline=None)
@given(value=values, protocol=st.integers(min_value=2, max_value=pickle.HIGHEST_PROTOCOL))
def test_plain_data_and_numpy_arrays_round_trip(value: Any, protocol: int) -> None:
    assert same(load(pickle.dumps(value, protocol=protocol)), value)


def test_numpy_scalars_sets_and_complex_round_trip() -> None:
    value = {"sum": np.float64(0.95), "n": np.int64(26), "ok": np.bool_(True), "s": {1, 2}, "z": 1 + 2j}
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        loaded = load(pickle.dumps(value, protocol=protocol))
        assert loaded == value and type(loaded["sum"]) is np.float64


class RunsCode:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned",))


class Evals:
    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, ("__import__('sys').modules",))


class Custom:
    pass


@pytest.mark.parametrize(
    ("value", "name"),  # each would run code (or build an arbitrary object) when unpickled
    [
        (RunsCode(), "posix.system"),
        ({"centres": [1.0], "radii": Evals()}, "builtins.eval"),
        (np.array([Evals()], dtype=object), "builtins.eval"),
        (Custom(), "Custom"),
    ],
)
def test_pickles_that_would_run_code_or_build_objects_are_refused(value: Any, name: str) -> None:
    data = pickle.dumps(value)
    with pytest.raises(pickle.UnpicklingError, match=f"refused to unpickle .*{name}"):
        load(data)


def test_only_python_files_and_code_can_be_started() -> None:
    import sys

    assert parse_command([sys.executable, "/w/tmp/x.py", "a"], False) == (None, "/w/tmp/x.py", ["a"])
    assert parse_command(["python3", "-u", "-c", "print(1)", "b"], False) == ("print(1)", None, ["b"])
    assert parse_command(f"{sys.executable} run.py --n 3", True) == (None, "run.py", ["--n", "3"])
    for command in (["bash", "-c", "id"], ["/bin/sh"], ["python", "-m", "http.server"], []):
        with pytest.raises(PermissionError, match="selftaught"):
            parse_command(command, False)
