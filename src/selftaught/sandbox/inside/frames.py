"""Sandbox messages as bytes: length-prefixed frames, written whole and read back under caps.

Shared by the host, the zygote and the child (stdlib only, never imports `selftaught`), like the value
codec `wire.py` whose encoded values the frames carry. Every reader takes a size cap because the peer
may be hostile, and counts what each frame costs beyond its bytes, so a cap bounds real memory.

A *message* is one JSON header frame followed by `header["nb"]` raw body frames (default 0). Bodies let
the zygote forward instance inputs and outputs verbatim without decoding and re-encoding them.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

_LEN = struct.Struct(">I")
FRAME_COST = 64  # bytes a decoded frame costs beyond its data (a bytes object and its list slot)
HEADER_CAP = 1 << 16  # a message header from a child (rpc, event, result): request ids and kinds are short
MAX_BODIES = 4096  # raw bodies in one message between two sandboxed children (`wire.Bodies`)


class WireError(Exception):
    """The peer sent something malformed or too large; the connection should be dropped."""


def frame(data: bytes) -> bytes:
    """One frame: 4-byte big-endian length, then the bytes."""
    return _LEN.pack(len(data)) + data


def pack_parts(header: dict[str, Any], bodies: Any = ()) -> list[Any]:
    """One message as the buffers to write in order (for `write_all`, which writes them with one
    system call): the header's length and text, then each body's length and the body itself, never
    copied (a body may be a memoryview of an array: see `Bodies`)."""
    if bodies:
        header = {**header, "nb": len(bodies)}
    parts: list[Any] = [frame(json.dumps(header, separators=(",", ":")).encode())]
    for body in bodies:
        parts.append(_LEN.pack(len(body)))
        parts.append(body)
    return parts


def pack_message(header: dict[str, Any], bodies: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """Serialise a header (plus raw bodies) into the bytes of one message."""
    return b"".join(pack_parts(header, bodies))


IOV_MAX = 1024  # buffers one writev may take (Linux)


def write_all(fd: int, data: Any, wait: Callable[[], None] | None = None) -> None:
    """Write every byte (os.write may write less than asked on pipes). `data` is bytes or a list of
    buffers (`pack_parts`), written with as few `writev` calls as the kernel allows. On a non-blocking
    `fd`, `wait` is called whenever the kernel takes nothing (it returns once `fd` is writable, or
    raises)."""
    views = [memoryview(part).cast("B") for part in (data if isinstance(data, list) else [data]) if len(part)]
    while views:
        try:
            written = os.writev(fd, views[:IOV_MAX])
        except BlockingIOError:
            if wait is None:
                raise
            wait()
            continue
        while written and views:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0] = views[0][written:]
                written = 0


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, cap: int) -> bytes:
    """Blocking read of one frame; refuses frames over `cap` bytes before reading them."""
    (length,) = _LEN.unpack(_read_exact(fd, 4))
    if length > cap:
        raise WireError(f"frame of {length} bytes exceeds the cap of {cap}")
    return _read_exact(fd, length)


def parse_header(data: bytes, max_bodies: int = 1_000_000) -> dict[str, Any]:
    """Decode a header frame, turning any malformation into `WireError`."""
    try:
        header = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed header: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    nb = header.get("nb", 0)
    if type(nb) is not int or nb < 0:
        raise WireError("bad body count")
    if nb > max_bodies:
        raise WireError(f"body count {nb} exceeds the cap of {max_bodies}")
    return header


def read_message(fd: int, cap: int) -> tuple[dict[str, Any], list[bytes]]:
    """Blocking read of one message (header and its bodies)."""
    header = parse_header(read_frame(fd, cap))
    bodies = [read_frame(fd, cap) for _ in range(header.get("nb", 0))]
    return header, bodies


class SocketReader:
    """Reads of whole messages from a stream socket in few system calls (`recv_message`).

    Why: reading a message frame by frame costs two reads per frame, and a large body read as it
    trickles in wakes the reader once per chunk. Here small frames come from one buffered `recv`, and a
    large body is received straight into a bytearray of its size (with `MSG_WAITALL`: one wake-up when it
    is all there); the bytearray is the body itself, so an array decoded from it is not copied again
    (`arrays.take_body`). Takes over `fd` (closing the reader closes it).

    Blocking by default. With `wait` (a function that returns once the socket is readable, or raises),
    the socket is non-blocking and `wait` is called whenever no byte is ready: for a reader that must
    keep a deadline on a hostile peer. `received` counts the bytes taken off the socket so far;
    `pending` says whether bytes beyond the last message were read."""

    CHUNK = 1 << 16

    def __init__(self, fd: int, wait: Callable[[], None] | None = None) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(wait is None)
        self.wait = wait
        self.received = 0
        self._buf = bytearray()

    def close(self) -> None:
        self.sock.close()

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def _recv(self, size: int) -> bytes:
        while True:
            try:
                chunk = self.sock.recv(size)
            except BlockingIOError:
                self._wait()
                continue
            if not chunk:
                raise EOFError("peer closed the socket")
            self.received += len(chunk)
            return chunk

    def _recv_into(self, view: memoryview) -> int:
        while True:
            try:
                got = self.sock.recv_into(view, len(view), socket.MSG_WAITALL)
            except BlockingIOError:
                self._wait()
                continue
            if not got:
                raise EOFError("peer closed the socket")
            self.received += got
            return got

    def _wait(self) -> None:
        if self.wait is None:  # a blocking socket does not raise BlockingIOError
            raise BlockingIOError("no data on a non-blocking socket")
        self.wait()

    def _fill(self, n: int) -> None:
        while len(self._buf) < n:
            self._buf += self._recv(max(self.CHUNK, n - len(self._buf)))

    def frame(self, cap: int) -> bytearray:
        """The next frame's bytes (refused before reading if over `cap`)."""
        self._fill(4)
        (length,) = _LEN.unpack_from(self._buf)
        if length > cap:
            raise WireError(f"frame of {length} bytes exceeds the cap of {cap}")
        if len(self._buf) >= 4 + length:
            data = self._buf[4 : 4 + length]
            del self._buf[: 4 + length]
            return data
        data = bytearray(length)
        have = len(self._buf) - 4
        data[:have] = self._buf[4:]
        self._buf.clear()
        view = memoryview(data)
        while have < length:
            have += self._recv_into(view[have:])
        return data


def recv_message(reader: SocketReader, cap: int) -> tuple[dict[str, Any], list[bytearray]]:
    """Blocking read of one message from `reader`: header and bodies, `cap` bytes at most in all."""
    header = parse_header(bytes(reader.frame(min(cap, HEADER_CAP))), MAX_BODIES + 1)
    bodies, left = [], cap
    for _ in range(header.get("nb", 0)):
        body = reader.frame(left)
        left -= len(body) + FRAME_COST
        bodies.append(body)
    return header, bodies


class FrameReader:
    """Incremental, non-blocking parser: feed it bytes, take complete messages out.

    Used by poll loops that must never block on a slow or hostile peer.

    Bounded: a header frame may not exceed `header_cap`, and one message (header and bodies together)
    may not exceed `cap`, so the buffer never holds more than about `cap` bytes however the peer frames
    its data.
    """

    def __init__(self, cap: int, header_cap: int | None = None, max_bodies: int = 1_000_000) -> None:
        self.cap = cap
        self.max_bodies = max_bodies
        self.header_cap = cap if header_cap is None else min(cap, header_cap)
        self._buf = bytearray()
        self._header: dict[str, Any] | None = None
        self._bodies: list[bytes] = []
        self._taken = 0  # bytes of the current message already taken out of the buffer

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) + self._taken

    def _take_frame(self) -> bytes | None:
        if len(self._buf) < 4:
            return None
        (length,) = _LEN.unpack_from(self._buf)
        limit = self.header_cap if self._header is None else self.cap - self._taken
        if length > limit:
            what = "header" if self._header is None else "message"
            raise WireError(
                f"{what} of {length + self._taken} bytes exceeds the cap of {limit + self._taken}"
            )
        if len(self._buf) < 4 + length:
            return None
        data = bytes(self._buf[4 : 4 + length])
        del self._buf[: 4 + length]
        # Each frame taken out costs a Python object and a list slot besides its bytes: counted too, so
        # the cap bounds real memory even for a million one-byte bodies (else ~40 MB "buffering" 1 MB).
        self._taken += length + FRAME_COST
        return data

    def messages(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        """Every complete message buffered so far (raises `WireError` on malformed input)."""
        out: list[tuple[dict[str, Any], list[bytes]]] = []
        while True:
            if self._header is None:
                data = self._take_frame()
                if data is None:
                    return out
                self._header = parse_header(data, self.max_bodies)
                self._bodies = []
            while len(self._bodies) < self._header.get("nb", 0):
                data = self._take_frame()
                if data is None:
                    return out
                self._bodies.append(data)
            out.append((self._header, self._bodies))
            self._header = None
            self._taken = 0
