"""Fair shares of the CPU slots between the callers of one pool.

Why: CPU-bound jobs wait for one of the pool's slots (one per core). First come, first served let one
hostile improver starve the others: it fires its whole utility budget of slow programs from many
threads at once, and an honest improver evaluated at the same time waits behind all of them — while its
own job runs on a wall-clock timeout. Here a free slot goes to the waiting owner that holds the fewest
slots and, among those, the one served least recently (round robin; first come, first served within
one owner), so each concurrent owner gets its share.

An owner is whoever made the job: the pool names the job whose remote call is being served (so the
evaluations an improver asks for are that improver's, at every nesting level); jobs submitted outside
any remote call share the owner "" (the host itself).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import Counter
from collections.abc import Iterator

_local = threading.local()
REMEMBERED_OWNERS = 4096


def current_owner() -> str:
    """The owner of jobs submitted from this thread ("" outside any remote call)."""
    return getattr(_local, "owner", "")


@contextlib.contextmanager
def owned_by(owner: str) -> Iterator[None]:
    """Jobs submitted from this thread inside the block belong to `owner`."""
    previous = current_owner()
    _local.owner = owner
    try:
        yield
    finally:
        _local.owner = previous


class FairGate:
    """`slots` permits; a free permit goes to the waiter whose owner holds the fewest, then was served
    least recently, then came first."""

    def __init__(self, slots: int) -> None:
        self._cond = threading.Condition()
        self._free = slots
        self._held: Counter[str] = Counter()
        self._waiting: dict[int, str] = {}  # ticket (arrival order) -> owner
        self._tickets = itertools.count()
        self._grants = itertools.count()
        self._last_served: dict[str, int] = {}  # owner -> number of its latest grant

    @contextlib.contextmanager
    def slot(self, owner: str) -> Iterator[None]:
        self._acquire(owner)
        try:
            yield
        finally:
            self._release(owner)

    def _acquire(self, owner: str) -> None:
        with self._cond:
            ticket = next(self._tickets)
            self._waiting[ticket] = owner
            try:
                while not (self._free > 0 and self._next() == ticket):
                    self._cond.wait()
            finally:
                del self._waiting[ticket]
            self._free -= 1
            self._held[owner] += 1
            # Kept after the owner leaves (an owner that comes straight back is not new), for the
            # owners of the latest grants only: the oldest drop out, so the table stays bounded.
            self._last_served.pop(owner, None)
            self._last_served[owner] = next(self._grants)
            if len(self._last_served) > REMEMBERED_OWNERS:
                del self._last_served[next(iter(self._last_served))]
            self._cond.notify_all()  # another slot may be free for the next in line

    def _release(self, owner: str) -> None:
        with self._cond:
            self._free += 1
            self._held[owner] -= 1
            if not self._held[owner]:
                del self._held[owner]
            self._cond.notify_all()

    def _next(self) -> int:
        def rank(ticket: int) -> tuple[int, int, int]:
            owner = self._waiting[ticket]
            return self._held[owner], self._last_served.get(owner, -1), ticket

        return min(self._waiting, key=rank)
