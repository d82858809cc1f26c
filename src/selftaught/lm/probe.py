"""The check request: the preflight's tiny chat request, also asked again after a call fails for good.

Why one request for both: a failed call may be the endpoint's fault (down, broken, out of credit) or
the request's own (a prompt the server cannot handle, an oversized body answered with a 429 that never
clears). Generated programs write prompts, so a prompt must never be able to fail a run. The only way
to tell the two apart from outside is to ask the endpoint something known to be harmless: if it answers
the check request, the failed call was that call's error; if it fails that too, the endpoint is at fault.
"""

from __future__ import annotations

from selftaught.lm.backend import Backend, Completion, Request

CHECK_SYSTEM = "You are a helpful assistant."
CHECK_MESSAGE = "Reply with the single word: ready"
CHECK_MAX_TOKENS = 32


def check_request(model: str) -> Request:
    """The check request for `model` (n = 1, temperature 0, a few tokens)."""
    return Request(model, CHECK_SYSTEM, CHECK_MESSAGE, 1, 0.0, CHECK_MAX_TOKENS, "preflight")


def ask_check(backend: Backend, model: str) -> Completion | BaseException:
    """Send the check request straight to the backend (with its retries): the answer or the failure."""
    (result,) = backend.complete_many([check_request(model)])
    return result
