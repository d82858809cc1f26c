"""Capabilities handed to improvers: the host-side objects behind the sandbox's proxies.

An improver runs in a sandboxed child and receives `utility` and `language_model` as proxies; every call
arrives here over the pipe. This is where budgets live, so nothing the child does to its own copy (setting
`budget`, constructing a new model, calling past the budget) can change what the host allows. Attempts are
recorded as events instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import selftaught.events as event_kinds
from selftaught.errors import BudgetExceeded
from selftaught.lm import CostCapReached, EndpointError, ReplayMiss
from selftaught.sandbox.job import Proxy
from selftaught.store import Context, UtilityCallRecord, sha256

EventSink = Callable[[str, str], None]
"""Receives (kind, detail) for everything worth recording about an improver run."""

MAX_PROGRAM_CHARS = 200_000
"""The largest program an improver may return or pass to `utility(...)`: parsing, scanning and storing
one costs the host memory and time in proportion, so a bigger one is refused per call, not scored."""
MAX_PROMPT_CHARS = 400_000
"""The largest prompt (expertise + message, per message) one LM call may carry, about 100k tokens: a
bigger one is refused per call with an error, before any cost is reserved for it."""


@dataclass(frozen=True)
class SpentCall:
    """One utility call as the host saw it: what was scored, its value, and the LM budget the improver
    run had spent when it asked (not when scoring ended)."""

    program_sha: str
    value: float
    lm_calls: int | None
    lm_responses: int | None

    def record(
        self, context: Context, improver_sha: str, task: str, test_index: int, seq: int
    ) -> UtilityCallRecord:
        return UtilityCallRecord(
            context,
            improver_sha,
            task,
            test_index,
            seq,
            self.program_sha,
            self.value,
            self.lm_calls,
            self.lm_responses,
        )


class CallRefused(ValueError):
    """A capability call the host refuses on its own merits (too large); the improver sees the message."""


class UtilityCapability:
    """The paper's utility object: `utility(solution) -> float`, `.str`, `.budget`, `.uses`.

    Over budget it returns 0 (as in the paper) and records an event. Each call scored is kept in `calls`
    (in the order scoring finished) for the report's score-vs-budget curves. Thread-safe: improvers
    score candidates from thread pools.
    """

    def __init__(
        self, score: Callable[[str], float], description: str, budget: int, events: EventSink
    ) -> None:
        self._score = score
        self.description = description
        self.budget = budget
        self._events = events
        self._lock = threading.Lock()
        self.uses = 0
        self.calls: list[SpentCall] = []
        self._spending: LanguageModelCapability | None = None

    def watch_spending(self, language_model: LanguageModelCapability) -> None:
        """Tie this utility to the improver run's language model, so `lm_spent()` can say what the run
        had spent when a call arrived (score-vs-budget records); `run_improver` does this."""
        self._spending = language_model

    def lm_spent(self) -> tuple[int | None, int | None]:
        """(LM calls, responses) the same improver run has spent so far; (None, None) when not tied."""
        model = self._spending
        return (None, None) if model is None else (model.calls_used, model.responses_used)

    def __call__(self, solution: Any) -> float:
        with self._lock:
            self.uses += 1
            over = self.uses > self.budget
        if over:
            self._events(event_kinds.UTILITY_BUDGET_EXCEEDED, f"call {self.uses} of budget {self.budget}")
            return 0.0
        if not isinstance(solution, str):
            self._events(
                event_kinds.UTILITY_BAD_ARGUMENT, f"utility called with {type(solution).__name__}, not str"
            )
            return 0.0
        if len(solution) > MAX_PROGRAM_CHARS:
            self._events(
                event_kinds.UTILITY_PROGRAM_TOO_LARGE, f"{len(solution)} characters (cap {MAX_PROGRAM_CHARS})"
            )
            raise CallRefused(
                f"utility: a program of {len(solution)} characters exceeds the cap of {MAX_PROGRAM_CHARS}"
            )
        spent = self.lm_spent()
        value = float(self._score(solution))
        with self._lock:
            self.calls.append(SpentCall(sha256(solution), value, *spent))
        return value

    def proxy(self) -> Proxy:
        return Proxy(
            name="utility",
            attributes={"str": self.description, "budget": self.budget},
            methods=("__call__",),
            callable=True,
            live=("uses",),
        )


class LanguageModelCapability:
    """Exposes the host's budgeted `LanguageModel` (prompt, batch_prompt) and records over-budget calls.

    `default_temperature` (the `temperature` setting) is the temperature of a call that names none;
    the built-in improvers, like the paper's seed improver, name their own."""

    def __init__(
        self,
        language_model: Any,
        events: EventSink,
        on_stop: Callable[[str], None] | None = None,
        on_fail: Callable[[str], None] | None = None,
        default_temperature: float = 0.7,
    ) -> None:
        self._model = language_model
        self._default_temperature = default_temperature
        self._events = events
        self._on_stop = on_stop
        self._on_fail = on_fail
        self._responses = 0
        self._responses_lock = threading.Lock()

    def prompt(
        self, expertise: str, message: str, n_responses: int = 1, temperature: float | None = None
    ) -> list[str]:
        self._check_size(expertise, [message])
        chosen = self._default_temperature if temperature is None else temperature
        return self._guard(lambda: self._model.prompt(expertise, message, n_responses, chosen))

    def batch_prompt(
        self, expertise: str, messages: list[str], temperature: float | None = None
    ) -> list[str]:
        if isinstance(messages, (list, tuple)):  # a program's tuple arrives as a tuple
            self._check_size(expertise, messages)
        chosen = self._default_temperature if temperature is None else temperature
        return self._guard(lambda: self._model.batch_prompt(expertise, messages, chosen))

    def _check_size(self, expertise: object, messages: Sequence[object]) -> None:
        """Refuse an oversized prompt as this call's error: it must never reach the run's cost cap."""
        base = len(expertise) if isinstance(expertise, str) else 0
        longest = max((len(m) for m in messages if isinstance(m, str)), default=0)
        if base + longest > MAX_PROMPT_CHARS:
            self._events(
                event_kinds.LM_PROMPT_TOO_LARGE, f"{base + longest} characters (cap {MAX_PROMPT_CHARS})"
            )
            raise CallRefused(
                f"language_model: a prompt of {base + longest} characters exceeds the cap of {MAX_PROMPT_CHARS}"
            )

    def _guard(self, call: Callable[[], list[str]]) -> list[str]:
        try:
            answers = call()
            with self._responses_lock:
                self._responses += len(answers)
            return answers
        except EndpointError as exc:
            # The endpoint failed the check request after this call too (not a prompt's doing): fail the run.
            if self._on_fail is not None:
                self._on_fail(str(exc))
            raise
        except (CostCapReached, ReplayMiss) as exc:
            # Not the improver's fault: the whole run must stop, not count this as a failed improver.
            if self._on_stop is not None:
                self._on_stop(str(exc))
            raise
        except BudgetExceeded as exc:
            self._events(event_kinds.LM_BUDGET_EXCEEDED, str(exc))
            raise

    @property
    def calls_used(self) -> int:
        return int(self._model.calls_used)

    @property
    def responses_used(self) -> int:
        """Responses received so far by this run (counted here, on the host, when each call returns)."""
        with self._responses_lock:
            return self._responses

    @property
    def times_used(self) -> int:
        """The paper's `language_model.times_used` (calls made so far), live like `utility.uses`."""
        return int(self._model.calls_used)

    def proxy(self) -> Proxy:
        return Proxy(
            name="language_model",
            attributes={
                "budget": self._model.budget,
                "max_responses_per_call": self._model.max_responses_per_call,
            },
            methods=("prompt", "batch_prompt"),
            live=("times_used",),
        )


@dataclass
class CapabilityHandler:
    """The `RpcHandler` of one improver job: routes proxy calls to the capabilities, nothing else.

    Only the methods listed on each proxy are reachable; anything else (a private attribute, a new
    proxy name) is refused and recorded, so the child cannot walk from a proxy to host internals.
    """

    utility: UtilityCapability
    language_model: LanguageModelCapability
    events: EventSink

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if proxy == "utility" and method == "__getattr__" and args == ["uses"]:
            return self.utility.uses
        if proxy == "language_model" and method == "__getattr__" and args == ["times_used"]:
            return self.language_model.times_used
        if proxy == "utility" and method == "__call__":
            if len(args) != 1 or kwargs:
                self.events(
                    event_kinds.UTILITY_BAD_ARGUMENT,
                    f"utility called with {len(args)} args, kwargs {sorted(kwargs)}",
                )
                return 0.0
            return self.utility(args[0])
        if proxy == "language_model" and method in ("prompt", "batch_prompt"):
            return getattr(self.language_model, method)(*args, **kwargs)
        self.events(event_kinds.PROXY_REFUSED, f"{proxy}.{method}")
        raise PermissionError(f"{proxy}.{method} is not available to improvers")
