"""Cheap large inputs: big numpy arrays are written once to a shared tmpfs file, not re-encoded per job.

A task evaluates hundreds of programs on the same instances, so an array of, say, 200x200 weights is
written once (content-addressed) into a directory the sandbox sees read-only; the child maps it
copy-on-write. Arrays the caller has frozen (`arr.setflags(write=False)`) skip even the hashing: they get
a fresh file name and are remembered by identity for as long as they live.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any

import numpy as np

from selftaught.sandbox.inside.wire import TAG

SHARE_THRESHOLD = 32 << 10  # bytes: below this, inline base64 is cheaper than a file
SHARE_BUDGET = 2 << 30  # bytes of shared files before falling back to inline encoding


PREFIX = "selftaught-inputs-"


def remove_orphans(base: str) -> None:
    """Delete input directories left by hosts that were killed (SIGKILL skips their clean-up).

    A directory is named after its host's pid; it is an orphan once no process has that pid. A reused
    pid keeps an orphan alive a little longer, never deletes a live host's directory.
    """
    try:
        entries = os.listdir(base)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(PREFIX):
            continue
        pid_text = entry[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not os.path.exists(f"/proc/{pid_text}"):
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)


class SharedInputs:
    """The host side of the shared-inputs directory (`hook` is a `wire.ArrayHook`)."""

    def __init__(self) -> None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        remove_orphans(base)
        self.directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
        os.chmod(self.directory, 0o755)
        self._lock = threading.Lock()
        self._by_id: dict[int, str] = {}
        self._names: set[str] = set()
        self._bytes = 0
        self._fresh = itertools.count()  # names of frozen arrays (thread-safe in CPython)

    def hook(self, arr: np.ndarray) -> dict[str, Any] | None:
        """Reference to a shared copy of `arr`, or None to encode it inline."""
        if arr.nbytes < SHARE_THRESHOLD:
            return None
        frozen = not arr.flags.writeable and arr.base is None
        name = self._by_id.get(id(arr)) if frozen else None
        if name is None:
            data = np.ascontiguousarray(arr)
            if frozen:
                # Remembered by identity from now on, so the content hash would buy only deduplication
                # between distinct frozen arrays with equal contents (rare) at ~1 ms per MB: a fresh
                # name instead makes the first share of a cold Max-Cut split ~14 ms cheaper.
                name = f"f{os.getpid()}-{next(self._fresh)}-{arr.dtype.str}.bin"
            else:
                digest = hashlib.blake2b(data.data.cast("B"), digest_size=20).hexdigest()
                name = f"{digest}-{arr.dtype.str}.bin"
            if not self._store(name, data):
                return None
            if frozen:
                self._remember(arr, name)
        return {TAG: "nd", "dtype": arr.dtype.str, "shape": list(arr.shape), "file": name}

    def _remember(self, arr: np.ndarray, name: str) -> None:
        key = id(arr)
        with self._lock:
            self._by_id[key] = name
        weakref.finalize(arr, self._by_id.pop, key, None)

    def _store(self, name: str, data: np.ndarray) -> bool:
        with self._lock:
            if name in self._names:
                return True
            if self._bytes + data.nbytes > SHARE_BUDGET:
                return False
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data.data.cast("B"))
            os.chmod(tmp, 0o644)
            os.replace(tmp, os.path.join(self.directory, name))
            self._names.add(name)
            self._bytes += data.nbytes
            return True

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
