"""The wire format: faithful values, hostile bytes refused, size caps enforced."""

from __future__ import annotations

import os

import numpy as np
import pytest

from selftaught.sandbox.inside import frames, wire


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -(2**70),
        1.5,
        float("inf"),
        "text",
        [1, [2, [3]]],
        {"a": [1, 2]},
        {1: "int key", (2, 3): "tuple key"},
        {"__st__": "looks like a tag"},
        {1, 2, 3},
        b"\x00bytes",
        np.arange(6, dtype=np.int16).reshape(3, 2, 1),
        np.zeros((5, 1)),
        np.array(["ab", "c"]),
        np.array(3.5),
        np.ones((0, 4), dtype=np.float32),
    ],
)
def test_round_trip(value: object) -> None:
    back = wire.loads(wire.dumps(value))
    if isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray)
        assert back.shape == value.shape and back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value


def test_tuples_stay_tuples_and_numpy_scalars_keep_their_dtype() -> None:
    back = wire.loads(wire.dumps((1, (2, [3, (4,)]))))
    assert back == (1, (2, [3, (4,)])) and type(back[1][1]) is list and type(back[1][1][1]) is tuple
    back = wire.loads(wire.dumps([np.int64(4), np.float32(0.25), np.bool_(True), 3, 1.5, True]))
    assert [type(item) for item in back] == [np.int64, np.float32, np.bool_, int, float, bool]
    assert back == [4, 0.25, True, 3, 1.5, True]


@pytest.mark.parametrize("value", [object(), lambda: 1, np.array([object()]), [[[]]] * 0 + [open]])
def test_unserializable_values_are_named(value: object) -> None:
    with pytest.raises(wire.Unserializable, match="unserializable"):
        wire.dumps(value)


def test_cycles_and_deep_nesting_are_refused() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(wire.Unserializable):
        wire.dumps(loop)
    with pytest.raises(wire.WireError):
        wire.loads(b"[" * 100000 + b"]" * 100000)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"__st__": "nd", "dtype": "|O", "shape": [1], "b64": ""}',
        b'{"__st__": "nd", "dtype": "<f8", "shape": [4], "b64": "AAAA"}',
        b'{"__st__": "nd", "dtype": "<f8", "shape": [1], "file": "../../etc/passwd"}',
        b'{"__st__": "pickle", "data": ""}',
        b"not json",
    ],
)
def test_hostile_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.loads(payload, shared_dir="/tmp")


def test_frame_caps_are_enforced_before_reading() -> None:
    r, w = os.pipe()
    try:
        os.write(w, (1 << 30).to_bytes(4, "big"))
        with pytest.raises(wire.WireError, match="exceeds the cap"):
            frames.read_frame(r, 1 << 20)
    finally:
        os.close(r)
        os.close(w)
    reader = frames.FrameReader(cap=16)
    reader.feed((100).to_bytes(4, "big"))
    with pytest.raises(wire.WireError):
        reader.messages()


def test_incremental_reader_reassembles_messages() -> None:
    data = frames.pack_message({"op": "x"}, [b"one", b"two"]) + frames.pack_message({"op": "y"})
    reader = frames.FrameReader(cap=1024)
    got = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
        got.extend(reader.messages())
    assert got == [({"op": "x", "nb": 2}, [b"one", b"two"]), ({"op": "y"}, [])]
