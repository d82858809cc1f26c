"""The sandbox pool the OpenEvolve end-to-end modules share: one per module, two workers (an evaluator's
process and its candidate's run side by side), closed when the module's tests are done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftaught.sandbox import SandboxPool


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(workers=2) as executor:
        yield executor
