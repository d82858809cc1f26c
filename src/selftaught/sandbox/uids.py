"""Uids private to each zygote: a block of sandbox uids locked for the zygote's lifetime.

Why: children run as uids of their own (`RLIMIT_NPROC` counts per uid, `/proc/PID/mem` is guarded by
uid). If two pools — in one process, in two `selftaught` processes, or in Ray workers on one node —
used the same uids, a job of one could exhaust the process limit of another's, or signal it. Each
zygote therefore takes a block of `BLOCK` uids that no other live zygote on the machine holds: block
`b` is held while its lock file (`/dev/shm/selftaught-uids/b`) is `flock`ed, which the kernel releases
when the holder dies, so a crashed process never leaks a block.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

from selftaught.errors import SandboxUnavailable

UID_BASE = 61000
BLOCK = 1000  # uids per zygote (its concurrent children)
MAX_BLOCKS = 4000  # uids up to 4,061,000: far below the 32-bit limit, above any system range
LOCK_DIR = "/dev/shm/selftaught-uids"


@dataclass
class UidBlock:
    """A locked block: uids `base` .. `base + BLOCK - 1`. `release` (or the process's death) frees it."""

    index: int
    fd: int

    @property
    def base(self) -> int:
        return UID_BASE + self.index * BLOCK

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1


def acquire(lock_dir: str = LOCK_DIR) -> UidBlock:
    """The lowest block no other live zygote holds; SandboxUnavailable if all are taken."""
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    for index in range(MAX_BLOCKS):
        fd = os.open(os.path.join(lock_dir, str(index)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidBlock(index, fd)
    raise SandboxUnavailable(f"all {MAX_BLOCKS} sandbox uid blocks are in use on this machine")
