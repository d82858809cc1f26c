"""Everything one STOP computation shares: settings, executor, model client, store, progress, events.

A `Session` is opened once per command (or API call) and passed down, instead of module globals, so two
runs in one process (a notebook, the test suite) never share budgets or pools by accident.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import selftaught.events as event_kinds
from selftaught.config import Settings
from selftaught.lm import CallRecord, ModelClient
from selftaught.sandbox.executor import Executor
from selftaught.store import LmCallRecord, RunStore


class RunStopped(Exception):
    """The run stops cleanly (e.g. the cost cap was reached); finished work stays stored and resumable."""


class RunFailed(RunStopped):
    """The run cannot go on because the model endpoint failed (status `failed`); finished work stays."""


class Progress(Protocol):
    """Callbacks for long work; the CLI renders them with rich, the API ignores them by default."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, name: str, amount: int = 1) -> None: ...

    def summary(self, text: str) -> None: ...


class NoProgress:
    def stage(self, name: str, total: int | None) -> None:
        return None

    def advance(self, name: str, amount: int = 1) -> None:
        return None

    def summary(self, text: str) -> None:
        return None


@dataclass
class Usage:
    """LM usage summed over a scope (thread-safe add)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.calls += 1
            self.tokens_in += record.tokens_in
            self.tokens_out += record.tokens_out
            self.cost_usd += record.cost_usd


@dataclass
class Session:
    settings: Settings
    executor: Executor
    client: ModelClient
    store: RunStore | None = None
    progress: Progress = field(default_factory=NoProgress)
    iteration: int | None = None
    usage: Usage = field(default_factory=Usage)
    on_event: Callable[[str, str, str | None], None] | None = None
    stop_reason: str | None = None  # set when no further LM work may happen (cost cap, replay miss)
    failed: bool = False  # the stop is a failure (the model endpoint failed)

    def stop(self, reason: str) -> None:
        """Ask every level to wind down: the first reason is kept and recorded once."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.event(event_kinds.RUN_STOPPED, reason)

    def fail(self, reason: str) -> None:
        """Stop every level because the endpoint failed; the run ends `failed` (exit code 1)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.failed = True
            self.event(event_kinds.RUN_FAILED, reason)

    def check_stopped(self) -> None:
        if self.stop_reason is not None:
            raise (RunFailed if self.failed else RunStopped)(self.stop_reason)

    def event(self, kind: str, detail: str, program_sha: str | None = None) -> None:
        """Record an event in the store (if any) and forward it to the listener (if any)."""
        if self.store is not None:
            self.store.add_event(kind, detail, program_sha=program_sha, iteration=self.iteration)
        if self.on_event is not None:
            self.on_event(kind, detail, program_sha)

    def record_lm_call(self, call: CallRecord) -> None:
        """Count a finished LM call in the session's usage and store it (with the current iteration)."""
        self.usage.add(call)
        if self.store is not None:
            self.store.add_lm_call(
                LmCallRecord(
                    iteration=self.iteration,
                    purpose=call.purpose,
                    model=call.model,
                    n=call.n,
                    temperature=call.temperature,
                    tokens_in=call.tokens_in,
                    tokens_out=call.tokens_out,
                    latency_s=call.latency_s,
                    cost_usd=call.cost_usd,
                    cached=bool(call.cached),
                    error=call.error,
                )
            )

    def event_sink(self, program_sha: str | None) -> Callable[[str, str], None]:
        return lambda kind, detail: self.event(kind, detail, program_sha)
