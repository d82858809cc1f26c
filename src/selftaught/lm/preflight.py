"""The preflight: one small chat request before a computation starts, so a wrong endpoint, key or model
fails in seconds with one line instead of a run of zero meta-utilities.

It goes straight to the backend: no budget, no cache entry, no ordinal, no call record, no cost against
the cap (it is a few tokens). Replay runs never contact the endpoint, so they skip it, and the offline
model needs none. An empty reply passes with a warning: reasoning models may spend the preflight's few
tokens thinking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from selftaught.errors import UsageError
from selftaught.lm.client import ModelClient
from selftaught.lm.errors import EndpointError, ModelError
from selftaught.lm.probe import ask_check


class PreflightConfigError(UsageError):
    """The endpoint answered but refused the request as configured (exit code 2)."""


@dataclass(frozen=True)
class PreflightResult:
    """What the endpoint answered: for `doctor --model` and the run's log."""

    model: str
    latency_s: float
    reply: str
    finish_reason: str
    warning: str | None = None


def needs_preflight(client: ModelClient) -> bool:
    """Only real endpoints, and never in replay mode."""
    return client.spec.kind == "openai" and client.settings.cache_mode != "replay"


def preflight(client: ModelClient) -> PreflightResult:
    """Send one tiny request; raise `ModelAuthError` (key, model: exit 2), `PreflightConfigError`
    (another 4xx: exit 2) or `EndpointError` (unreachable, 5xx, timeouts: exit 1)."""
    started = time.perf_counter()
    result = ask_check(client.backend, client.spec.name)
    latency = time.perf_counter() - started
    if isinstance(result, EndpointError):
        raise result
    if isinstance(result, ModelError):
        if result.retryable:  # timeouts after the retries
            raise EndpointError(f"preflight: {result}", status=result.status, retryable=True) from None
        raise PreflightConfigError(f"preflight: {result}") from None
    if isinstance(result, BaseException):
        raise result
    reply = result.texts[0] if result.texts else ""
    reason = result.finish_reasons[0] if result.finish_reasons else "unknown"
    warning = None
    if not reply.strip():
        warning = (
            f"{client.spec}: the preflight got an empty reply (finish reason {reason!r}); a reasoning model "
            "may have spent its few tokens thinking. Going on; check replies if every candidate is empty."
        )
    return PreflightResult(str(client.spec), latency, reply, reason, warning)
