"""Shared fixtures of the task tests: one real sandbox pool per session (never a stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(scope="session")
def pool() -> Iterator[object]:
    import selftaught.sandbox  # noqa: F401  (imported before the executors package: see the report)
    from selftaught.sandbox import SandboxPool

    sandbox = SandboxPool(mode="strong")
    yield sandbox
    sandbox.close()


def program(name: str) -> str:
    """The source of a test program in tests/tasks/programs (run only in the sandbox)."""
    return (PROGRAMS / f"{name}.py").read_text(encoding="utf-8")


def backstop_reason(pool: object) -> str:
    """How a sleeper's timeout begins: by sleep time where the kernel reports run-queue waits."""
    schedstat = pool.worker_layers()["schedstat"]  # type: ignore[attr-defined]
    return "timeout (sleep backstop" if schedstat else "timeout (wall-clock backstop"
