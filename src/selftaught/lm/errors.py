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
    """One request failed for good: a non-retryable status, or retries exhausted.

    `status` is the HTTP status when there was one; `retryable` says whether the failure was transient
    (retries ran out) or permanent (400, 413, ...). Messages never contain the API key. A plain
    `ModelError` is this request's own failure (the endpoint still answered the check request asked
    after it): the improver that made the call sees it as that call's error, and the run goes on.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class EndpointError(ModelError):
    """The endpoint itself failed: a call failed for good (connection, status, malformed or empty body)
    and the endpoint then failed the check request too (`selftaught.lm.probe`), or the preflight
    failed. Judged by that second, harmless request, never by the failed call alone, because a
    generated prompt can make one call fail (a dropped connection, a 429 that never clears for an
    oversized body) but not the check request. It stops the run (status `failed`, exit code 1, the run
    resumable) instead of reaching improvers as one more failed call. The message names the endpoint
    and the cause in one line."""


class ModelAuthError(EndpointError, UsageError):
    """The endpoint rejected the credentials or the model name (401, 403, 404): the user must fix it
    (found by the preflight it is a configuration error, exit code 2)."""
