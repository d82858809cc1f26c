"""Evaluation under the paper protocol: the original code's whole-utility rules, applied to sandboxed calls.

Why a separate path: the strict evaluation judges each instance alone and averages scores clipped to
[0, 1]. The original code instead let one failure decide the whole utility for some tasks (three_sat,
maxcut and parity_noise return a small epsilon at the first exception), let scores leave [0, 1]
(maxcut's mean cut weight / 10, parity_noiseless's broadcasting) and added run time to MQAP's
objective. Those rules live in each paper task's `scorer.py` as `utility(instances, calls)`; this
module only runs the program in the sandbox, exactly as the strict path does, and hands the scorer
what each call did; where the original returned early (the scorer's `stops`), the job stops at that
call, so the same number of instances run. The program still never runs in the host.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selftaught.failure import Failure, FailureKind
from selftaught.sandbox.job import InstanceResult, Verdict
from selftaught.tasks.evaluation import instance_job, judged
from selftaught.tasks.result import Evaluation, InstanceScore
from selftaught.tasks.scoring_protocol import PAPER_TEST_SEED, PAPER_VAL_SEED

if TYPE_CHECKING:
    from selftaught.sandbox.executor import Executor
    from selftaught.tasks.host_scored import HostScoredTask


@dataclass(frozen=True)
class Call:
    """What one call of the program did, as the original scorer could tell.

    `failure` is None when the call returned, "timeout" when it ran past the limit, and "exception"
    for anything else (it raised, was killed, or returned something that could not cross the sandbox
    boundary: in the original, all of these surfaced as an exception). `seconds` is measured by the
    trusted side (MQAP adds it to its objective, as the original added its own measured time).
    """

    output: Any
    failure: str | None
    seconds: float
    reason: Failure | None = None  # what the sandbox said, for the per-instance rows


StopsFn = Callable[[Any, Call], bool]


class EarlyReturn:
    """The original code's early returns, as the sandbox's gate: every instance is judged before the
    next is sent, and the job stops at the first call where the original returned (`stops`).

    So a program that hangs costs one instance limit, as in the original, not one per instance; the
    value is the scorer's `utility`, which returns at the same call.
    """

    def __init__(self, task: HostScoredTask, instances: list[Any], stops: StopsFn) -> None:
        self.task = task
        self.instances = instances
        self.stops = stops
        self.held = len(instances)

    def verdict(self, index: int, result: InstanceResult) -> Verdict:
        if not self.stops(self.instances[index], _call(self.task, result)):
            return Verdict()
        return Verdict(stop=early_reason(index))


def early_reason(index: int) -> str:
    return f"the original code returned at instance {index} (paper protocol)"


def evaluate_paper(
    task: HostScoredTask, source: str, *, split: str, seed: int | None, executor: Executor
) -> Evaluation:
    """Run `source` on the split's instances in the sandbox and score it by the original rule.

    Seeds default to the original's public ones (validation 4321 + i, test 5678 + i). A program that
    does not even define its entry point gets `utility(instances, None)`: each original scorer had its
    own value for that (0 or epsilon). Where the original returned early (`stops`, the scorer's), the
    instances after that call are not run.
    """
    started = time.perf_counter()
    utility, stops = task.scorer.utility, task.scorer.stops
    assert utility is not None, "the loader gives evaluate_paper only tasks whose scorer has utility()"
    if seed is None:
        seed = PAPER_VAL_SEED if split == "val" else PAPER_TEST_SEED
    instances = task.instances(split, seed)
    problem = task.check_program(source)
    calls: list[Call] | None = None
    gate = EarlyReturn(task, instances, stops) if stops is not None else None
    stopped: str | None = None
    ran = 0
    if problem is None:
        result = executor.run(instance_job(task, source, instances, split, seed, gate))
        problem = result.setup_error
        if problem is None:
            calls = [_call(task, outcome) for outcome in result.instances]
            missing = Failure(FailureKind.NO_RESULT, "no result (the sandbox stopped early)")
            calls += [Call(None, "exception", 0.0, missing)] * (len(instances) - len(calls))
            ran = len(instances)
            at = first_stop(instances, calls, stops)
            if at is not None and at + 1 < len(instances):
                stopped, ran = early_reason(at), at + 1
                skipped = Failure(FailureKind.NOT_RUN, f"not run: {stopped}")
                calls[ran:] = [Call(None, "exception", 0.0, skipped)] * (len(instances) - ran)
    value = float(utility(instances, calls))
    rows = _rows(task, instances, calls, problem)
    return Evaluation(
        task=task.name,
        split=split,
        seed=int(seed),
        utility=value if math.isfinite(value) else 0.0,
        instances=len(instances),
        failures=sum(1 for row in rows if row.error is not None),
        per_instance=rows,
        setup_error=problem,
        wall_seconds=time.perf_counter() - started,
        instances_run=ran,
        stopped=stopped,
    )


def first_stop(instances: list[Any], calls: list[Call], stops: StopsFn | None) -> int | None:
    """The first call where the original code returned early (None: it ran every instance).

    Applied to whatever ran, so the value and the count do not depend on whether the executor could
    stop the job early (a remote one runs every instance).
    """
    if stops is None:
        return None
    for index, (instance, call) in enumerate(zip(instances, calls, strict=True)):
        if stops(instance, call):
            return index
    return None


def _call(task: HostScoredTask, outcome: Any) -> Call:
    if outcome.error is None:
        if outcome.seconds <= task.instance_timeout:
            return Call(outcome.output, None, outcome.seconds)
        return Call(None, "timeout", outcome.seconds, Failure.timeout())
    reason = Failure.parse(outcome.error)
    failure = "timeout" if reason.kind is FailureKind.TIMEOUT else "exception"
    return Call(None, failure, outcome.seconds, reason)


def _rows(
    task: HostScoredTask, instances: list[Any], calls: list[Call] | None, problem: str | None
) -> list[InstanceScore]:
    """Per-instance detail for `--verbose` and the store: each call's own score, for reading only.

    The utility above is the original rule's; these rows say what each call did (an instance after a
    whole-utility failure still shows its own score here).
    """
    if calls is None:
        setup = Failure(FailureKind.SETUP, f"setup: {problem}")
        return [InstanceScore(i, 0.0, 0.0, setup) for i in range(len(instances))]
    rows = []
    for i, (instance, call) in enumerate(zip(instances, calls, strict=True)):
        if call.failure is not None:
            rows.append(
                InstanceScore(i, 0.0, call.seconds, call.reason or Failure(FailureKind.OTHER, call.failure))
            )
            continue
        rows.append(judged(task, i, instance, call.output, call.seconds))
    return rows
