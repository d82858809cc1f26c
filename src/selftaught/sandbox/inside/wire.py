"""The sandbox wire format: length-prefixed frames of JSON, and a faithful codec for numpy values.

Shared by the host, the zygote and the child (stdlib + numpy only, never imports `selftaught`), so there
is exactly one implementation of how values cross the trust boundary. Never pickle: a pickle from the
child would run code in the host. Every reader takes a size cap because the peer may be hostile.

A *message* is one JSON header frame followed by `header["nb"]` raw body frames (default 0). Bodies let
the zygote forward instance inputs and outputs verbatim without decoding and re-encoding them.

Value encoding (`encode`/`decode`): JSON scalars, lists and str-keyed dicts stay as they are; tuples
become lists; everything else is a tagged dict `{"__st__": kind, ...}`: numpy arrays keep dtype and shape
(a (n, 1) array stays (n, 1), so scorers can reject shapes that would broadcast), large input arrays
may live in a read-only shared file (`file`), sets, bytes and non-str-keyed dicts are tagged. Anything
else raises `Unserializable`.
"""

from __future__ import annotations

import base64
import json
import mmap
import os
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

# Re-exported: every string a child names in a header passes through it (zygote) before the host sees it.
if __package__:  # on the host, as selftaught.sandbox.inside.wire
    from selftaught.codetext.safetext import safe_text as safe_text
else:
    try:  # in the zygote and its children, where the codetext directory is on sys.path
        from safetext import safe_text as safe_text  # type: ignore[no-redef]
    except ImportError:  # inside/ put on sys.path by a host-side tool or test
        from selftaught.codetext.safetext import safe_text as safe_text  # type: ignore[no-redef]

_LEN = struct.Struct(">I")
TAG = "__st__"
# dtype kinds allowed across the boundary: bool, signed/unsigned int, float, complex, unicode, bytes.
_SAFE_KINDS = frozenset("biufcUS")
MAX_DEPTH = 200
MAX_DIMS = 32  # numpy allows 64; no honest value needs more
MAX_DIM = 1 << 40  # a dimension larger than this cannot fit in any buffer a frame can carry
MAX_ITEMS = 2_000_000  # JSON containers' items in one value: bounds the decoded objects' memory
MAX_DTYPE_CHARS = 16
FRAME_COST = 64  # bytes a decoded frame costs beyond its data (a bytes object and its list slot)
HEADER_CAP = 1 << 16  # a message header from a child (rpc, event, result): request ids and kinds are short


class WireError(Exception):
    """The peer sent something malformed or too large; the connection should be dropped."""


class Unserializable(Exception):
    """A value that cannot cross the boundary; the message is "unserializable: <type>"."""


# ---------------------------------------------------------------- framing


def frame(data: bytes) -> bytes:
    """One frame: 4-byte big-endian length, then the bytes."""
    return _LEN.pack(len(data)) + data


def pack_message(header: dict[str, Any], bodies: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """Serialise a header (plus raw bodies) into the bytes of one message."""
    if bodies:
        header = {**header, "nb": len(bodies)}
    parts = [frame(json.dumps(header, separators=(",", ":")).encode())]
    parts.extend(frame(body) for body in bodies)
    return b"".join(parts)


def write_all(fd: int, data: bytes) -> None:
    """Blocking write of every byte (os.write may write less than asked on pipes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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


# ---------------------------------------------------------------- values

ArrayHook = Callable[[np.ndarray], "dict[str, Any] | None"]
# Encodes a value of a type this module does not know (e.g. the host's `Proxy`), or returns None.
OtherHook = Callable[[Any], "dict[str, Any] | None"]
Resolver = Callable[[str], Any]
# Where shared arrays come from: a directory, or (in the child) a function giving the fd the zygote
# passed for a file name (KeyError if it passed none: the array is not this instance's).
Shared = str | Callable[[str], int] | None


def _encode_array(arr: np.ndarray, hook: ArrayHook | None) -> dict[str, Any]:
    if arr.dtype.kind not in _SAFE_KINDS or arr.dtype.hasobject:
        raise Unserializable(f"unserializable: ndarray of dtype {arr.dtype}")
    if hook is not None:
        ref = hook(arr)
        if ref is not None:
            return ref
    data = np.ascontiguousarray(arr).tobytes()
    return {
        TAG: "nd",
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(data).decode(),
    }


def encode(
    value: Any, array_hook: ArrayHook | None = None, other_hook: OtherHook | None = None, _depth: int = 0
) -> Any:
    """Turn a Python value into a JSON-able structure (see the module docstring), or raise Unserializable."""
    if _depth > MAX_DEPTH:
        raise Unserializable("unserializable: nesting deeper than 200")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [encode(item, array_hook, other_hook, _depth + 1) for item in value]
    if isinstance(value, dict):
        if all(type(key) is str for key in value) and TAG not in value:
            return {key: encode(item, array_hook, other_hook, _depth + 1) for key, item in value.items()}
        return {
            TAG: "dict",
            "items": [
                [encode(k, array_hook, other_hook, _depth + 1), encode(v, array_hook, other_hook, _depth + 1)]
                for k, v in value.items()
            ],
        }
    if isinstance(value, np.ndarray):
        return _encode_array(value, array_hook)
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return _encode_array(np.asarray(value), array_hook) | {"scalar": True}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "items": [encode(item, array_hook, other_hook, _depth + 1) for item in value]}
    if isinstance(value, (bytes, bytearray)):
        return {TAG: "bytes", "b64": base64.b64encode(bytes(value)).decode()}
    if other_hook is not None:
        encoded = other_hook(value)
        if encoded is not None:
            return encoded
    raise Unserializable(f"unserializable: {type(value).__name__}")


def dumps(value: Any, array_hook: ArrayHook | None = None, other_hook: OtherHook | None = None) -> bytes:
    """`encode` then JSON bytes; Unserializable for values that cannot be represented."""
    try:
        return json.dumps(encode(value, array_hook, other_hook), separators=(",", ":")).encode()
    except RecursionError:
        raise Unserializable("unserializable: nesting too deep") from None
    except (TypeError, ValueError) as exc:
        raise Unserializable(f"unserializable: {exc}") from None


def _shape(raw: Any) -> tuple[int, ...]:
    """A shape from the wire: a short list of plain non-negative ints (never floats, bools or Infinity)."""
    if not isinstance(raw, list) or len(raw) > MAX_DIMS:
        raise WireError("array shape is not a list of at most 32 dimensions")
    if not all(type(n) is int and 0 <= n <= MAX_DIM for n in raw):
        raise WireError(f"array shape has a dimension that is not an integer in [0, 2**40]: {str(raw)[:80]}")
    return tuple(raw)


def _decode_array(obj: dict[str, Any], shared_dir: Shared) -> Any:
    code = obj.get("dtype")
    if not isinstance(code, str) or len(code) > MAX_DTYPE_CHARS:
        raise WireError("array dtype is not a short string")
    dtype = np.dtype(code)
    if dtype.kind not in _SAFE_KINDS or dtype.hasobject or dtype.itemsize == 0:
        raise WireError(f"refused dtype {dtype}")
    shape = _shape(obj.get("shape"))
    count = 1
    for n in shape:
        count *= n
    if "file" in obj:
        name = obj["file"]
        if shared_dir is None or not isinstance(name, str) or "/" in name or name.startswith("."):
            raise WireError("shared array outside the shared directory")
        if callable(shared_dir):
            # The child cannot open the shared directory: the zygote passed it this instance's files.
            fd = shared_dir(name)
            buf: Any = mmap.mmap(fd, 0, access=mmap.ACCESS_COPY) if count else b""
        else:
            with open(os.path.join(shared_dir, name), "rb") as fh:
                # Copy-on-write: the program may scribble on its inputs without touching the shared file.
                buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY) if count else b""
    else:
        data = obj.get("b64")
        if not isinstance(data, str):
            raise WireError("array data is not a base64 string")
        buf = bytearray(base64.b64decode(data, validate=True))
    if len(buf) != count * dtype.itemsize:
        raise WireError("array size does not match its shape")
    arr = np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)
    return arr[()] if obj.get("scalar") else arr


def _text(value: str) -> str:
    """Strings must be encodable (no lone surrogates): the host stores and prints them as UTF-8."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WireError("text with a lone surrogate (not encodable as UTF-8)") from None
    return value


def decode(obj: Any, shared_dir: Shared = None, resolve: Resolver | None = None, _depth: int = 0) -> Any:
    """Inverse of `encode`; raises WireError on anything malformed (the input may be hostile)."""
    if _depth > MAX_DEPTH + 2:
        raise WireError("nesting too deep")
    if isinstance(obj, str):
        return _text(obj)
    if isinstance(obj, list):
        return [decode(item, shared_dir, resolve, _depth + 1) for item in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(TAG)
    if kind is None:
        return {_text(key): decode(item, shared_dir, resolve, _depth + 1) for key, item in obj.items()}
    if kind == "nd":
        return _decode_array(obj, shared_dir)
    if kind == "dict":
        return {
            _hashable(decode(k, shared_dir, resolve, _depth + 1)): decode(v, shared_dir, resolve, _depth + 1)
            for k, v in obj["items"]
        }
    if kind == "set":
        return {_hashable(decode(item, shared_dir, resolve, _depth + 1)) for item in obj["items"]}
    if kind == "bytes":
        return base64.b64decode(obj["b64"], validate=True)
    if kind == "proxy" and resolve is not None:
        return resolve(str(obj["name"]))
    raise WireError(f"unknown tag {str(kind)[:40]!r}")


def _hashable(value: Any) -> Any:
    """Lists that were tuples before encoding come back as tuples when they must be hashable."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


# Every way a hostile value can make decoding fail, turned into WireError in `loads` (the one place).
_DECODE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    RecursionError,
    OSError,
    MemoryError,
    IndexError,
    AttributeError,
)


def loads(data: bytes, shared_dir: Shared = None, resolve: Resolver | None = None) -> Any:
    """JSON bytes to a decoded value, or WireError saying why not: the bounded decoder of the boundary.

    Caps the number of JSON items before parsing (a 30 MB list of small numbers would otherwise cost
    gigabytes of Python objects), nesting depth, array shapes and dtypes, and refuses unencodable text.
    Nothing else escapes: every failure is a WireError, which callers turn into that job's failure.
    """
    items = data.count(b",") + data.count(b"[") + data.count(b"{")
    if items > MAX_ITEMS:
        raise WireError(f"value with about {items} items exceeds the cap of {MAX_ITEMS}")
    try:
        return decode(json.loads(data), shared_dir, resolve)
    except WireError:
        raise
    except _DECODE_ERRORS as exc:
        raise WireError(f"malformed value: {type(exc).__name__}: {str(exc)[:200]}") from None
