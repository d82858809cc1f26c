"""One real strong-mode pool per test module, started with a fake API key in the host environment."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator

import pytest

from selftaught.sandbox import SandboxPool

from .util import FAKE_KEY


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    previous = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = FAKE_KEY
    try:
        with SandboxPool(workers=2, mode="strong") as sandbox:
            yield sandbox
    finally:
        if previous is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = previous


@pytest.fixture
def machine_shared_memory() -> Iterator[None]:
    """Held while a test measures the machine's shared memory or fills sandbox scratch (tmpfs) by the
    hundred MiB: one such test at a time on this machine, whichever pytest worker or run it is in. The
    kernel drops the lock if the holder dies."""
    path = os.path.join(tempfile.gettempdir(), "selftaught-tests-shared-memory.lock")
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
