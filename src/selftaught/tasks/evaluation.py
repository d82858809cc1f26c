"""Score a program on a task: instances in the host, calls in the sandbox, judging in the host.

This is the downstream `utility` of the paper made safe: the program only ever sees instance `args`,
runs in a sandboxed child through an `Executor`, and is timed by the trusted side; its outputs are
validated strictly by the task's hidden scorer. A broken program never raises here: it scores the
failure value and the reason is recorded (a STOP run keeps going), while `selftaught eval` checks the
program first and refuses bad input with exit code 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from selftaught.errors import UsageError
from selftaught.failure import Failure, FailureKind
from selftaught.sandbox import seeding
from selftaught.sandbox.job import InstanceResult, Job, Verdict
from selftaught.tasks.host_scored import SPLITS, VAL_SEED_BASE, HostScoredTask
from selftaught.tasks.result import Evaluation, InstanceScore
from selftaught.tasks.scoring_protocol import draw_test_seed
from selftaught.tasks.task import Task

if TYPE_CHECKING:
    from selftaught.sandbox.executor import Executor
    from selftaught.sandbox.job import InstanceGate

NO_RESULT = Failure(FailureKind.NO_RESULT, "no result (the sandbox stopped early)")
SCORING_VERSION = 4
"""The version of how evaluations are timed, seeded and cut short. 1: wall-clock limits, unseeded
programs. 2: each call limited and measured by the child's CPU time (wall backstop against sleepers),
`random` and numpy seeded per instance by a keyed hash of (split seed, index), improvers seeded per test
index. 3: the strict cascade (a program whose first k instances all fail scores the failure value on the
rest, unrun), and the backstop counts sleep rather than wall time. 4: interactive tasks (bin_packing) cut
short by the same cascade, session by session.
Stored runs carry it; a run is never resumed under another version (old and new scores would mix)."""


def refuse_other_scoring(
    run_id: str, stored: int | None, cleanup: Callable[[], object] | None = None
) -> None:
    """UsageError unless a stored run was scored under this SCORING_VERSION (None: stored before versions)."""
    if stored == SCORING_VERSION:
        return
    if cleanup is not None:
        cleanup()
    was = (
        f"scoring version {stored}"
        if stored is not None
        else "scoring version 1 (wall-clock limits, unseeded)"
    )
    raise UsageError(
        f"run {run_id!r} was scored under {was}; this selftaught scores under version {SCORING_VERSION} "
        "(CPU-time limits, seeded instances, the cascade): resuming or transferring it would mix old and "
        "new scores, so start a new run"
    )


def resolve_seed(split: str, seed: int | None) -> int:
    """The seed an evaluation uses: given, else the paper's for val, else a fresh secret for test."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}: use 'val' or 'test'")
    if seed is not None:
        return int(seed)
    return VAL_SEED_BASE if split == "val" else draw_test_seed()


def evaluate(
    task: Task,
    source: str,
    *,
    split: str = "val",
    seed: int | None = None,
    executor: Executor,
) -> Evaluation:
    """Score `source` on `task` (see module docstring); `seed` None means the split's default."""
    return task.evaluate(source, split=split, seed=seed, executor=executor)


def evaluate_instances(
    task: HostScoredTask,
    source: str,
    *,
    split: str = "val",
    seed: int | None = None,
    executor: Executor,
) -> Evaluation:
    """Run `source` on every instance of `split` in the sandbox and judge each output in the host."""
    started = time.perf_counter()
    seed = resolve_seed(split, seed)
    instances = task.instances(split, seed)
    problem = task.check_program(source)
    gate = CascadeGate(task, instances)
    if problem is None:
        result = executor.run(instance_job(task, source, instances, split, seed, gate))
        problem = result.setup_error
        outcomes = list(result.instances)
    if problem is not None:
        return Evaluation.of_scores(
            task.name, split, seed, setup_failures(task, len(instances), problem), problem, started
        )
    scores = [
        gate.judged.get(i) or _judge(task, i, instance, outcomes[i] if i < len(outcomes) else None)
        for i, instance in enumerate(instances)
    ]
    scores, stopped = cascade(task, scores)
    return Evaluation.of_scores(task.name, split, seed, scores, problem, started, stopped)


class CascadeGate:
    """The strict protocol's cascade, as the sandbox's gate: judge the first `task.cascade` instances
    one by one and stop the job once they all failed; the first that passes releases the rest.

    The judgement is the host's own (`_judge`: the sandbox's error, the CPU-time re-check, the hidden
    scorer; a host-driven task passes its own `judge`, which reads the session the host kept), kept so
    the evaluation does not judge those instances twice. Nothing of it reaches the program: it only
    sees whether it is called again.
    """

    def __init__(
        self,
        task: HostScoredTask,
        instances: list[Any],
        judge: Callable[[int, InstanceResult], InstanceScore] | None = None,
    ) -> None:
        self.task = task
        self.instances = instances
        self.held = task.cascade if 0 < task.cascade < len(instances) else 0
        self.judged: dict[int, InstanceScore] = {}
        self.judge = judge or (lambda index, result: _judge(task, index, instances[index], result))

    def verdict(self, index: int, result: InstanceResult) -> Verdict:
        score = self.judge(index, result)
        self.judged[index] = score
        if score.error is None:
            return Verdict(release=True)
        if index + 1 >= self.held:
            return Verdict(stop=cascade_reason(self.held))
        return Verdict()


def cascade_reason(k: int) -> str:
    return f"the first {k} instances all failed (cascade)"


def cascade(task: HostScoredTask, scores: list[InstanceScore]) -> tuple[list[InstanceScore], str | None]:
    """The strict cascade as a scoring rule: if the first `task.cascade` instances all failed, every
    later instance counts as a failure, whether or not it ran (an executor may not stop early).

    A program that passes any of the first k is scored on every instance exactly as without it.
    """
    k = task.cascade
    if not 0 < k < len(scores) or any(item.error is None for item in scores[:k]):
        return scores, None
    why = cascade_reason(k)
    skipped = Failure(FailureKind.NOT_RUN, f"not run: {why}")
    rest = [InstanceScore(item.index, task.failure_value, 0.0, skipped) for item in scores[k:]]
    return scores[:k] + rest, why


def setup_failures(task: Task, count: int, problem: str) -> list[InstanceScore]:
    """Every instance scored as failed because the program never got to run them."""
    setup = Failure(FailureKind.SETUP, f"setup: {problem}")
    return [InstanceScore(i, task.failure_value, 0.0, setup) for i in range(count)]


def instance_job(
    task: HostScoredTask,
    source: str,
    instances: list[Any],
    split: str,
    seed: int,
    gate: InstanceGate | None = None,
) -> Job:
    """The sandbox job that calls `source` once per instance (both protocols build it here).

    Limited by the child's CPU time and seeded per instance from the split's seed by a keyed hash: the
    same program scores the same however loaded the machine is.
    """
    return Job(
        source=source,
        entry=task.entry_point,
        instances=[instance.args for instance in instances],
        instance_timeout=task.instance_timeout,
        label=f"eval {task.name} {split}" + (" (paper protocol)" if task.protocol == "paper" else ""),
        clock="cpu",
        seeds=seeding.instance_seeds(seed, len(instances)),
        setup_seed=seeding.setup_seed(seed),
        gate=gate if gate is not None and gate.held > 0 else None,
    )


def _judge(task: HostScoredTask, index: int, instance: Any, outcome: InstanceResult | None) -> InstanceScore:
    """Score one call; the trusted-side time is checked again, whatever the sandbox reported."""
    if outcome is None:
        return InstanceScore(index, task.failure_value, 0.0, NO_RESULT)
    if outcome.error is not None:
        return InstanceScore(index, task.failure_value, outcome.seconds, Failure.parse(outcome.error))
    if outcome.seconds > task.instance_timeout:
        return InstanceScore(index, task.failure_value, outcome.seconds, Failure.timeout())
    return judged(task, index, instance, outcome.output, outcome.seconds)


def judged(task: HostScoredTask, index: int, instance: Any, output: Any, seconds: float) -> InstanceScore:
    """The host's verdict on one output, with the scorer's figures and events (if it gave any)."""
    score, reason, detail = task.assess(instance, output)
    rejected = None if reason is None else Failure(FailureKind.INVALID_OUTPUT, reason)
    if detail is None:
        return InstanceScore(index, score, seconds, rejected)
    return InstanceScore(index, score, seconds, rejected, dict(detail.metrics), list(detail.events))
