"""The one bounded decoder, fuzzed: whatever bytes arrive, the result is a value or a `WireError`.

Both sides of the boundary read these bytes: the host decodes outputs and remote-call arguments with
`wire.loads`, the zygote parses every child frame with `FrameReader`. Neither may raise anything else,
and neither may hand on text the host cannot encode.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from property_runs import check_property, quick_and_broad
from selftaught.sandbox.inside import frames, wire

# The two broad hypothesis searches below cost seconds (large examples through the real decoder): a quick
# search of each runs in the fast suite, the broad one is marked slow (`property_runs`).

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=20),
)
json_values = st.recursive(
    json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=5), st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=30,
)
tagged = st.fixed_dictionaries(
    {"__st__": st.sampled_from(["nd", "dict", "set", "bytes", "proxy", "pickle"])},
    optional={
        "dtype": st.one_of(
            st.sampled_from(["<f8", "<i4", "|b1", "<U3", "|O", "V8", "(2,)i4", "<M8"]), json_values
        ),
        "shape": st.one_of(
            st.lists(st.one_of(st.integers(-2, 2**50), st.floats(), st.booleans()), max_size=40), json_values
        ),
        "b64": st.one_of(st.sampled_from(["", "AAAA", "AAAAAAAAAAA=", "!!"]), json_values),
        "file": st.one_of(st.sampled_from(["x", "../x", ".h"]), json_values),
        "items": json_values,
        "scalar": st.booleans(),
        "name": json_values,
    },
)


def _must_decode_or_refuse(data: bytes) -> None:
    try:
        value = wire.loads(data)
    except wire.WireError:
        return
    # Whatever came back must be text the host can store and print.
    json.dumps(_plain(value), ensure_ascii=False).encode("utf-8")


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray | np.generic):
        return repr(value.tolist()) if np.ndim(value) else repr(value)
    if isinstance(value, dict):
        return [[_plain(k), _plain(v)] for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_refuse(data: bytes) -> None:
    _must_decode_or_refuse(data)


@quick_and_broad(60, 400)
def test_arbitrary_json_and_tags_decode_or_refuse(examples: int) -> None:
    @check_property(
        examples,
        st.one_of(
            json_values,
            tagged,
            st.lists(tagged, max_size=3),
            st.dictionaries(st.text(max_size=3), tagged, max_size=3),
        ),
    )
    def decodes_or_refuses(value: object) -> None:
        _must_decode_or_refuse(json.dumps(value).encode())


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"__st__": "nd", "dtype": "<f8", "shape": [Infinity], "b64": ""}', "shape"),
        (b'{"__st__": "nd", "dtype": "<f8", "shape": [NaN], "b64": ""}', "shape"),
        (b'{"__st__": "nd", "dtype": "<f8", "shape": [1e300], "b64": ""}', "shape"),
        (b'{"__st__": "nd", "dtype": "<f8", "shape": [true], "b64": "AAAAAAAAAAA="}', "shape"),
        (b'{"__st__": "nd", "dtype": "<f8", "shape": 3, "b64": ""}', "shape"),
        (b'{"__st__": "nd", "dtype": ["<f8"], "shape": [1], "b64": ""}', "dtype"),
        (b'"\\udc80"', "surrogate"),
        (b'{"\\ud800": 1}', "surrogate"),
        (b"[" + b"1," * 3_000_000 + b"1]", "exceeds the cap"),
    ],
)
def test_named_refusals(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason):
        wire.loads(payload)


def _frames(pieces: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in pieces)


@quick_and_broad(50, 300)
def test_frame_reader_yields_messages_or_wire_errors(examples: int) -> None:
    """The zygote's incremental reader, fed in arbitrary chunks: messages, or WireError, never another error."""

    @check_property(
        examples,
        st.lists(
            st.one_of(st.binary(max_size=40), json_values.map(lambda v: json.dumps(v).encode())), max_size=6
        ),
        st.binary(max_size=20),
        st.integers(1, 50),
    )
    def reads_messages_or_refuses(pieces: list[bytes], tail: bytes, chunk: int) -> None:
        data = _frames(pieces) + tail
        reader = frames.FrameReader(cap=4096, header_cap=256)
        try:
            for start in range(0, len(data), chunk):
                reader.feed(data[start : start + chunk])
                for header, bodies in reader.messages():
                    assert isinstance(header, dict) and all(isinstance(b, bytes) for b in bodies)
                assert reader.buffered <= 4096 + 4 + chunk
        except wire.WireError:
            pass


def test_one_message_may_not_exceed_the_cap_however_it_is_split() -> None:
    """Many small bodies add up: the reader refuses the message once the total passes the cap."""
    reader = frames.FrameReader(cap=1000, header_cap=100)
    reader.feed(_frames([b'{"t": "rpc", "nb": 100}'] + [b"x" * 50] * 100))
    with pytest.raises(wire.WireError, match="message of"):
        reader.messages()


def test_header_cap_is_separate_from_the_message_cap() -> None:
    reader = frames.FrameReader(cap=1 << 20, header_cap=1 << 10)
    reader.feed(_frames([json.dumps({"t": "event", "detail": "x" * 5000}).encode()]))
    with pytest.raises(wire.WireError, match="header of"):
        reader.messages()


@pytest.mark.parametrize("value", ["\udc80", ["ok", "\ud800x"], {"k": "\udfff"}])
def test_safe_text_never_returns_unencodable_text(value: object) -> None:
    text = wire.safe_text(value, 100)
    assert isinstance(text, str) and text
    assert text.encode("utf-8").decode("utf-8") == text  # raises on a lone surrogate
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def test_a_child_message_may_carry_one_body_only() -> None:
    reader = frames.FrameReader(cap=1 << 20, header_cap=1 << 10, max_bodies=1)
    reader.feed(_frames([b'{"t": "result", "nb": 1000000}'] + [b""] * 10))
    with pytest.raises(wire.WireError, match="body count"):
        reader.messages()
