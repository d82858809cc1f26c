"""The control-pipe parser (`frames.FrameReader`) against a plain reference, on mutated valid streams.

The zygote parses every byte a child writes on its control pipe with `FrameReader`, fed in whatever
pieces `os.read` returns. Random bytes almost never get past the first length prefix, so the streams here
start as valid messages (JSON headers with body counts, then the bodies) and are then mutated: bytes
flipped, inserted, deleted, a length prefix rewritten, a header replaced by a non-object or a bad body
count, the stream cut short. A one-pass reference parser written from the format's description says
what must come out: the same messages in order, then either the end, an incomplete tail, or a WireError
naming the same rule. Explicit examples reach every branch of the parser whatever hypothesis draws.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from selftaught.sandbox.inside import frames, wire

COST = 64  # bytes each frame costs beyond its data (frames.FRAME_COST, stated independently here)
Message = tuple[dict[str, Any], list[bytes]]

# What each refusal's message says (the reader must refuse for the rule the reference names).
REASONS = {
    "header-cap": "header of",
    "message-cap": "message of",
    "malformed": "malformed header",
    "not-object": "not an object",
    "bad-count": "bad body count",
    "count-cap": "exceeds the cap",
}


def reference(data: bytes, cap: int, header_cap: int, max_bodies: int) -> tuple[list[Message], str]:
    """Parse the whole stream in one pass: (messages, "end" | "incomplete" | a REASONS key)."""
    out: list[Message] = []
    pos = 0

    def frame(limit: int) -> bytes | str:
        nonlocal pos
        if len(data) - pos < 4:
            return "incomplete"
        length = int.from_bytes(data[pos : pos + 4], "big")
        if length > limit:
            return "too-large"
        if len(data) - pos - 4 < length:
            return "incomplete"
        pos += 4 + length
        return data[pos - length : pos]

    while True:
        if pos == len(data):
            return out, "end"
        raw = frame(min(cap, header_cap))
        if isinstance(raw, str):
            return out, "header-cap" if raw == "too-large" else raw
        cost = len(raw) + COST
        try:
            header = json.loads(raw)
        except (ValueError, RecursionError):
            return out, "malformed"
        if not isinstance(header, dict):
            return out, "not-object"
        count = header.get("nb", 0)
        if type(count) is not int or count < 0:
            return out, "bad-count"
        if count > max_bodies:
            return out, "count-cap"
        bodies: list[bytes] = []
        while len(bodies) < count:
            body = frame(cap - cost)
            if isinstance(body, str):
                return out, "message-cap" if body == "too-large" else body
            cost += len(body) + COST
            bodies.append(body)
        out.append((header, bodies))


def feed(data: bytes, chunk: int, cap: int, header_cap: int, max_bodies: int) -> tuple[list[Message], str]:
    """What the real reader yields fed `chunk` bytes at a time: (messages, "ok" | the WireError text)."""
    reader = frames.FrameReader(cap, header_cap, max_bodies)
    got: list[Message] = []
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
        try:
            got.extend(reader.messages())
        except wire.WireError as exc:
            return got, str(exc)
    return got, "ok" if reader.buffered == 0 else "pending"


def stream_of(pieces: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(piece)) + piece for piece in pieces)


def check(data: bytes, chunk: int, cap: int, header_cap: int, max_bodies: int) -> str:
    expected, outcome = reference(data, cap, header_cap, max_bodies)
    got, said = feed(data, chunk, cap, header_cap, max_bodies)
    if outcome in REASONS:
        assert REASONS[outcome] in said, (outcome, said)
        # Messages completed in the same chunk as the refusal are dropped with the connection.
        assert got == expected[: len(got)]
    else:
        assert got == expected
        assert said == ("ok" if outcome == "end" else "pending"), (outcome, said)
    return outcome


# ---------------------------------------------------------------- streams built from valid messages

headers = st.fixed_dictionaries(
    {"t": st.sampled_from(["result", "rpc", "event", "x"]), "req": st.integers(0, 9)},
    optional={"detail": st.text(max_size=30)},
)
messages = st.tuples(headers, st.lists(st.binary(max_size=30), max_size=4))
odd_headers = st.sampled_from([b"[]", b"7", b'"nb"', b"{", b'{"nb": -1}', b'{"nb": true}', b'{"nb": 99}'])


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Valid messages, then a few mutations of the serialized stream."""
    pieces: list[bytes] = []
    for header, bodies in draw(st.lists(messages, min_size=1, max_size=4)):
        if draw(st.integers(0, 9)) == 0:
            pieces.append(draw(odd_headers))
            continue
        pieces.append(json.dumps({**header, "nb": len(bodies)} if bodies else header).encode())
        pieces.extend(bodies)
    data = bytearray(stream_of(pieces))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "length", "cut"]))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 6))]
        elif kind == "length" and at + 4 <= len(data):
            data[at : at + 4] = struct.pack(">I", draw(st.integers(0, 3000)))
        elif kind == "cut":
            del data[at:]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(1, 64), st.integers(0, 600), st.integers(0, 200), st.integers(0, 4))
@example(stream_of([b'{"t": "event"}']), 3, 600, 200, 1)  # end
@example(stream_of([b'{"t": "event"}'])[:-2], 3, 600, 200, 1)  # incomplete
@example(stream_of([b'{"t": "event", "d": "' + b"x" * 300 + b'"}']), 7, 600, 200, 1)  # header-cap
@example(stream_of([b'{"nb": 2}', b"x" * 200, b"y" * 300]), 9, 600, 400, 2)  # message-cap
@example(stream_of([b"{"]), 1, 600, 200, 1)  # malformed
@example(stream_of([b"[1]"]), 64, 600, 200, 1)  # not-object
@example(stream_of([b'{"nb": -1}']), 2, 600, 200, 1)  # bad-count
@example(stream_of([b'{"nb": 2}', b"", b""]), 5, 600, 200, 1)  # count-cap
def test_the_reader_agrees_with_the_reference(
    data: bytes, chunk: int, cap: int, header_cap: int, max_bodies: int
) -> None:
    check(data, chunk, cap, header_cap, max_bodies)


@pytest.mark.parametrize(
    "data, cap, header_cap, max_bodies, outcome",
    [
        (stream_of([b'{"t": "event"}', b'{"nb": 1}', b"body"]), 600, 200, 1, "end"),
        (stream_of([b'{"nb": 1}', b"body"])[:-1], 600, 200, 1, "incomplete"),
        (stream_of([b'{"nb": 1}'])[:3], 600, 200, 1, "incomplete"),
        (stream_of([b'{"t": "' + b"x" * 300 + b'"}']), 600, 200, 1, "header-cap"),
        (stream_of([b'{"t": "' + b"x" * 300 + b'"}']), 200, 600, 1, "header-cap"),
        (stream_of([b'{"nb": 2}', b"x" * 200, b"y" * 300]), 600, 400, 2, "message-cap"),
        (stream_of([b"{"]), 600, 200, 1, "malformed"),
        (stream_of([b"\xff"]), 600, 200, 1, "malformed"),
        (stream_of([b"[" * 100_000]), 1 << 20, 1 << 20, 1, "malformed"),
        (stream_of([b"[1]"]), 600, 200, 1, "not-object"),
        (stream_of([b'{"nb": -1}']), 600, 200, 1, "bad-count"),
        (stream_of([b'{"nb": "1"}']), 600, 200, 1, "bad-count"),
        (stream_of([b'{"nb": 2}', b"", b""]), 600, 200, 1, "count-cap"),
    ],
)
def test_every_branch_of_the_parser_is_reached(
    data: bytes, cap: int, header_cap: int, max_bodies: int, outcome: str
) -> None:
    """The reference says which rule applies; the reader, fed whole and byte by byte, must agree."""
    for chunk in (1, len(data) or 1):
        assert check(data, chunk, cap, header_cap, max_bodies) == outcome


def test_a_message_of_hundreds_of_bodies_ends_at_its_count() -> None:
    """The reader stops taking bodies at the header's count, also past 256 (where Python's small-int
    objects end, so a count compared by identity would never match): the next message is read apart."""
    bodies = [bytes([i % 256]) * 3 for i in range(300)]
    data = frames.pack_message({"kind": "a"}, bodies) + frames.pack_message({"kind": "b"})
    for chunk in (len(data), 7):
        reader = frames.FrameReader(1 << 20)
        got: list[tuple[dict[str, Any], list[bytes]]] = []
        for start in range(0, len(data), chunk):
            reader.feed(data[start : start + chunk])
            got.extend(reader.messages())
        assert got == [({"kind": "a", "nb": 300}, bodies), ({"kind": "b"}, [])]


# ------------------------------------- the evaluator's reader of its candidate's socket, same streams

SOCKET_CAP = 1 << 20  # far above every stream here: the caps are tested in test_wire_socket.py


def read_socket(data: bytes, chunk: int) -> tuple[list[Message], str]:
    """What the evaluator's side reads when a hostile candidate's process writes `data` in `chunk`-byte
    writes and closes: a non-blocking `SocketReader` whose `wait` polls, `recv_message` until it fails.
    (messages, "end" | the WireError text)."""
    ours, theirs = socket.socketpair()

    def wait() -> None:
        if not select.select([reader.sock], [], [], 30.0)[0]:
            raise TimeoutError("the reader waited 30 s for bytes that were sent")

    reader = frames.SocketReader(theirs.detach(), wait=wait)

    def write() -> None:
        try:
            for start in range(0, len(data), chunk):
                ours.sendall(data[start : start + chunk])
        finally:
            ours.close()

    writer = threading.Thread(target=write)
    writer.start()
    got: list[Message] = []
    try:
        while True:
            header, bodies = frames.recv_message(reader, SOCKET_CAP)
            got.append((header, [bytes(body) for body in bodies]))
    except EOFError:
        return got, "end"
    except wire.WireError as exc:
        return got, str(exc)
    finally:
        writer.join()
        reader.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(1, 64))
@example(stream_of([b'{"nb": 1}', b"body"])[:-1], 2)  # cut inside a body
@example(stream_of([b"{"]), 1)  # malformed
@example(stream_of([b'{"nb": -1}']), 3)  # bad-count
def test_the_evaluators_socket_reader_agrees_with_the_reference(data: bytes, chunk: int) -> None:
    """The evaluator reads its candidate's answers with `SocketReader` on a non-blocking socket: on the
    mutated streams above, written in small pieces, it yields the reference's messages in order and
    then stops for the reference's reason (a stream that ends, whole or cut, is end of file)."""
    expected, outcome = reference(data, SOCKET_CAP, frames.HEADER_CAP, frames.MAX_BODIES + 1)
    got, said = read_socket(data, chunk)
    assert got == expected
    if outcome in REASONS:
        # A frame over its cap is refused in the socket reader's own words (it reads frame by frame).
        reason = "exceeds the cap" if outcome in ("header-cap", "message-cap") else REASONS[outcome]
        assert reason in said, (outcome, said)
    else:
        assert said == "end", (outcome, said)
