"""One real strong-mode pool per test module, started with a fake API key in the host environment."""

from __future__ import annotations

import os
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
