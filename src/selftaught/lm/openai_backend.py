"""Any OpenAI-compatible chat-completions endpoint, through the official async SDK.

Why our own retry loop instead of the SDK's: every attempt must be visible (a retried call still counts
once against the budget, but its latency and failures are recorded), Retry-After must win over our
backoff, and the concurrency limit must be released while a request waits to retry. The SDK's own
retries are therefore disabled (`max_retries=0`).

`n` choices: one request with `n` asks for all answers at once. Servers that ignore `n` return fewer
choices; the backend then tops up with parallel single-answer requests and remembers that the server
ignores `n` (later requests go parallel from the start).
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import random
import socket
import time
from dataclasses import dataclass
from typing import Any

import openai

from selftaught.lm.backend import Completion, Request, estimate_tokens
from selftaught.lm.errors import EndpointError, ModelAuthError, ModelError
from selftaught.lm.loop import LoopThread
from selftaught.lm.settings import ModelSettings
from selftaught.lm.spec import ModelSpec

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = 120.0
_CONNECT_RETRIES = 2  # a refused connection is retried briefly: a server still starting gets a moment
_CONNECT_DELAY = 0.5
# The SDK's exception classes for statuses the endpoint alone decides, whatever the request was.
_AUTH_ERRORS: tuple[type[openai.APIStatusError], ...] = (
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
)
_ENDPOINT_RETRYABLE: tuple[type[openai.APIStatusError], ...] = (
    openai.InternalServerError,
    openai.RateLimitError,
)


@dataclass(frozen=True)
class _Reply:
    texts: list[str]
    finish_reasons: list[str]
    tokens_in: int
    tokens_out: int


class _Retryable(Exception):
    """A transient failure of one attempt; carries the server's Retry-After (seconds) if any.

    `endpoint` marks failures that are the endpoint's alone (5xx, 429, no connection): when the
    retries run out they become an `EndpointError`. `unreachable` marks a refused connection, which
    gets only a short retry."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        *,
        endpoint: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.endpoint = endpoint
        self.unreachable = unreachable


class OpenAIBackend:
    """Chat completions with retries, a concurrency limit and `n` fallback, on a client-owned loop."""

    def __init__(self, spec: ModelSpec, api_key: str, settings: ModelSettings) -> None:
        self.spec = spec
        self.settings = settings
        self._key = api_key
        self._supports_n = settings.supports_n
        self._token_field = "max_tokens"  # newer OpenAI models only accept "max_completion_tokens"
        self._send_temperature = True  # some reasoning models only accept their default temperature
        self._rng = random.Random()
        self._loop = LoopThread(name=f"selftaught-lm-{spec.model}")
        self._client, self._limit = self._loop.run(self._open())
        self.attempts = 0  # HTTP attempts made, retries included (for figures and tests)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend({self.spec})"

    async def _open(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self.spec.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )
        return client, asyncio.Semaphore(self.settings.concurrency)

    def complete_many(self, requests: list[Request]) -> list[Completion | BaseException]:
        return self._loop.run(self._gather(requests))

    def close(self) -> None:
        try:
            self._loop.run(self._client.close())
        finally:
            self._loop.close()

    async def _gather(self, requests: list[Request]) -> list[Completion | BaseException]:
        results = await asyncio.gather(*(self._complete(r) for r in requests), return_exceptions=True)
        return list(results)

    async def _complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        if request.n == 1 or self._supports_n is False:
            replies = await self._parallel(request, request.n)
        else:
            first = await self._attempts(request, request.n)
            replies = [first]
            missing = request.n - len(first.texts)
            if 0 < len(first.texts) < request.n:
                self._supports_n = False
                replies += await self._parallel(request, missing)
            elif first.texts and self._supports_n is None:
                self._supports_n = True
        return _merge(replies, request.n, time.perf_counter() - started)

    async def _parallel(self, request: Request, count: int) -> list[_Reply]:
        return list(await asyncio.gather(*(self._attempts(request, 1) for _ in range(count))))

    async def _attempts(self, request: Request, n: int) -> _Reply:
        """One logical request with retries; raises ModelError (EndpointError when the endpoint itself
        failed) when it fails for good."""
        for attempt in range(self.settings.max_retries + 1):
            try:
                async with self._limit:
                    self.attempts += 1
                    return await self._once(request, n)
            except _Retryable as exc:
                last = attempt == self.settings.max_retries or (
                    exc.unreachable and attempt >= _CONNECT_RETRIES
                )
                if last:
                    kind = EndpointError if exc.endpoint else ModelError
                    raise kind(
                        f"{self.spec}: gave up after {attempt + 1} attempts: {exc}",
                        status=exc.status,
                        retryable=True,
                    ) from None
                delay = self._delay(attempt, exc.retry_after)
                await asyncio.sleep(min(delay, _CONNECT_DELAY * 2**attempt) if exc.unreachable else delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), _MAX_RETRY_AFTER)
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _once(self, request: Request, n: int) -> _Reply:
        try:
            options: dict[str, Any] = {self._token_field: request.max_tokens}
            if self._send_temperature:
                options["temperature"] = request.temperature
            response: Any = await self._client.chat.completions.create(
                model=self.spec.model,
                messages=[
                    {"role": "system", "content": request.system},
                    {"role": "user", "content": request.message},
                ],
                n=n,
                **options,
            )
        except openai.APITimeoutError:
            raise _Retryable(f"request timed out after {self.settings.timeout:g} s") from None
        except openai.APIConnectionError as exc:
            refused = _cannot_connect(exc)
            cause = "cannot connect" if refused else "connection error"
            raise _Retryable(
                f"{cause} ({self._scrub(str(exc.__cause__ or exc))})", endpoint=True, unreachable=refused
            ) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except ValueError as exc:  # a 200 whose JSON body is truncated or malformed
            raise _Retryable(f"malformed reply ({type(exc).__name__})") from None
        if not hasattr(response, "choices"):
            raise _Retryable("reply is not a chat completion")
        return self._parse(request, response)

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        """Classified by the SDK's exception class: auth and not-found are the user's to fix, 5xx and
        429 are retried and then the endpoint's failure, other 4xx (a prompt over the context length,
        a bad parameter) stay this request's error."""
        status = exc.status_code
        detail = self._scrub(_error_detail(exc))
        if isinstance(exc, _ENDPOINT_RETRYABLE):
            return _Retryable(
                f"HTTP {status}: {detail}",
                status=status,
                retry_after=_retry_after(exc.response),
                endpoint=True,
            )
        if isinstance(exc, openai.BadRequestError) and self._adapt(detail):
            return _Retryable(f"HTTP 400, adapted the request: {detail}", status=status, retry_after=0.0)
        if status in _RETRYABLE_STATUS:
            return _Retryable(
                f"HTTP {status}: {detail}", status=status, retry_after=_retry_after(exc.response)
            )
        message = f"{self.spec}: HTTP {status}: {detail}"
        if isinstance(exc, _AUTH_ERRORS):
            hint = (
                f"check the key in ${self.settings.api_key_env}"
                if not isinstance(exc, openai.NotFoundError)
                else "check the model name and base URL"
            )
            return ModelAuthError(f"{message} ({hint})", status=status)
        return ModelError(message, status=status)

    def _adapt(self, detail: str) -> bool:
        """Switch to what the endpoint asks for when it rejects `max_tokens` or a non-default
        temperature (OpenAI reasoning models); True if something changed and the request may be resent."""
        lowered = detail.lower()
        if "max_completion_tokens" in lowered and self._token_field == "max_tokens":
            self._token_field = "max_completion_tokens"
            return True
        if "temperature" in lowered and "unsupported" in lowered and self._send_temperature:
            self._send_temperature = False
            return True
        return False

    def _parse(self, request: Request, response: Any) -> _Reply:
        texts: list[str] = []
        reasons: list[str] = []
        for choice in response.choices or []:
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            texts.append(content if isinstance(content, str) else "")
            refused = getattr(message, "refusal", None)
            reasons.append("refusal" if refused and not content else str(choice.finish_reason or "unknown"))
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", None) or estimate_tokens(request.system + request.message)
        tokens_out = getattr(usage, "completion_tokens", None)
        if tokens_out is None:
            tokens_out = sum(estimate_tokens(text) for text in texts) if texts else 0
        return _Reply(texts, reasons, int(tokens_in), int(tokens_out))

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _merge(replies: list[_Reply], n: int, latency_s: float) -> Completion:
    """Concatenate replies into exactly n answers; missing ones (empty choices) become ''."""
    texts = [text for reply in replies for text in reply.texts][:n]
    reasons = [reason for reply in replies for reason in reply.finish_reasons][:n]
    reasons += ["empty"] * (n - len(texts))
    texts += [""] * (n - len(texts))
    return Completion(
        texts=tuple(texts),
        tokens_in=sum(reply.tokens_in for reply in replies),
        tokens_out=sum(reply.tokens_out for reply in replies),
        finish_reasons=tuple(reasons),
        latency_s=latency_s,
    )


def _cannot_connect(exc: BaseException) -> bool:
    """True when the connection was never made (refused, unknown host, no route), judged by the
    standard OSError types in the exception's cause chain (the SDK's transport wraps them)."""
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, ConnectionRefusedError | socket.gaierror):
            return True
        if isinstance(current, OSError) and current.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return True
        current = current.__cause__ or current.__context__
    return False


def _error_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc.message)[:300]


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None
