"""The wire codec's smaller rules, each pinned where it could silently change: blocking reads and writes
over real pipes, what `encode` hands on for subclasses, the tags' edge cases, the item count's three
terms, the refusal messages' numbers, shared arrays read by file descriptor.

Every test here is a fast unit test (no sandbox); the caps sit in test_wire_caps.py, the control-pipe
parser's fuzzing in test_frame_reader.py.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from selftaught.sandbox.inside import frames, wire


def _frames(pieces: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(piece)) + piece for piece in pieces)


# ---------------------------------------------------------------- blocking framing over pipes


def test_write_all_and_read_message_carry_more_than_a_pipe_holds() -> None:
    """A message of 3 MB (a pipe holds 64 KiB): every byte is written, and read back as one message with
    its bodies in order; a closed pipe mid-frame is EOFError, not a short frame."""
    bodies = [bytes([n]) * (1 << 20) for n in (1, 2, 3)]
    data = frames.pack_message({"op": "x"}, bodies)
    r, w = os.pipe()
    writer = threading.Thread(target=frames.write_all, args=(w, data))
    writer.start()
    try:
        header, got = frames.read_message(r, 2 << 20)
    finally:
        writer.join()
        os.close(w)
    assert header == {"op": "x", "nb": 3} and got == bodies
    with pytest.raises(EOFError):
        frames.read_frame(r, 10)  # the writer is gone: nothing more comes
    os.close(r)
    r, w = os.pipe()
    os.write(w, struct.pack(">I", 10) + b"abc")
    os.close(w)
    with pytest.raises(EOFError, match="peer closed"):
        frames.read_frame(r, 100)
    os.close(r)


def test_a_message_without_bodies_says_no_count() -> None:
    assert frames.pack_message({"op": "y"}) == _frames([b'{"op":"y"}'])
    assert frames.pack_message({"op": "y"}, [b""]) == _frames([b'{"op":"y","nb":1}', b""])


def test_read_message_refuses_a_bad_header_before_reading_bodies() -> None:
    r, w = os.pipe()
    try:
        os.write(w, _frames([b'{"op": 1}', b'{"nb": 2}', b"a", b"b", b"[1]"]))
        assert frames.read_message(r, 100) == ({"op": 1}, [])  # no count: no bodies
        assert frames.read_message(r, 100) == ({"nb": 2}, [b"a", b"b"])
        with pytest.raises(wire.WireError, match="not an object"):
            frames.read_message(r, 100)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize("data", [b"{", b"\xff", b"[" * 100_000, b""])
def test_a_header_that_is_not_json_is_a_wire_error(data: bytes) -> None:
    with pytest.raises(wire.WireError, match="malformed header"):
        frames.parse_header(data)


# ---------------------------------------------------------------- the incremental reader's numbers


def test_a_message_over_the_cap_is_refused_with_its_running_size() -> None:
    """A header of 9 bytes has cost 9 + 64 = 73 of a 150-byte cap; a body of 100 would bring the message
    to 173: the refusal states the message's size with that body (173) against the whole cap (150)."""
    reader = frames.FrameReader(cap=150, header_cap=100)
    reader.feed(_frames([b'{"nb": 1}', b"x" * 100]))
    with pytest.raises(wire.WireError) as caught:
        reader.messages()
    assert str(caught.value) == "message of 173 bytes exceeds the cap of 150"


def test_buffered_counts_what_waits_and_what_the_message_has_taken() -> None:
    reader = frames.FrameReader(cap=1000, header_cap=100)
    header = b'{"nb": 2}'
    reader.feed(_frames([header, b"abc"]) + b"\x00\x00")
    assert reader.messages() == []
    taken = (len(header) + frames.FRAME_COST) + (3 + frames.FRAME_COST)
    assert reader.buffered == taken + 2
    reader.feed(b"\x00\x01z")
    assert reader.messages() == [({"nb": 2}, [b"abc", b"z"])]
    assert reader.buffered == 0


def test_an_empty_body_at_the_end_of_the_buffer_completes_its_message() -> None:
    """Four bytes buffered are a whole frame of length 0 (a frame needs its 4-byte prefix, no more)."""
    reader = frames.FrameReader(cap=1000)
    reader.feed(_frames([b'{"nb": 1}', b""]))
    assert reader.messages() == [({"nb": 1}, [b""])] and reader.buffered == 0
    reader.feed(_frames([b'{"t": 1}'])[:3])
    assert reader.messages() == [] and reader.buffered == 3


def test_the_header_cap_is_never_above_the_message_cap() -> None:
    assert frames.FrameReader(cap=50, header_cap=100).header_cap == 50
    assert frames.FrameReader(cap=500, header_cap=100).header_cap == 100
    assert frames.FrameReader(cap=500).header_cap == 500


# ---------------------------------------------------------------- encode: what it hands on


class Name(str):
    pass


class Count(enum.IntEnum):
    THREE = 3


class Ratio(float):
    pass


def test_subclasses_of_plain_types_are_sent_as_the_plain_type() -> None:
    """A str, int or float subclass (an enum, a library's own str) reaches the host as the plain type."""
    assert type(wire.encode(Name("n"))) is str and wire.encode(Name("n")) == "n"
    assert type(wire.encode(Count.THREE)) is int and wire.encode(Count.THREE) == 3
    assert type(wire.encode(Ratio(0.5))) is float and wire.encode(Ratio(0.5)) == 0.5
    assert wire.encode(None) is None and wire.encode(True) is True and wire.encode("s") == "s"


def test_numpy_text_and_bytes_scalars_become_str_and_bytes() -> None:
    assert wire.encode(np.str_("ab")) == "ab" and type(wire.encode(np.str_("ab"))) is str
    assert wire.loads(wire.dumps(np.bytes_(b"\x00z"))) == b"\x00z"
    assert wire.loads(wire.dumps(bytearray(b"ba"))) == b"ba"
    back = wire.loads(wire.dumps(np.float32(1.5)))
    assert type(back) is np.float32 and back == 1.5  # a scalar, not a 0-d array


@pytest.mark.parametrize("dtype", ["V8", "<M8[s]", "O", [("a", "<i4"), ("b", "O")]])
def test_arrays_of_other_dtypes_are_refused_when_sent(dtype: Any) -> None:
    """Raw bytes, datetimes, objects, records: refused on the sending side, by dtype."""
    with pytest.raises(wire.Unserializable, match="ndarray of dtype"):
        wire.dumps([np.zeros(2, dtype=dtype)])


def test_a_complex_number_keeps_both_parts() -> None:
    assert wire.encode(complex(1.5, -2.0)) == {"__st__": "complex", "re": 1.5, "im": -2.0}
    assert wire.loads(wire.dumps(complex(0, 3))) == 3j


def test_hooks_choose_before_the_built_in_rules() -> None:
    """The array hook may replace an array's encoding (or decline with None); the other hook encodes
    types this module does not know; a type's `__wire_ref__` sends a handle."""
    marker = {"__st__": "proxy", "name": "arr"}
    assert wire.encode([np.zeros(2)], array_hook=lambda arr: marker) == [marker]
    assert wire.encode(np.zeros(1), array_hook=lambda arr: None)["__st__"] == "nd"
    assert wire.encode(np.int8(3), array_hook=lambda arr: marker) == {**marker, "scalar": True}

    class Known:
        pass

    hooked = {"__st__": "proxy", "name": "k"}
    assert wire.encode({"k": Known()}, other_hook=lambda v: hooked if isinstance(v, Known) else None) == {
        "k": hooked
    }
    with pytest.raises(wire.Unserializable):
        wire.encode(Known(), other_hook=lambda v: None)

    class Handle:
        def __wire_ref__(self) -> wire.Ref:
            return wire.Ref(9, "mod.Handle")

    class NotAHandle:
        def __wire_ref__(self) -> object:
            return (9, "mod.Handle")

    assert wire.encode([Handle()]) == [{"__st__": "ref", "id": 9, "cls": "mod.Handle"}]
    with pytest.raises(wire.Unserializable, match="NotAHandle"):
        wire.encode(NotAHandle())
    seen: list[wire.Ref] = []
    wire.loads(wire.dumps(Handle()), refs=seen.append)
    assert seen == [wire.Ref(9, "mod.Handle")]


def test_with_a_handle_resolver_other_tags_are_still_refused_as_unknown() -> None:
    """The `refs` resolver takes `ref` tags only: an unknown tag, or a proxy with no proxy resolver,
    is refused as an unknown tag, never read as a handle."""
    seen: list[wire.Ref] = []
    for tag in ("xyz", "proxy"):
        with pytest.raises(wire.WireError, match=f"^unknown tag '{tag}'$"):
            wire.loads(
                json.dumps({"__st__": tag, "id": 5, "cls": "C", "name": "n"}).encode(), refs=seen.append
            )
    assert seen == []


def test_a_header_without_a_body_count_has_no_bodies() -> None:
    """`nb` defaults to 0: a header that does not say passes even where no body is allowed."""
    assert frames.parse_header(b'{"kind": "x"}', max_bodies=0) == {"kind": "x"}
    with pytest.raises(wire.WireError, match="body count 1 exceeds the cap of 0"):
        frames.parse_header(b'{"kind": "x", "nb": 1}', max_bodies=0)


def test_a_refusal_under_a_non_string_key_names_the_key_in_40_characters() -> None:
    key = ("k" * 60,)
    with pytest.raises(wire.Unserializable) as caught:
        wire.encode({key: object()})
    assert caught.value.path == [f"[{repr(key)[:40]}]"]


def test_a_refusal_deep_inside_names_every_step_outermost_first() -> None:
    with pytest.raises(wire.Unserializable) as caught:
        wire.encode([0, {"x": (1, 2, [object()])}])
    assert caught.value.path == ["[1]", "['x']", "[2]", "[0]"]
    assert str(caught.value) == "unserializable: value[1]['x'][2][0]: object"


def test_a_decoded_handle_is_an_immutable_value() -> None:
    """A `Ref` stands for an object of another process by its id: a value, like the number it carries.
    The id cannot be rewritten after decoding, and equal handles are one dictionary key."""
    seen: list[wire.Ref] = []
    wire.loads(b'{"__st__": "ref", "id": 5, "cls": "mod.Handle"}', refs=seen.append)
    (ref,) = seen
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.id = 6  # type: ignore[misc]
    assert {ref: "a", wire.Ref(5, "mod.Handle"): "b"} == {wire.Ref(5, "mod.Handle"): "b"}


def test_dicts_with_other_keys_or_a_tag_key_are_tagged_and_paths_name_keys() -> None:
    assert wire.encode({"a": 1}) == {"a": 1}
    assert wire.encode({"__st__": 1}) == {"__st__": "dict", "items": [["__st__", 1]]}
    assert wire.encode({1: "x"}) == {"__st__": "dict", "items": [[1, "x"]]}
    long_key = "k" * 60
    with pytest.raises(wire.Unserializable) as caught:
        wire.dumps({long_key: object()})
    assert str(caught.value) == f"unserializable: value[{'k' * 40!r}]: object"

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

        def __hash__(self) -> int:
            return 1

    with pytest.raises(wire.Unserializable) as caught:
        wire.dumps({BadRepr(): 1})
    assert f"[<{BadRepr.__module__}.{BadRepr.__qualname__} key>]" in str(caught.value)
    with pytest.raises(wire.Unserializable, match=r"value\[\(1, 'k'\)\]"):
        wire.dumps({(1, "k"): object()})


def test_dumps_turns_json_and_recursion_failures_into_refusals() -> None:
    """What a hook returns goes to JSON unchecked: an object JSON cannot write, a circular structure,
    or one too deep for the encoder are refusals, never TypeError, ValueError or RecursionError."""

    class Known:
        pass

    circular: dict[str, Any] = {}
    circular["self"] = circular
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    for made, says in (
        ({"__st__": "proxy", "name": object()}, "not JSON serializable"),
        (circular, "Circular reference"),
        (deep, "nesting too deep"),
    ):
        with pytest.raises(wire.Unserializable, match=f"^unserializable: .*{says}"):
            wire.dumps([Known()], other_hook=lambda v, made=made: made if isinstance(v, Known) else None)


# ---------------------------------------------------------------- decode: tags and their edges


def _array(dtype: str, shape: Any, data: bytes = b"", **extra: Any) -> bytes:
    value = {"__st__": "nd", "dtype": dtype, "shape": shape, "b64": base64.b64encode(data).decode()}
    return json.dumps({**value, **extra}).encode()


def test_array_size_and_shape_must_agree() -> None:
    data = np.arange(6, dtype="<i2").tobytes()
    assert wire.loads(_array("<i2", [2, 3], data)).tolist() == [[0, 1, 2], [3, 4, 5]]
    for shape in ([3, 3], [2, 2], [6, 2], [12]):
        with pytest.raises(wire.WireError, match="size does not match"):
            wire.loads(_array("<i2", shape, data))
    assert wire.loads(_array("<i2", [0, 5], b"")).shape == (0, 5)
    scalar = wire.loads(_array("<i2", [], data[:2], scalar=True))
    assert type(scalar) is np.int16 and scalar == 0
    zero_d = wire.loads(_array("<i2", [], data[:2]))
    assert type(zero_d) is np.ndarray and zero_d.shape == ()


@pytest.mark.parametrize("dtype", ["|O", "V8", "<M8", "<U0", "|S0", ["<f8"], None])
def test_dtypes_that_cannot_carry_plain_data_are_refused(dtype: Any) -> None:
    with pytest.raises(wire.WireError, match="dtype"):
        wire.loads(_array(dtype, [0]))


def test_base64_with_stray_characters_is_refused() -> None:
    """Strict base64: a stray character is refused, not skipped (skipped, "AA!AA" would be "AAAA", the
    three zero bytes the shape asks for, and "YW!Jj" would be b"abc")."""
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps({"__st__": "nd", "dtype": "|u1", "shape": [3], "b64": "AA!AA"}).encode())
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps({"__st__": "bytes", "b64": "YW!Jj"}).encode())
    with pytest.raises(wire.WireError, match="base64 string"):
        wire.loads(json.dumps({"__st__": "nd", "dtype": "|u1", "shape": [0], "b64": 0}).encode())
    assert wire.loads(json.dumps({"__st__": "bytes", "b64": "YWJj"}).encode()) == b"abc"


def test_shared_arrays_come_from_the_directory_or_the_child_s_descriptors(tmp_path: Path) -> None:
    """A shared array is mapped copy-on-write: the program may write to it, the file stays as it was.
    In the child the zygote passed a descriptor per file (a function from name to fd); an empty array
    maps nothing."""
    data = np.arange(4, dtype="<f8")
    (tmp_path / "a").write_bytes(data.tobytes())
    (tmp_path / "empty").write_bytes(b"")
    value = {"__st__": "nd", "dtype": "<f8", "shape": [4], "file": "a"}
    arr = wire.loads(json.dumps(value).encode(), str(tmp_path))
    assert arr.tolist() == [0.0, 1.0, 2.0, 3.0]
    arr[0] = 99.0
    assert np.frombuffer((tmp_path / "a").read_bytes(), "<f8").tolist() == [0.0, 1.0, 2.0, 3.0]
    fd = os.open(tmp_path / "a", os.O_RDONLY)
    try:
        names: list[str] = []

        def opener(name: str) -> int:
            names.append(name)
            return fd

        arr = wire.loads(json.dumps(value).encode(), opener)
        assert arr.tolist() == [0.0, 1.0, 2.0, 3.0] and names == ["a"]
        arr[1] = -1.0
        empty = {"__st__": "nd", "dtype": "<f8", "shape": [0], "file": "empty"}
        assert wire.loads(json.dumps(empty).encode(), opener).shape == (0,)
        assert wire.loads(json.dumps(empty).encode(), str(tmp_path)).shape == (0,)
    finally:
        os.close(fd)
    assert np.frombuffer((tmp_path / "a").read_bytes(), "<f8").tolist() == [0.0, 1.0, 2.0, 3.0]


def test_complex_parts_must_be_plain_numbers() -> None:
    assert wire.loads(b'{"__st__": "complex", "re": 1, "im": 2.5}') == complex(1, 2.5)
    for part in ("true", '"1"', "null", "[1]"):
        with pytest.raises(wire.WireError, match="complex parts"):
            wire.loads(f'{{"__st__": "complex", "re": 0, "im": {part}}}'.encode())
        with pytest.raises(wire.WireError, match="complex parts"):
            wire.loads(f'{{"__st__": "complex", "re": {part}, "im": 0}}'.encode())


def test_keys_and_members_are_made_hashable() -> None:
    """A list key or member (never sent by `encode`) reads as a tuple, nested lists too; a set member
    as a frozenset."""
    assert wire.loads(b'{"__st__": "dict", "items": [[[1, [2, 3]], "v"]]}') == {(1, (2, 3)): "v"}
    inner = '{"__st__": "set", "items": [1]}'
    back = wire.loads(f'{{"__st__": "set", "items": [{inner}, [4]]}}'.encode())
    assert back == {frozenset({1}), (4,)} and type(back) is set
    with pytest.raises(wire.WireError, match="tagged items are not a list"):
        wire.loads(b'{"__st__": "set", "items": {"a": 1}}')


def test_proxies_and_handles_need_their_resolver() -> None:
    payload = b'{"__st__": "proxy", "name": 12}'
    assert wire.loads(payload, resolve=lambda name: ("proxy", name)) == ("proxy", "12")
    with pytest.raises(wire.WireError, match="unknown tag 'proxy'"):
        wire.loads(payload)
    with pytest.raises(wire.WireError, match="unknown tag 'ref'"):
        wire.loads(b'{"__st__": "ref", "id": 1, "cls": "A"}', resolve=lambda name: name)
    for tag in ("pickle", "a", "zzz"):  # tags sorting before and after "proxy" alike
        with pytest.raises(wire.WireError, match=f"unknown tag '{tag}'"):
            wire.loads(json.dumps({"__st__": tag, "name": "p"}).encode(), resolve=lambda name: name)


@pytest.mark.parametrize(
    "ref_id, ok", [(0, True), (wire.MAX_REF_ID, True), (-1, False), (wire.MAX_REF_ID + 1, False)]
)
def test_a_handle_id_is_a_63_bit_natural_number(ref_id: int, ok: bool) -> None:
    assert wire.MAX_REF_ID == 2**63 - 1
    payload = json.dumps({"__st__": "ref", "id": ref_id, "cls": "pkg.Solver_2"}).encode()
    if ok:
        assert wire.loads(payload, refs=lambda ref: ref) == wire.Ref(ref_id, "pkg.Solver_2")
    else:
        with pytest.raises(wire.WireError, match="handle id"):
            wire.loads(payload, refs=lambda ref: ref)


def test_str_keys_must_be_encodable_text_and_values_inside_containers_are_decoded() -> None:
    assert wire.loads(b'{"a": {"__st__": "bytes", "b64": "eA=="}}') == {"a": b"x"}
    assert wire.loads(b'[{"__st__": "tuple", "items": [1]}]') == [(1,)]
    assert wire.loads(b'{"\\u00e9": "\\u00e9t\\u00e9"}') == {"é": "été"}
    with pytest.raises(wire.WireError, match="surrogate"):
        wire.loads(b'{"\\u00e9\\udc80": 1}')


# ---------------------------------------------------------------- the item count's three terms


@pytest.mark.parametrize("kinds", ["[", "{", ",[{"])
def test_commas_brackets_and_braces_all_count_as_items(kinds: str) -> None:
    """MAX_ITEMS counts "," + "[" + "{" (each may start a JSON item), here inside a string (costing no
    objects): exactly the cap of any mix is read, one more is refused."""
    each = wire.MAX_ITEMS // len(kinds)
    text = "".join(kind * each for kind in kinds)
    text += kinds[0] * (wire.MAX_ITEMS - len(text))
    assert len(text) == wire.MAX_ITEMS
    assert wire.loads(f'"{text}"'.encode()) == text
    with pytest.raises(wire.WireError, match="exceeds the cap"):
        wire.loads(f'"{text}{kinds[-1]}"'.encode())


def test_malformed_values_become_wire_errors_naming_the_failure() -> None:
    with pytest.raises(wire.WireError, match="malformed value: KeyError"):
        wire.loads(b'{"__st__": "complex", "re": 1}')
    with pytest.raises(wire.WireError, match="malformed value: JSONDecodeError"):
        wire.loads(b"{")


# ---------------------------------------------------------------- refusals say what and where


def test_unserializable_messages_say_the_root_and_path() -> None:
    exc = wire.Unserializable("thing")
    assert str(exc) == "unserializable: thing" and exc.root == "value" and exc.path == []
    exc.path.extend(["[1]", "['x']"])
    exc.root = "result"
    assert str(exc) == "unserializable: result[1]['x']: thing"


def _nest(site: str, levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {
            "list": lambda inner: [inner],
            "str-key dict": lambda inner: {"k": inner},
            "tagged dict key": lambda inner: {"__st__": "dict", "items": [[inner, 1]]},
            "tagged dict value": lambda inner: {"__st__": "dict", "items": [[1, inner]]},
            "tuple": lambda inner: {"__st__": "tuple", "items": [inner]},
            "set": lambda inner: {"__st__": "set", "items": [inner]},
        }[site](value)
    return value


@pytest.mark.parametrize(
    "site", ["list", "str-key dict", "tagged dict key", "tagged dict value", "tuple", "set"]
)
def test_every_container_counts_toward_the_nesting_cap(site: str) -> None:
    """300 levels through any one kind of container are refused by the depth rule itself (not by
    Python's recursion limit, nor decoded)."""
    with pytest.raises(wire.WireError, match=r"^nesting too deep$"):
        wire.loads(json.dumps(_nest(site, 300)).encode())


def test_a_failure_s_message_is_cut_at_200_characters() -> None:
    def resolve(name: str) -> Any:
        raise KeyError("x" * 300)

    with pytest.raises(wire.WireError) as caught:
        wire.loads(b'{"__st__": "proxy", "name": "p"}', resolve=resolve)
    assert str(caught.value) == "malformed value: KeyError: '" + "x" * 199


def test_a_bad_shape_is_quoted_in_80_characters() -> None:
    shape = [-1000000000] * 30  # within the dimension count, each one negative
    with pytest.raises(wire.WireError) as caught:
        wire.loads(_array("<f8", shape))
    assert str(caught.value).endswith(": " + str(shape)[:80])


def test_a_dict_key_counts_one_level_of_nesting() -> None:
    """A key sits one level inside its dict, like a value: a tuple key nesting its leaf 199 levels down
    crosses, 200 levels is one too deep (the leaf would be at depth 201)."""

    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = (value,)
        return value

    assert wire.loads(wire.dumps({nested(199): "v"})) == {nested(199): "v"}
    with pytest.raises(wire.Unserializable, match="nesting deeper than 200"):
        wire.dumps({nested(200): "v"})


def test_raw_bodies_stop_at_max_bodies_and_small_arrays_stay_inline() -> None:
    """`Bodies.hook`: an array of at least BODY_MIN bytes becomes body number n while fewer than
    MAX_BODIES are taken; the next one (and any smaller array) is left to the JSON encoding."""
    hook = wire.Bodies()
    big = np.zeros(wire.BODY_MIN // 8, dtype="<f8")
    assert hook.hook(np.zeros(wire.BODY_MIN // 8 - 1, dtype="<f8")) is None
    tags = [hook.hook(big) for _ in range(wire.MAX_BODIES)]
    assert [tag["body"] for tag in tags if tag is not None] == list(range(wire.MAX_BODIES))
    assert hook.hook(big) is None and len(hook.items) == wire.MAX_BODIES
    assert hook.size == wire.MAX_BODIES * wire.BODY_MIN


def test_an_unknown_tag_is_quoted_in_40_characters() -> None:
    tag = "t" * 60
    with pytest.raises(wire.WireError) as caught:
        wire.loads(json.dumps({"__st__": tag}).encode())
    assert str(caught.value) == f"unknown tag {'t' * 40!r}"
