"""The paper's LanguageModel interface (host side), with an exact, thread-safe call budget.

Improvers written for the paper run unchanged: `prompt`, `batch_prompt`, `budget`,
`max_responses_per_call`. Each call counts once, whatever it costs underneath (one batch of six
distinct messages is six concurrent requests but one call; a retried request is still one call).
A call is charged when it starts, so a failing call is not free and cannot be used to probe for
extra budget.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from selftaught.errors import BudgetExceeded
from selftaught.lm.errors import BUDGET_MESSAGE


class Completer(Protocol):
    """What a LanguageModel needs from its client: the answers to a call, and a name for the model.

    `ModelClient` is the one implementation; the protocol keeps this module from importing it back.
    """

    @property
    def spec(self) -> object: ...

    def complete(
        self,
        system: str,
        groups: list[tuple[str, int]],
        temperature: float,
        *,
        purpose: str = "",
        scope: str = "",
        call_index: int = 0,
    ) -> list[tuple[str, ...]]: ...


class LanguageModel:
    """`budget` calls of at most `max_responses_per_call` responses each, on a shared client."""

    def __init__(
        self,
        client: Completer,
        *,
        budget: int,
        max_responses_per_call: int,
        purpose: str = "",
        scope: str = "",
    ) -> None:
        if budget < 0 or max_responses_per_call < 1:
            raise ValueError("budget must be >= 0 and max_responses_per_call >= 1")
        self.budget = budget
        self.max_responses_per_call = max_responses_per_call
        self.purpose = purpose
        self.scope = scope
        self._client = client
        self._lock = threading.Lock()
        self._calls_used = 0

    def __repr__(self) -> str:
        return (
            f"LanguageModel({self._client.spec}, budget={self.budget}, used={self.calls_used}, "
            f"max_responses_per_call={self.max_responses_per_call})"
        )

    @property
    def calls_used(self) -> int:
        with self._lock:
            return self._calls_used

    @property
    def times_used(self) -> int:
        """The paper's name for `calls_used`: calls charged so far (live)."""
        return self.calls_used

    def prompt(
        self, expertise: str, message: str, n_responses: int = 1, temperature: float = 0.7
    ) -> list[str]:
        """`n_responses` answers to one message (one call)."""
        _check_text("expertise", expertise)
        _check_text("message", message)
        if isinstance(n_responses, bool) or not isinstance(n_responses, int) or n_responses < 1:
            raise ValueError(f"n_responses must be a positive integer, got {n_responses!r}")
        self._check_count(n_responses, "n_responses")
        temperature = _check_temperature(temperature)
        call_index = self._charge()
        answers = self._client.complete(
            expertise,
            [(message, n_responses)],
            temperature,
            purpose=self.purpose,
            scope=self.scope,
            call_index=call_index,
        )
        return list(answers[0])

    def batch_prompt(self, expertise: str, messages: Sequence[str], temperature: float = 0.7) -> list[str]:
        """One answer per message, in order (one call). Identical messages become one request with `n`
        choices; distinct ones are sent concurrently."""
        _check_text("expertise", expertise)
        if isinstance(messages, str) or not isinstance(messages, Sequence):
            raise TypeError(f"messages must be a list of strings, got {type(messages).__name__}")
        batch = list(messages)
        for message in batch:
            _check_text("each message", message)
        self._check_count(len(batch), "len(messages)")
        temperature = _check_temperature(temperature)
        if not batch:
            return []
        call_index = self._charge()
        groups: dict[str, list[int]] = {}
        for position, message in enumerate(batch):
            groups.setdefault(message, []).append(position)
        answers = self._client.complete(
            expertise,
            [(message, len(positions)) for message, positions in groups.items()],
            temperature,
            purpose=self.purpose,
            scope=self.scope,
            call_index=call_index,
        )
        result = [""] * len(batch)
        for positions, texts in zip(groups.values(), answers, strict=True):
            for position, text in zip(positions, texts, strict=True):
                result[position] = text
        return result

    def _check_count(self, count: int, what: str) -> None:
        if count > self.max_responses_per_call:
            raise ValueError(
                f"{what}={count} exceeds max_responses_per_call={self.max_responses_per_call}: "
                f"ask for at most {self.max_responses_per_call} responses per call"
            )

    def _charge(self) -> int:
        with self._lock:
            if self._calls_used >= self.budget:
                raise BudgetExceeded(BUDGET_MESSAGE)
            self._calls_used += 1
            return self._calls_used


def _check_text(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")


def _check_temperature(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 2.0:
        raise ValueError(f"temperature must be a number between 0 and 2, got {value!r}")
    return float(value)
