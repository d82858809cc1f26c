"""An array's wire form: its dtype and shape checked, its bytes from base64, a shared file or a raw body.

Part of the value codec (`wire.py`), apart because it is the one part that touches raw memory: memory
maps of the shared input files, message bodies used in place, buffers numpy reads without a copy. Every
check that keeps a hostile tag from mapping or allocating more than it carries is here, before any byte
is used. A packed list (`packed`) is a list of plain numbers sent as such an array. Stdlib and numpy
only, like the rest of `inside/`.
"""

from __future__ import annotations

import base64
import itertools
import mmap
import operator
import os
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

if __package__:  # on the host, as selftaught.sandbox.inside.arrays
    from selftaught.sandbox.inside.frames import WireError
else:  # in the zygote and its children, where the inside directory is on sys.path
    from frames import WireError  # type: ignore[no-redef]

# dtype kinds allowed across the boundary: bool, signed/unsigned int, float, complex, unicode, bytes.
SAFE_KINDS = frozenset("biufcUS")
MAX_DIMS = 32  # numpy allows 64; no honest value needs more
MAX_DIM = 1 << 40  # a dimension larger than this cannot fit in any buffer a frame can carry
MAX_DTYPE_CHARS = 16
PACKED_MIN = 8  # shorter lists of numbers stay JSON (the tag would cost more than it saves)
# Where shared arrays come from: a directory, or (in the child) a function giving the fd the zygote
# passed for a file name (KeyError if it passed none: the array is not this instance's).
Shared = str | Callable[[str], int] | None


def safe_dtype(dtype: np.dtype) -> bool:
    """Plain numbers, text or bytes: never objects (a pickle in disguise), records or void."""
    return dtype.kind in SAFE_KINDS and not dtype.hasobject


PACKED_DTYPES = {float: np.float64, complex: np.complex128, int: np.int64}


_STRUCT_CODES = {float: "d", int: "q"}  # struct packs these ~3 times faster than numpy converts them
_LITTLE = {kind: np.dtype(dtype).newbyteorder("<") for kind, dtype in PACKED_DTYPES.items()}


def packed(items: list[Any]) -> np.ndarray | None:
    """The list as an array when every item is exactly a float, exactly an int (int64) or exactly a
    complex (never bools, subclasses or numpy scalars, which keep their own encoding): 1-D, or 2-D for a
    list of at least one row, all rows lists of one length of such numbers. Else None.

    Why it is written this way: a result's lists are encoded in the candidate's process on every call,
    and that time is the candidate's as the evaluator's clocks see it, so it is kept to the least the
    interpreter allows: the items' types are counted in C (`operator.countOf` compares by identity
    first) against the first item's, and packed by `struct` from one flat list."""
    if not items:
        return None
    first = items[0]
    shape: tuple[int, ...] = (len(items),)
    numbers = items
    if type(first) is list:
        width = len(first)
        if width < PACKED_MIN or operator.countOf(map(type, items), list) != len(items):
            return None
        if operator.countOf(map(len, items), width) != len(items):
            return None
        shape = (len(items), width)
        numbers = list(itertools.chain.from_iterable(items))
    elif len(items) < PACKED_MIN:
        return None
    kind = type(numbers[0])
    dtype = PACKED_DTYPES.get(kind)
    if dtype is None or operator.countOf(map(type, numbers), kind) != len(numbers):
        return None
    code = _STRUCT_CODES.get(kind)
    try:
        if code is None:  # complex: no struct code
            return np.fromiter(numbers, dtype=dtype, count=len(numbers)).reshape(shape)
        data = struct.pack(f"<{len(numbers)}{code}", *numbers)
    except (OverflowError, struct.error):  # an int beyond int64: JSON keeps it exact
        return None
    return np.frombuffer(data, dtype=_LITTLE[kind]).reshape(shape)


def _shape(raw: Any) -> tuple[int, ...]:
    """A shape from the wire: a short list of plain non-negative ints (never floats, bools or Infinity)."""
    if not isinstance(raw, list) or len(raw) > MAX_DIMS:
        raise WireError("array shape is not a list of at most 32 dimensions")
    if not all(type(n) is int and 0 <= n <= MAX_DIM for n in raw):
        raise WireError(f"array shape has a dimension that is not an integer in [0, 2**40]: {str(raw)[:80]}")
    return tuple(raw)


def from_wire(obj: dict[str, Any], shared_dir: Shared, bodies: list[Any] | None = None) -> np.ndarray:
    """The array an `nd` tag stands for, its dtype, shape and size checked before any byte is used."""
    code = obj.get("dtype")
    if not isinstance(code, str) or len(code) > MAX_DTYPE_CHARS:
        raise WireError("array dtype is not a short string")
    dtype = np.dtype(code)
    if not safe_dtype(dtype) or dtype.itemsize == 0:
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
    elif "body" in obj:
        buf = take_body(obj["body"], bodies)
    else:
        data = obj.get("b64")
        if not isinstance(data, str):
            raise WireError("array data is not a base64 string")
        buf = bytearray(base64.b64decode(data, validate=True))
    if len(buf) != count * dtype.itemsize:
        raise WireError("array size does not match its shape")
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)


def take_body(index: Any, bodies: list[Any] | None) -> bytearray:
    """The bytes of message body `index`, writable, which no other array may use after this one: a body
    named twice would let a small message decode into many large arrays. A bytearray body (as
    `SocketReader` receives them: the message's own) is used in place, anything else copied."""
    if bodies is None or type(index) is not int or not 0 <= index < len(bodies):
        raise WireError("array body out of range")
    body = bodies[index]
    if body is None:
        raise WireError("array body used twice")
    bodies[index] = None
    return body if type(body) is bytearray else bytearray(body)
