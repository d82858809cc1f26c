"""The contract between the client (budgets, cache, costs) and whatever produces answers.

A backend receives logical requests (one prompt, `n` answers) and returns one `Completion` or one
exception per request, in order; it never raises for a single failed request, so one bad request in a
batch cannot lose the answers (already paid for) of the others.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Request:
    """A logical request. `key` identifies it for the cache; `scope`/`ordinal` identify which of the
    identical calls it is (the offline model derives its randomness from them)."""

    model: str
    system: str
    message: str
    n: int
    temperature: float
    max_tokens: int
    scope: str = ""
    ordinal: int = 0

    @property
    def key(self) -> str:
        material = json.dumps(
            [self.model, self.system, [self.message], self.n, round(self.temperature, 6), self.max_tokens],
            ensure_ascii=False,
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Completion:
    """Answers to one request: exactly `n` texts (empty string for an empty or refused choice)."""

    texts: tuple[str, ...]
    tokens_in: int
    tokens_out: int
    finish_reasons: tuple[str, ...] = ()
    latency_s: float = 0.0  # wall time to produce this answer, retries and backoff included


class Backend(Protocol):
    """Produces answers. Implementations: the offline mutation engine and the OpenAI-compatible client."""

    def complete_many(self, requests: list[Request]) -> list[Completion | BaseException]: ...

    def close(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters per token) for offline answers and cost reservations."""
    return max(1, (len(text) + 3) // 4)
