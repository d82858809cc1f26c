"""Errors raised by the language-model layer.

They sit on the existing hierarchy so callers need no new `except` clauses: a spent cost cap is a kind of
`BudgetExceeded` (the improver sees the paper's budget error and the run stops cleanly), and a replay miss
or a rejected key is a `UsageError` (the user fixes it; the CLI prints one line, exit code 2).
"""

from __future__ import annotations

from selftaught.errors import BudgetExceeded, UsageError

BUDGET_MESSAGE = "You have exceeded your call budget"


class CostCapReached(BudgetExceeded):
    """The run-wide `max_cost` would be exceeded by a new (uncached) call; cached calls still replay."""


class ReplayMiss(UsageError):
    """Replay-only mode met a call that the cache has no recorded answer for."""


class ModelError(Exception):
    """The endpoint failed for good: a non-retryable status, or retries exhausted.

    `status` is the HTTP status when there was one; `retryable` says whether the failure was transient
    (retries ran out) or permanent (400, 404, ...). Messages never contain the API key.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ModelAuthError(ModelError, UsageError):
    """The endpoint rejected the credentials or the model name (401, 403, 404): the user must fix it."""
