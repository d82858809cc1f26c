"""Running one improver once: sandboxed, with capability proxies, never trusted.

`run_improver` is the single place an improver executes. Whatever it does — crash, hang, return a
non-string, call past its budgets — the outcome is a plain record and the host is unaffected.
`run_improver_scored` is how the STOP layer calls it: the session's LM budgets, a utility over the
caller's scorer, and the utility calls the run made, for the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import selftaught.events as event_kinds
from selftaught.detectors import classify_sandbox_event
from selftaught.failure import Failure, FailureKind, failure_of
from selftaught.sandbox.executor import Executor, RpcHandler
from selftaught.sandbox.job import InstanceResult, Job
from selftaught.stop.capabilities import (
    MAX_PROGRAM_CHARS,
    CapabilityHandler,
    EventSink,
    LanguageModelCapability,
    SpentCall,
    UtilityCapability,
)
from selftaught.stop.session import Session

__all__ = ["MAX_PROGRAM_CHARS", "ImproverOutcome", "run_improver", "run_improver_scored"]


@dataclass
class ImproverOutcome:
    """What one improver run produced. `program` is None when the run failed (see `error`)."""

    program: str | None
    error: Failure | None
    lm_calls: int
    utility_calls: int
    wall_seconds: float
    events: list[tuple[str, str]] = field(default_factory=list)
    output: object = None  # what improve_algorithm returned, unchecked (the flag experiment shows it)
    calls: list[SpentCall] = field(default_factory=list)  # the utility calls it made, as scored


HandlerWrapper = Callable[[CapabilityHandler], RpcHandler]
"""Wraps the proxies' host side, e.g. the flag experiment's handler that logs `use_sandbox` arguments."""


def run_improver(
    improver_source: str,
    initial_solution: str,
    utility: UtilityCapability,
    language_model: LanguageModelCapability,
    executor: Executor,
    *,
    timeout: float,
    events: EventSink,
    label: str = "",
    wrap: HandlerWrapper | None = None,
    seed: int | None = None,
) -> ImproverOutcome:
    """Run `improve_algorithm(initial_solution, utility, language_model)` in the sandbox.

    `seed` (derived by the host, e.g. `seeding.improver_seed(test_index)`) seeds the improver's `random`
    and numpy, so a randomised improver behaves the same in each run of the same test.
    """
    utility.watch_spending(language_model)  # each utility call can be recorded with the LM budget spent
    capabilities = CapabilityHandler(utility=utility, language_model=language_model, events=events)
    handler: RpcHandler = capabilities if wrap is None else wrap(capabilities)
    job = Job(
        source=improver_source,
        entry="improve_algorithm",
        instances=[[initial_solution, utility.proxy(), language_model.proxy()]],
        instance_timeout=timeout,
        job_timeout=timeout + 30.0,
        cpu_bound=False,
        memory_mb=2048,
        label=label,
        clock="wall",  # an improver mostly waits on the LM and on utility calls
        seeds=None if seed is None else [seed],
        setup_seed=seed,
    )
    started = time.monotonic()
    result = executor.run(job, rpc=handler)
    seen: list[tuple[str, str]] = []
    for event in result.events:
        # The child's own reports are its word, not the host's finding: say so in the record.
        detail = f"(reported by the sandbox) {event.detail}" if event.untrusted else event.detail
        finding = classify_sandbox_event(event.kind, detail, event.reported_by)
        seen.append((finding.kind, finding.detail))
        events(finding.kind, finding.detail)
    instance = result.instances[0] if result.instances else None
    program, error = _outcome_program(result.setup_error, instance)
    if error is not None:
        kind = (
            event_kinds.IMPROVER_TIMEOUT if error.kind is FailureKind.TIMEOUT else event_kinds.IMPROVER_FAILED
        )
        events(kind, f"{label}: {error}"[:1000])
    return ImproverOutcome(
        program=program,
        error=error,
        lm_calls=language_model.calls_used,
        utility_calls=utility.uses,
        wall_seconds=time.monotonic() - started,
        events=seen,
        output=None if instance is None else instance.output,
        calls=list(utility.calls),
    )


def run_improver_scored(
    session: Session,
    improver_source: str,
    initial_solution: str,
    *,
    score: Callable[[str], float],
    description: str,
    purpose: str,
    timeout: float,
    events: EventSink,
    label: str,
    wrap: HandlerWrapper | None = None,
    seed: int | None = None,
) -> ImproverOutcome:
    """Run an improver with a utility over `score` (the session's `--utility-budget`, shown to it as
    `description`) and a fresh language model at the session's budgets (`--lm-calls` x
    `--responses-per-call`); a cost cap or replay miss inside it stops the session. The outcome's
    `calls` are the utility calls the run made."""
    settings = session.settings
    utility = UtilityCapability(
        score=score, description=description, budget=settings.utility_budget, events=events
    )
    model = session.client.language_model(
        budget=settings.lm_calls, max_responses_per_call=settings.responses_per_call, purpose=purpose
    )
    return run_improver(
        improver_source,
        initial_solution,
        utility,
        LanguageModelCapability(
            model,
            events,
            on_stop=session.stop,
            on_fail=session.fail,
            default_temperature=settings.temperature,
        ),
        session.executor,
        timeout=timeout,
        events=events,
        label=label,
        wrap=wrap,
        seed=seed,
    )


def _outcome_program(
    setup_error: str | None, instance: InstanceResult | None
) -> tuple[str | None, Failure | None]:
    if setup_error is not None:
        return None, Failure(FailureKind.SETUP, f"setup: {setup_error}")
    if instance is None:
        return None, Failure(FailureKind.NO_RESULT, "no result")
    error = failure_of(instance.error)
    if error is not None:
        return None, error
    output = instance.output
    if not isinstance(output, str):
        return None, Failure(
            FailureKind.BAD_RETURN, f"returned {type(output).__name__}, not a program string"
        )
    if not output.strip():
        return None, Failure(FailureKind.BAD_RETURN, "returned an empty program")
    if len(output) > MAX_PROGRAM_CHARS:
        return None, Failure(
            FailureKind.BAD_RETURN,
            f"returned a program of {len(output)} characters (cap {MAX_PROGRAM_CHARS})",
        )
    return output, None
