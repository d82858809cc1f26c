"""What a job's messages cost the host as held in memory, and the budget that bounds it.

Encoded sizes understate memory: eight bytes of JSON (`0.12345,`) become a 24-byte float object and an
8-byte list slot once decoded, so a cap on encoded bytes let 256 MiB of outputs hold 2-3 GB. A budget
here is charged with what is really held: the encoded bytes while a message waits in the host, then the
decoded value's size (`held_size`) instead, once it is decoded and kept.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

_SCALARS = frozenset({int, float, str, bytes, complex})
_ARRAY_OVERHEAD = 112  # an ndarray object without its data


def held_size(value: Any) -> int:
    """Bytes `value` holds (containers, their items and array data), counted conservatively.

    Shared objects (None, booleans, small ints) are counted at most as their own size, never less than
    what they really cost, so the result is an upper bound for values the wire decoder makes.
    Iterative: a decoded value is at most ~200 deep, but no recursion is needed to walk it.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or item is True or item is False:
            continue
        if isinstance(item, np.ndarray):
            total += item.nbytes + _ARRAY_OVERHEAD
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += sys.getsizeof(item)
            kinds = set(map(type, item))
            if kinds <= _SCALARS:
                total += sum(map(sys.getsizeof, item))  # fast path: a flat list of numbers or strings
            else:
                stack.extend(item)
        elif isinstance(item, dict):
            total += sys.getsizeof(item) + sum(map(sys.getsizeof, item.keys()))  # keys: str or tuples
            values = item.values()
            if set(map(type, values)) <= _SCALARS:
                total += sum(map(sys.getsizeof, values))
            else:
                stack.extend(values)
            stack.extend(key for key in item if isinstance(key, tuple))  # a tuple key's items
        else:
            total += sys.getsizeof(item)
    return total


class Budget:
    """Bytes a job may hold in the host for one kind of message (thread-safe)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        """Take `size` bytes if they fit; False (nothing taken) if not."""
        with self._lock:
            if self.held + size > self.cap:
                return False
            self.held += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self.held -= size

    def exchange(self, old: int, new: int) -> bool:
        """Replace a reservation of `old` bytes by `new` (decoded) bytes; if `new` does not fit, keep
        neither and return False."""
        with self._lock:
            self.held -= old
            if self.held + new > self.cap:
                return False
            self.held += new
            return True
