"""The evaluator-candidate socket's framing, in process on a socket pair (no sandbox): `pack_parts` and
`write_all` with many buffers (one `writev` per IOV_MAX of them, partial writes resumed), and
`SocketReader`/`recv_message` reading whole messages back, with their caps at their exact edges.
The same code runs end to end in tests/openevolve (slow)."""

from __future__ import annotations

import os
import select
import socket
import threading
import time

import numpy as np
import pytest

from selftaught.sandbox.inside import frames, wire

GUARD = 30.0  # seconds: a read that waits this long is a broken reader (they take microseconds)


def _pair() -> tuple[socket.socket, frames.SocketReader]:
    ours, theirs = socket.socketpair()
    reader = frames.SocketReader(theirs.detach())
    reader.sock.settimeout(GUARD)
    return ours, reader


def _send_soon(sock: socket.socket, data: object) -> threading.Thread:
    """Write from a thread: a socket pair holds only so much before the reader must take some."""

    def write() -> None:
        try:
            frames.write_all(sock.fileno(), data)
        except BaseException:
            sock.shutdown(socket.SHUT_WR)  # the reader sees the end at once instead of waiting
            raise

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_messages_of_small_and_large_bodies_come_back_exactly() -> None:
    """Two messages in one stream: small frames come out of the reader's buffer, a body larger than
    its chunk is received straight into its own bytearray; every byte and the message boundary kept."""
    big = os.urandom(3 * frames.SocketReader.CHUNK + 5)
    first = frames.pack_parts({"op": "a"}, [b"x", big, b"", b"yz"])
    second = frames.pack_parts({"op": "b"})
    ours, reader = _pair()
    thread = _send_soon(ours, first + second)
    try:
        header, bodies = frames.recv_message(reader, 1 << 22)
        assert header == {"op": "a", "nb": 4}
        assert bodies == [b"x", big, b"", b"yz"] and all(type(b) is bytearray for b in bodies)
        assert frames.recv_message(reader, 1 << 22) == ({"op": "b"}, [])
    finally:
        thread.join()
        ours.close()
        reader.close()


def test_a_frame_of_exactly_the_cap_is_read_and_one_byte_more_refused_unread() -> None:
    cap = 100
    ours, reader = _pair()
    try:
        ours.sendall(frames.frame(b"a" * cap) + frames.frame(b"b" * (cap + 1)))
        assert reader.frame(cap) == b"a" * cap
        with pytest.raises(wire.WireError, match=f"^frame of {cap + 1} bytes exceeds the cap of {cap}$"):
            reader.frame(cap)
    finally:
        ours.close()
        reader.close()


@pytest.mark.parametrize(
    "sent", [b"\x00\x00", frames.frame(b"abc")[:5], frames.frame(os.urandom(1 << 18))[:-1]]
)
def test_a_peer_closing_mid_frame_is_end_of_file(sent: bytes) -> None:
    """Closed inside the length, inside a buffered frame, or inside a large body being received."""
    ours, reader = _pair()

    def send_and_close() -> None:
        try:
            frames.write_all(ours.fileno(), sent)
        finally:
            ours.close()

    thread = threading.Thread(target=send_and_close)
    thread.start()
    try:
        with pytest.raises(EOFError):
            reader.frame(1 << 20)
    finally:
        thread.join()
        reader.close()


def test_a_message_may_take_exactly_its_cap_with_each_body_costing_frame_cost_more() -> None:
    """recv_message's cap covers the bodies, each charged its length plus FRAME_COST: bodies that take
    exactly the cap are read; one byte more in the last body is refused."""
    first = 50
    cap = first + frames.FRAME_COST + 30
    for last, refused in ((30, False), (31, True)):
        ours, reader = _pair()
        try:
            ours.sendall(frames.pack_message({"op": "m"}, [b"a" * first, b"b" * last]))
            if refused:
                with pytest.raises(wire.WireError, match=f"frame of {last} bytes exceeds the cap of 30"):
                    frames.recv_message(reader, cap)
            else:
                assert frames.recv_message(reader, cap)[1] == [b"a" * first, b"b" * last]
        finally:
            ours.close()
            reader.close()


def test_a_message_header_is_capped_at_header_cap_and_at_the_message_cap() -> None:
    long_header = frames.frame(b'{"k":"' + b"h" * (frames.HEADER_CAP - 8) + b'"}')
    assert len(long_header) - 4 == frames.HEADER_CAP
    for data, cap, ok in (
        (long_header, 1 << 20, True),
        (frames.frame(b'{"k":"' + b"h" * (frames.HEADER_CAP - 7) + b'"}'), 1 << 20, False),
        (frames.frame(b'{"k":"hhhh"}'), 12, True),
        (frames.frame(b'{"k":"hhhh"}'), 11, False),
    ):
        ours, reader = _pair()
        thread = _send_soon(ours, data)
        try:
            if ok:
                assert frames.recv_message(reader, cap)[0]["k"].startswith("hhhh")
            else:
                with pytest.raises(wire.WireError, match="exceeds the cap"):
                    frames.recv_message(reader, cap)
        finally:
            thread.join()
            ours.close()
            reader.close()


def test_a_message_may_carry_one_more_body_than_max_bodies_not_two() -> None:
    """The header's own count is checked before any body is read: MAX_BODIES + 1 (the arrays and the
    request's own) is allowed, one more refused."""
    for count, ok in ((frames.MAX_BODIES + 1, True), (frames.MAX_BODIES + 2, False)):
        ours, reader = _pair()
        thread = _send_soon(ours, frames.pack_parts({"op": "n"}, [b""] * count))
        try:
            if ok:
                assert len(frames.recv_message(reader, 1 << 20)[1]) == count
            else:
                with pytest.raises(wire.WireError, match=f"body count {count} exceeds"):
                    frames.recv_message(reader, 1 << 20)
        finally:
            thread.join()
            ours.close()
            reader.close()


def test_write_all_writes_more_buffers_than_one_writev_takes_in_order() -> None:
    """3 * IOV_MAX + 7 buffers of different sizes (empty ones among them), through a socket pair
    whose reader takes them as they come: every byte arrives, in order."""
    parts = [bytes([i % 251]) * (i % 5) for i in range(3 * frames.IOV_MAX + 7)]
    parts.append(os.urandom(1 << 20))  # larger than the pair holds: writev writes part of it
    ours, theirs = socket.socketpair()
    theirs.settimeout(GUARD)
    thread = _send_soon(ours, parts)
    got = bytearray()
    want = b"".join(parts)
    try:
        while len(got) < len(want):
            got += theirs.recv(1 << 16)
    finally:
        thread.join()
        ours.close()
        theirs.close()
    assert bytes(got) == want


def test_bodies_are_views_of_the_arrays_and_count_the_packed_numbers() -> None:
    """`Bodies` keeps each large array's bytes without copying them, takes arrays from its `min_bytes`
    on (one byte fewer stays inline), and counts the numbers of the packed lists encoded with it."""
    hook = wire.Bodies(min_bytes=64)
    arr = np.arange(8, dtype="<f8")
    small = np.arange(63, dtype=np.uint8)
    value = {"a": arr, "s": small, "l": [1.5] * 10, "rows": [[1, 2, 3, 4, 5, 6, 7, 8]] * 3}
    data = wire.dumps(value, hook.hook)
    # the array (64 bytes) and the two packed lists (80 and 192 bytes) go as bodies; `small` stays inline
    assert len(hook.items) == 3 and hook.size == 64 + 80 + 192
    arr[0] = 99.0  # a view: the body sees the change
    assert bytes(hook.items[0])[:8] == np.float64(99.0).tobytes()
    assert hook.packed_items == 10 + 24
    back = wire.loads(data, bodies=[bytes(item) for item in hook.items])
    assert back["s"].tobytes() == small.tobytes() and back["a"][0] == 99.0
    assert back["l"] == value["l"] and back["rows"] == value["rows"]


def test_a_bytearray_body_is_decoded_in_place_and_bytes_are_copied() -> None:
    """As `SocketReader` gives them, bytearray bodies are the message's own: the array uses them in
    place. A bytes body is copied, so the decoded array is writable either way."""
    hook = wire.Bodies()
    data = wire.dumps(np.zeros(wire.BODY_MIN, dtype=np.uint8), hook.hook)
    owned = bytearray(hook.items[0])
    arr = wire.loads(data, bodies=[owned])
    owned[0] = 7
    assert arr[0] == 7
    copied = wire.loads(data, bodies=[bytes(hook.items[0])])
    copied[0] = 5
    assert copied[0] == 5 and bytes(hook.items[0])[0] == 0


def test_write_all_resumes_a_writev_that_wrote_only_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """`writev` may write less than asked (a signal, or Linux's 2 GiB cap on one call): write_all goes on
    from the first unwritten byte, mid-buffer or at a boundary. Here every writev writes at most 7 bytes."""
    real = os.writev

    calls: list[int] = []

    def short(fd: int, buffers: list[memoryview]) -> int:
        calls.append(fd)
        assert len(calls) < 100, "write_all makes no progress"  # 58 bytes need 9 calls
        taken, left = [], 7
        for view in buffers:
            if left == 0:
                break
            taken.append(view[:left])
            left -= len(taken[-1])
        return real(fd, taken)

    monkeypatch.setattr(frames.os, "writev", short)
    parts = [b"abc", b"", b"defghijk", b"l", b"mnopqrstuvwxyz" * 3, bytearray(b"12345")]
    ours, theirs = socket.socketpair()
    theirs.settimeout(GUARD)
    try:
        frames.write_all(ours.fileno(), parts)
        ours.close()
        got = bytearray()
        while chunk := theirs.recv(1 << 16):
            got += chunk
    finally:
        theirs.close()
    assert bytes(got) == b"".join(parts)


@pytest.mark.parametrize("first", [3, 10])
def test_a_frame_arriving_in_two_pieces_is_read_whole(first: int) -> None:
    """The reader waits for a frame's whole length prefix and whole data, whatever the first `recv`
    brought: here the first 3 bytes (part of the prefix) or all but the last byte of the data, the rest
    a moment later from another thread."""
    data = frames.frame(b"abcdefg")  # 4 + 7 bytes
    ours, reader = _pair()
    ours.sendall(data[:first])

    def rest() -> None:
        time.sleep(0.2)  # lets the reader take the first piece alone (the test passes either way)
        ours.sendall(data[first:])

    thread = threading.Thread(target=rest)
    thread.start()
    try:
        assert reader.frame(100) == b"abcdefg"
    finally:
        thread.join()
        ours.close()
        reader.close()


class _CountingSocket:
    """The reader's socket, counting the receive calls it makes (the reader's point is to make few)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.calls = sock, 0

    def recv(self, size: int) -> bytes:
        self.calls += 1
        return self.sock.recv(size)

    def recv_into(self, view: memoryview, size: int, flags: int) -> int:
        self.calls += 1
        return self.sock.recv_into(view, size, flags)


def test_a_message_of_small_frames_already_sent_is_read_in_one_receive() -> None:
    """SocketReader reads CHUNK (64 KiB) at a time: a 60 KB message of 300 small bodies, all waiting
    in the socket, takes one `recv`, where a frame-by-frame reader would make 600."""
    bodies = [bytes([i % 256]) * 190 for i in range(300)]
    data = frames.pack_message({"op": "s"}, bodies)
    assert 48_000 < len(data) < frames.SocketReader.CHUNK
    ours, reader = _pair()
    counting = _CountingSocket(reader.sock)
    reader.sock = counting  # type: ignore[assignment]
    try:
        ours.sendall(data)
        assert frames.recv_message(reader, 1 << 20) == ({"op": "s", "nb": 300}, bodies)
        assert counting.calls == 1
    finally:
        ours.close()
        counting.sock.close()


def _nonblocking_pair() -> tuple[socket.socket, frames.SocketReader, list[int]]:
    """A reader on a non-blocking socket whose `wait` polls (as the evaluator's does) and counts."""
    ours, theirs = socket.socketpair()
    waits = [0]

    def wait() -> None:
        waits[0] += 1
        ready, _, _ = select.select([reader.sock], [], [], GUARD)
        if not ready:
            raise TimeoutError("no byte within the guard")

    reader = frames.SocketReader(theirs.detach(), wait=wait)
    return ours, reader, waits


def test_a_nonblocking_reader_waits_for_each_piece_and_reads_the_message_whole() -> None:
    """The evaluator's side reads answers on a non-blocking socket: a message sent in pieces, with
    pauses between them, is read whole, `wait` called while no byte is ready, every byte counted."""
    big = os.urandom(2 * frames.SocketReader.CHUNK + 3)
    data = b"".join(frames.pack_parts({"op": "a"}, [b"x", big]))
    ours, reader, waits = _nonblocking_pair()

    def trickle() -> None:
        for start in range(0, len(data), 50_000):
            time.sleep(0.02)
            ours.sendall(data[start : start + 50_000])

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        header, bodies = frames.recv_message(reader, 1 << 22)
    finally:
        thread.join()
    try:
        assert header == {"op": "a", "nb": 2} and bodies == [b"x", big]
        assert waits[0] >= 1 and reader.received == len(data) and not reader.pending
    finally:
        ours.close()
        reader.close()


def test_a_nonblocking_reader_sees_bytes_past_the_message_as_pending() -> None:
    """Bytes a peer wrote beyond one message (its next answer written ahead) stay in the reader's
    buffer and say so: the evaluator ends such a process instead of taking them as a later answer."""
    ours, reader, _ = _nonblocking_pair()
    ours.sendall(b"".join(frames.pack_parts({"op": "a"}) + frames.pack_parts({"op": "b"})))
    try:
        assert frames.recv_message(reader, 1 << 20) == ({"op": "a"}, [])
        assert reader.pending
    finally:
        ours.close()
        reader.close()


def test_a_nonblocking_reader_sees_a_closed_peer_as_end_of_file() -> None:
    ours, reader, _ = _nonblocking_pair()
    ours.sendall(b"".join(frames.pack_parts({"op": "a"}, [b"abc"]))[:-2])
    ours.close()
    try:
        with pytest.raises(EOFError):
            frames.recv_message(reader, 1 << 20)
    finally:
        reader.close()


def test_a_blocking_reader_never_calls_a_wait_it_does_not_have() -> None:
    """Without `wait` the socket blocks: no BlockingIOError reaches the reader's loop."""
    ours, reader = _pair()
    assert reader.sock.getblocking() is True or reader.sock.gettimeout() == GUARD
    thread = _send_soon(ours, frames.pack_parts({"op": "c"}))
    try:
        assert frames.recv_message(reader, 1 << 20) == ({"op": "c"}, [])
    finally:
        thread.join()
        ours.close()
        reader.close()


def test_write_all_on_a_full_nonblocking_socket_waits_then_writes_everything() -> None:
    """The evaluator writes requests on a non-blocking socket: when the kernel takes nothing more,
    `write_all` calls `wait` and resumes, so a request larger than the socket's buffer arrives whole."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    data = os.urandom(4 << 20)
    waited = [0]
    received = bytearray()

    def read_slowly() -> None:
        while len(received) < len(data):
            time.sleep(0.001)
            chunk = theirs.recv(1 << 16)
            if not chunk:
                return
            received.extend(chunk)

    def wait() -> None:
        waited[0] += 1
        select.select([], [ours], [], GUARD)

    thread = threading.Thread(target=read_slowly)
    thread.start()
    try:
        frames.write_all(ours.fileno(), [data[:1000], memoryview(data)[1000:]], wait=wait)
    finally:
        thread.join()
        ours.close()
        theirs.close()
    assert bytes(received) == data and waited[0] >= 1
