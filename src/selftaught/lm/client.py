"""The run-wide model client: backend + cache + cost cap + call recorder, shared by every LanguageModel.

Every request, whichever LanguageModel issued it, takes the same path: assign its ordinal (k-th
identical call in its scope), answer from the cache if recorded, otherwise (unless replaying) reserve
its worst-case cost, ask the backend, record the answer in the cache, settle the cost and report a
`CallRecord`. The offline model goes through the same path, so replay works the same for every model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from selftaught.errors import UsageError
from selftaught.lm.backend import Backend, Completion, Request, estimate_tokens
from selftaught.lm.cache import OrdinalCounter, ResponseCache
from selftaught.lm.errors import EndpointError, ModelError, ReplayMiss
from selftaught.lm.language_model import LanguageModel
from selftaught.lm.offline import OfflineBackend
from selftaught.lm.pricing import CostTracker, Price, find_price, load_prices
from selftaught.lm.probe import ask_check
from selftaught.lm.settings import CallRecord, ModelSettings
from selftaught.lm.spec import ModelSpec, parse_spec

_FREE = Price(0.0, 0.0)


@dataclass(frozen=True)
class ClientStats:
    """Totals over the client's lifetime (requests are logical: one prompt with n answers)."""

    requests: int
    cached: int
    errors: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


class ModelClient:
    """Shared by all LanguageModels of a run; thread-safe. Close it (or use `with`) to stop the backend."""

    def __init__(
        self, spec: ModelSpec, backend: Backend, settings: ModelSettings, price: Price | None
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.price = price
        self.recorder = settings.recorder
        """Receives every call's record; the session that uses this client sets it once it exists."""
        self._backend = backend
        use_cache = settings.cache_path is not None and settings.cache_mode != "off"
        self._cache = ResponseCache(settings.cache_path) if use_cache and settings.cache_path else None
        self._ordinals = OrdinalCounter()
        self._costs = CostTracker(settings.max_cost)
        self._lock = threading.Lock()
        self._totals = ClientStats(0, 0, 0, 0, 0, 0.0)
        self._endpoint_failure: EndpointError | None = None
        self._check_lock = threading.Lock()
        self._last_check: tuple[float, BaseException | None] | None = None  # (started, failure)

    def __repr__(self) -> str:
        return f"ModelClient({self.spec}, cache_mode={self.settings.cache_mode!r})"

    def language_model(
        self,
        budget: int = 4,
        max_responses_per_call: int = 6,
        purpose: str = "",
        scope: str | None = None,
    ) -> LanguageModel:
        """A LanguageModel with a fresh call budget on this client.

        `scope` (default: `purpose`) names the logical caller for replay: ordinals of identical calls are
        counted per scope, so give each concurrently running caller (e.g. "t=2 test=3") its own scope
        and replays are deterministic whatever the thread scheduling.
        """
        return LanguageModel(
            self,
            budget=budget,
            max_responses_per_call=max_responses_per_call,
            purpose=purpose,
            scope=purpose if scope is None else scope,
        )

    @property
    def endpoint_failure(self) -> EndpointError | None:
        """The endpoint failure that ended this client's usefulness, if one happened."""
        return self._endpoint_failure

    @property
    def backend(self) -> Backend:
        """The backend itself, for requests outside budgets, cache and ordinals (the preflight)."""
        return self._backend

    @property
    def spent_usd(self) -> float:
        return self._costs.spent

    def stats(self) -> ClientStats:
        with self._lock:
            return self._totals

    def complete(
        self,
        system: str,
        groups: list[tuple[str, int]],
        temperature: float,
        *,
        purpose: str = "",
        scope: str = "",
        call_index: int = 0,
    ) -> list[tuple[str, ...]]:
        """Answer each (message, n) group; returns n texts per group, in order.

        Raises `ReplayMiss` (replay mode, unrecorded call), `CostCapReached`, or the backend's
        `ModelError` — the latter only after the answers of the batch's other requests were kept.
        """
        requests = [self._request(system, message, n, temperature, scope) for message, n in groups]
        answers: dict[int, Completion] = {}
        started = time.time()
        if self._cache is not None:
            for i, request in enumerate(requests):
                probe = time.perf_counter()
                hit = self._cache.get(request)
                if hit is not None:
                    answers[i] = dataclasses.replace(hit, latency_s=time.perf_counter() - probe)
        missing = [i for i in range(len(requests)) if i not in answers]
        if missing and self.settings.cache_mode == "replay":
            request = requests[missing[0]]
            raise ReplayMiss(
                f"replay: no recorded answer for call #{request.ordinal + 1} of this prompt "
                f"(model {request.model}, scope {scope!r}, key {request.key[:12]}); "
                "replay needs the same settings and cache as the recorded run, or run without --replay"
            )
        for i in answers:
            self._report(requests[i], answers[i], 0.0, True, None, purpose, call_index, started)
        if missing and self._endpoint_failure is not None:
            raise self._endpoint_failure  # the endpoint is gone: fail at once, without the retries
        failure = self._fetch([requests[i] for i in missing], purpose, call_index, started, answers, missing)
        if failure is not None:
            raise failure
        return [answers[i].texts for i in range(len(requests))]

    def _request(self, system: str, message: str, n: int, temperature: float, scope: str) -> Request:
        request = Request(
            self.spec.name, system, message, n, float(temperature), self.settings.max_tokens, scope
        )
        return dataclasses.replace(request, ordinal=self._ordinals.next(scope, request.key))

    def _fetch(
        self,
        requests: list[Request],
        purpose: str,
        call_index: int,
        started: float,
        answers: dict[int, Completion],
        slots: list[int],
    ) -> BaseException | None:
        """Ask the backend for the cache misses; fills `answers`; returns the first failure, if any."""
        if not requests:
            return None
        price = self.price or _FREE
        reservations: list[float] = []
        try:
            for request in requests:
                estimate = price.cost(
                    estimate_tokens(request.system + request.message) * 4 // 3 + 8,
                    request.n * request.max_tokens,
                )
                reservations.append(self._costs.reserve(estimate))
        except BaseException:
            for reserved in reservations:
                self._costs.settle(reserved, 0.0)
            raise
        try:
            results = self._backend.complete_many(requests)
        except BaseException:
            for reserved in reservations:
                self._costs.settle(reserved, 0.0)
            raise
        failed_at = time.monotonic()
        failure: BaseException | None = None
        for request, reserved, slot, result in zip(requests, reservations, slots, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, EndpointError) or (isinstance(result, ModelError) and result.retryable):
                    result = self._classify(result, failed_at)  # a 400-like answer needs no check
                self._costs.settle(reserved, 0.0)
                self._report(request, None, 0.0, False, str(result), purpose, call_index, started)
                failure = failure or result
                continue
            cost = price.cost(result.tokens_in, result.tokens_out)
            self._costs.settle(reserved, cost)
            if self._cache is not None:
                self._cache.put(request, result, cost)
            answers[slot] = result
            self._report(request, result, cost, False, None, purpose, call_index, started)
        return failure

    def _classify(self, error: ModelError, failed_at: float) -> ModelError:
        """Whose failure a call's final error is (after its retries ran out, or with no answer at all):
        the endpoint's only if the endpoint also fails the check request asked after it (then the client is done: `endpoint_failure`); otherwise the
        call's own, a plain `ModelError` the improver sees (a generated prompt never fails a run)."""
        if self._endpoint_failure is not None:
            return self._endpoint_failure
        check = self._check_endpoint(failed_at)
        if check is None:
            return ModelError(
                f"{error} (the endpoint answers other requests: this request's own failure)",
                status=error.status,
                retryable=error.retryable,
            )
        failure = (
            error
            if isinstance(error, EndpointError)
            else EndpointError(
                f"{error}; the endpoint failed a check request right after ({_cause(check)})",
                status=error.status,
                retryable=error.retryable,
            )
        )
        with self._lock:
            if self._endpoint_failure is None:
                self._endpoint_failure = failure
            return self._endpoint_failure

    def _check_endpoint(self, failed_at: float) -> BaseException | None:
        """Ask the check request (one at a time); a check started after `failed_at` answers for every
        failure before it, so a burst of failed calls costs one check. None when the endpoint answered."""
        with self._check_lock:
            if self._last_check is not None and self._last_check[0] >= failed_at:
                return self._last_check[1]
            started = time.monotonic()
            result = ask_check(self._backend, self.spec.name)
            outcome = result if isinstance(result, BaseException) else None
            self._last_check = (started, outcome)
            return outcome

    def _report(
        self,
        request: Request,
        answer: Completion | None,
        cost: float,
        cached: bool,
        error: str | None,
        purpose: str,
        call_index: int,
        started: float,
    ) -> None:
        texts = answer.texts if answer else ()
        record = CallRecord(
            model=request.model,
            purpose=purpose,
            scope=request.scope,
            n=request.n,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            tokens_in=answer.tokens_in if answer else 0,
            tokens_out=answer.tokens_out if answer else 0,
            latency_s=answer.latency_s if answer else time.time() - started,
            cost_usd=cost,
            cached=cached,
            error=error,
            prompt_sha=request.key,
            response_shas=tuple(hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts),
            ordinal=request.ordinal,
            call_index=call_index,
            started_at=started,
            finish_reasons=answer.finish_reasons if answer else (),
        )
        with self._lock:
            t = self._totals
            self._totals = ClientStats(
                requests=t.requests + 1,
                cached=t.cached + cached,
                errors=t.errors + (error is not None),
                tokens_in=t.tokens_in + record.tokens_in,
                tokens_out=t.tokens_out + record.tokens_out,
                cost_usd=t.cost_usd + cost,
            )
        if self.recorder is not None:
            self.recorder(record)

    def close(self) -> None:
        try:
            self._backend.close()
        finally:
            if self._cache is not None:
                self._cache.close()

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _cause(failure: BaseException) -> str:
    """The check's failure in a few words, without repeating the endpoint's name."""
    text = str(failure)
    _, _, tail = text.partition(": ")
    return (tail or text)[:200]


def check_model(spec: str, settings: ModelSettings) -> tuple[ModelSpec, Price | None, str]:
    """What `open_model` needs, checked without opening anything: (parsed spec, price, API key).

    Raises `UsageError` for a malformed spec, a missing API key (naming the variable), or a cost cap
    on a model with no known price (naming `--prices-file`), so a command can refuse settings that
    cannot work before it creates anything.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "offline":
        return parsed, _FREE, ""
    prices = (
        load_prices(settings.prices_file, settings.prices) if settings.prices_file else dict(settings.prices)
    )
    price = find_price(parsed.model, prices)
    if price is None and settings.max_cost is not None:
        raise UsageError(
            f"--max-cost is set but model {parsed.model!r} has no known price, so the cap could not "
            f"measure anything: give its price with --prices-file FILE (selftaught.toml: lm.prices-file), "
            f'a TOML file with [prices."{parsed.model}"] input = 1.0 and output = 2.0 (USD per million '
            "tokens), or drop --max-cost"
        )
    api_key = os.environ.get(settings.api_key_env, "")
    if settings.cache_mode == "replay":
        api_key = api_key or "replay-only"  # replay never contacts the endpoint
    if not api_key:
        raise UsageError(
            f"model {parsed} needs an API key: set ${settings.api_key_env} (or --api-key-env VAR to read "
            "another variable; use any non-empty value for a server without authentication)"
        )
    return parsed, price, api_key


def open_model(spec: str, settings: ModelSettings | None = None) -> ModelClient:
    """Open a client for a model spec (`offline[:SEED]` or `openai/<model>[@<base_url>]`).

    Raises `UsageError` as `check_model` does.
    """
    settings = settings or ModelSettings()
    parsed, price, api_key = check_model(spec, settings)
    if parsed.kind == "offline":
        return ModelClient(parsed, OfflineBackend(parsed.seed), settings, _FREE)
    from selftaught.lm.openai_backend import OpenAIBackend

    return ModelClient(parsed, OpenAIBackend(parsed, api_key, settings), settings, price)
