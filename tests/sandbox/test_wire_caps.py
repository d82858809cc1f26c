"""Each cap of the wire codec, pinned at its number by a test that no other cap can satisfy first.

Every test here builds an input that sits exactly at a cap (accepted) and one past it (refused), with
everything else about the input honest, so the refusal can only come from the cap under test. These are
the decoder's promises to the host: a hostile child cannot make it allocate past them.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from selftaught.sandbox.inside import arrays, frames, wire


def _array(dtype: str, shape: list[int], data: bytes = b"", **extra: object) -> bytes:
    value = {"__st__": "nd", "dtype": dtype, "shape": shape, "b64": base64.b64encode(data).decode()}
    return json.dumps({**value, **extra}).encode()


def _frames(pieces: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(piece)) + piece for piece in pieces)


def test_caps_have_their_documented_numbers() -> None:
    """The numbers docs/sandbox.md and the tests below rely on (a changed cap must change them too)."""
    assert (arrays.MAX_DIMS, arrays.MAX_DTYPE_CHARS, wire.MAX_DEPTH) == (32, 16, 200)
    assert (wire.MAX_ITEMS, arrays.MAX_DIM, frames.FRAME_COST, frames.HEADER_CAP) == (
        2_000_000,
        1 << 40,
        64,
        1 << 16,
    )
    # docs/openevolve.md: arrays of 2 KB or more go as raw bodies, at most 4096 a message; lists of 8
    # or more numbers go packed
    assert (wire.BODY_MIN, wire.MAX_BODIES, arrays.PACKED_MIN) == (2048, 4096, 8)
    assert wire.PEER_BODY_MIN == 256  # between two sandboxed children (docs/openevolve.md's timing)


def test_an_array_may_have_32_dimensions_not_33() -> None:
    """MAX_DIMS: one element of float64, shaped (1,)*32 decodes; (1,)*33 is refused by the shape rule."""
    one = np.float64(2.5).tobytes()
    arr = wire.loads(_array("<f8", [1] * 32, one))
    assert arr.shape == (1,) * 32 and arr.item() == 2.5
    with pytest.raises(wire.WireError, match="at most 32 dimensions"):
        wire.loads(_array("<f8", [1] * 33, one))


def test_a_dimension_may_be_2_to_the_40_not_more() -> None:
    """MAX_DIM: 2**40 passes the shape rule (then fails on size); 2**40 + 1 fails the shape rule itself."""
    with pytest.raises(wire.WireError, match="size does not match"):
        wire.loads(_array("|b1", [1 << 40]))
    with pytest.raises(wire.WireError, match="not an integer in"):
        wire.loads(_array("|b1", [(1 << 40) + 1]))
    with pytest.raises(wire.WireError, match="not an integer in"):
        wire.loads(_array("|b1", [-1]))


def test_a_dtype_may_be_spelled_in_16_characters_not_17() -> None:
    """MAX_DTYPE_CHARS: "<U" + zero-padded 1 is the same dtype (U1) at any length; only the cap differs."""
    at_cap, past_cap = "<U" + "0" * 13 + "1", "<U" + "0" * 14 + "1"
    assert (len(at_cap), len(past_cap)) == (16, 17)
    assert np.dtype(at_cap) == np.dtype(past_cap) == np.dtype("<U1")
    data = np.array(["z"], dtype="<U1").tobytes()
    assert wire.loads(_array(at_cap, [1], data)).tolist() == ["z"]
    with pytest.raises(wire.WireError, match="short string"):
        wire.loads(_array(past_cap, [1], data))


def test_shared_array_names_may_not_be_dot_files_or_paths(tmp_path: Path) -> None:
    """A shared-array name is a plain file name in the shared directory: no dot-files, no slashes."""
    data = np.arange(3, dtype="<i4").tobytes()
    for name in ("plain", ".hidden", "sub"):
        (tmp_path / name).write_bytes(data) if name != "sub" else (tmp_path / name).mkdir()
    (tmp_path / "sub" / "inner").write_bytes(data)
    value = {"__st__": "nd", "dtype": "<i4", "shape": [3]}
    assert wire.loads(json.dumps({**value, "file": "plain"}).encode(), str(tmp_path)).tolist() == [0, 1, 2]
    for name in (".hidden", "sub/inner", "../x", 7):
        with pytest.raises(wire.WireError, match="outside the shared directory"):
            wire.loads(json.dumps({**value, "file": name}).encode(), str(tmp_path))
    with pytest.raises(wire.WireError, match="outside the shared directory"):
        wire.loads(json.dumps({**value, "file": "plain"}).encode(), None)


def test_a_value_may_have_max_items_items_not_one_more() -> None:
    """MAX_ITEMS counts commas and brackets before parsing: a string of commas costs no objects, so the
    cap is tested at its exact number cheaply (and nothing else can refuse a plain string)."""
    assert wire.loads(b'"' + b"," * wire.MAX_ITEMS + b'"') == "," * wire.MAX_ITEMS
    with pytest.raises(wire.WireError, match="exceeds the cap of 2000000"):
        wire.loads(b'"' + b"," * (wire.MAX_ITEMS + 1) + b'"')


def test_nesting_deeper_than_the_cap_is_refused_by_depth() -> None:
    """The decoder's depth rule at its exact edge, through `decode` and through `loads` (which starts
    the count at the top level): the outermost list is at depth 0, and a list at depth MAX_DEPTH + 2
    still decodes, so MAX_DEPTH + 3 nested lists pass and MAX_DEPTH + 4 are refused as too deep (by the
    rule, not by Python's recursion limit)."""
    allowed = wire.MAX_DEPTH + 3

    def nested(levels: int) -> str:
        return "[" * levels + "]" * levels

    assert wire.decode(json.loads(nested(allowed))) is not None
    assert wire.loads(nested(allowed).encode()) is not None
    with pytest.raises(wire.WireError, match="nesting too deep"):
        wire.decode(json.loads(nested(allowed + 1)))
    with pytest.raises(wire.WireError, match="nesting too deep"):
        wire.loads(nested(allowed + 1).encode())


@pytest.mark.parametrize("cap", [0, 5, 4096])
def test_read_frame_accepts_a_frame_of_exactly_cap_bytes_and_refuses_one_more(cap: int) -> None:
    for length, refused in ((cap, False), (cap + 1, True)):
        r, w = os.pipe()
        try:
            os.write(w, struct.pack(">I", length) + b"x" * length)
            if refused:
                with pytest.raises(wire.WireError, match=f"exceeds the cap of {cap}"):
                    frames.read_frame(r, cap)
            else:
                assert frames.read_frame(r, cap) == b"x" * length
        finally:
            os.close(r)
            os.close(w)


def test_each_frame_costs_frame_cost_bytes_beyond_its_data() -> None:
    """FRAME_COST: n empty bodies cost 64 bytes each; a message of header h and n empty bodies fits a cap
    of exactly h + 64 * n (the header's own frame costs 64 too, the last body is checked before it is
    counted) and not one byte less. The body-count cap is set far above n, so only the cost can refuse."""
    bodies = 50
    header = json.dumps({"t": "result", "nb": bodies}).encode()
    message = _frames([header] + [b""] * bodies)
    fits = len(header) + frames.FRAME_COST * bodies
    reader = frames.FrameReader(cap=fits, header_cap=1024, max_bodies=10 * bodies)
    reader.feed(message)
    [(got, parts)] = reader.messages()
    assert got["nb"] == bodies and parts == [b""] * bodies
    reader = frames.FrameReader(cap=fits - 1, header_cap=1024, max_bodies=10 * bodies)
    reader.feed(message)
    with pytest.raises(wire.WireError, match="message of"):
        reader.messages()


@pytest.mark.parametrize("max_bodies", [0, 1, 1_000_000])
def test_the_body_count_cap_accepts_its_number_and_refuses_one_more(max_bodies: int) -> None:
    assert frames.parse_header(json.dumps({"nb": max_bodies}).encode(), max_bodies)["nb"] == max_bodies
    with pytest.raises(wire.WireError, match=f"body count {max_bodies + 1} exceeds the cap of {max_bodies}"):
        frames.parse_header(json.dumps({"nb": max_bodies + 1}).encode(), max_bodies)


def test_the_default_body_count_cap_is_a_million() -> None:
    assert frames.parse_header(b'{"nb": 1000000}')["nb"] == 1_000_000
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        frames.parse_header(b'{"nb": 1000001}')
    reader = frames.FrameReader(cap=1 << 20)
    reader.feed(_frames([b'{"nb": 1000001}']))
    with pytest.raises(wire.WireError, match="exceeds the cap of 1000000"):
        reader.messages()


@pytest.mark.parametrize("nb", [-1, True, 1.0, "1", None])
def test_a_body_count_that_is_not_a_natural_number_is_refused(nb: object) -> None:
    with pytest.raises(wire.WireError, match="bad body count"):
        frames.parse_header(json.dumps({"nb": nb}).encode())


def test_a_header_frame_may_be_header_cap_bytes_not_more() -> None:
    """The header cap is separate from (and smaller than) the message cap."""
    for size, refused in ((100, False), (101, True)):
        header = json.dumps({"d": "x" * (size - 9)}).encode()
        assert len(header) == size
        reader = frames.FrameReader(cap=1 << 20, header_cap=100)
        reader.feed(_frames([header]))
        if refused:
            with pytest.raises(wire.WireError, match="header of 101 bytes exceeds the cap of 100"):
                reader.messages()
        else:
            assert reader.messages() == [(json.loads(header), [])]


WRAPPERS: dict[str, Callable[[object], object]] = {
    "list": lambda value: [value],
    "tuple": lambda value: (value,),
    "dict": lambda value: {"k": value},
    "int-keyed dict": lambda value: {0: value},
    "frozenset": lambda value: frozenset([value]),
}


@pytest.mark.parametrize("kind", WRAPPERS)
def test_encoding_allows_max_depth_levels_of_nesting_not_one_more(kind: str) -> None:
    """MAX_DEPTH on the encoding side, through every kind of container: a leaf 200 levels deep is sent,
    201 deep is unserializable."""
    wrap = WRAPPERS[kind]

    def nested(levels: int) -> object:
        value: object = 1
        for _ in range(levels):
            value = wrap(value)
        return value

    assert wire.loads(wire.dumps(nested(wire.MAX_DEPTH))) == nested(wire.MAX_DEPTH)
    with pytest.raises(wire.Unserializable, match="nesting deeper than 200"):
        wire.dumps(nested(wire.MAX_DEPTH + 1))


def test_sets_and_frozensets_come_back_as_what_they_were() -> None:
    """`set` and `frozenset` are distinct tags; a "set" must not come back frozen, nor the reverse (a tag
    compared by identity or by order would confuse them once decoded from JSON)."""
    for value in ({1, 2}, frozenset({3, (4, 5)})):
        back = wire.loads(wire.dumps(value))
        assert back == value and type(back) is type(value)
    decoded = wire.loads(json.dumps({"__st__": "".join(["frozen", "set"]), "items": [1]}).encode())
    assert type(decoded) is frozenset


def test_a_handles_class_name_may_be_200_characters_not_201() -> None:
    """Handles (`Ref`) name their class with a dotted name of at most 200 characters."""
    seen: list[object] = []

    def refs(ref: object) -> object:
        seen.append(ref)
        return ref

    for length, refused in ((200, False), (201, True)):
        name = "a." + "b" * (length - 2)
        payload = json.dumps({"__st__": "ref", "id": 7, "cls": name}).encode()
        if refused:
            with pytest.raises(wire.WireError, match="handle class"):
                wire.decode(json.loads(payload), refs=refs)
        else:
            assert wire.decode(json.loads(payload), refs=refs) == wire.Ref(7, name)
