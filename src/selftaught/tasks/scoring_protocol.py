"""Scoring protocols: `strict` (ours, the default) and `paper` (the original STOP code's, for comparison).

Why two: the strict protocol is what we trust (secret test seeds, per-instance failures, scores in
[0, 1], strict outputs); the paper protocol reproduces the original code's numbers so that a result
can be set beside the paper's table. Every difference is listed in docs/tasks.md. Under `paper` the
built-in tasks load from `tasks/builtin/<name>/paper/`, a task directory of its own whose scorer
states the original semantics.
"""

from __future__ import annotations

import secrets
from typing import Literal

from selftaught.errors import UsageError

ScoringProtocol = Literal["strict", "paper"]
PROTOCOLS: tuple[str, ...] = ("strict", "paper")

PAPER_VAL_SEED = 4321
PAPER_TEST_SEED = 5678
"""The original code's public test seeds: test instance i from 5678 + i (validation: 4321 + i)."""


def check_protocol(protocol: str) -> ScoringProtocol:
    """`protocol` if it names one; else a one-line usage error."""
    if protocol == "strict":
        return "strict"
    if protocol == "paper":
        return "paper"
    raise UsageError(f"--protocol must be 'strict' or 'paper', got {protocol!r}")


def default_test_seed(protocol: str) -> int:
    """The test seed when none is given: the paper's public 5678, or a fresh secret one (strict)."""
    if check_protocol(protocol) == "paper":
        return PAPER_TEST_SEED
    return draw_test_seed()


TEST_SEED_MIN = 1_000_000  # drawn test seeds never overlap the paper's fixed seeds (4321+i, 5678+i)
TEST_SEED_MAX = 2**31 - 1 - 100_000


def draw_test_seed() -> int:
    """A fresh secret seed for the test split (the caller stores it host-side to reuse it)."""
    return TEST_SEED_MIN + secrets.randbelow(TEST_SEED_MAX - TEST_SEED_MIN)
