"""Host-driven tasks: the host hands the program one step of an instance at a time and checks every answer.

Some problems must not show the program the whole instance: online bin packing is only online if the
program never sees the items still to come (given the list, it could pack offline). For those, a
task's `scorer.py` defines `session(instance)`, which returns host-side state with two methods:

    first()          -> the arguments of the first call of the entry point (a list), or None
    answer(output)   -> the arguments of the next call, or None when the instance is finished;
                        raises InvalidOutput for an output it refuses (the instance then fails)

and `score(instance, state)` scores the finished state. The host keeps that state; nothing the program
returns is trusted, and the program only ever holds the arguments of the current step.

In the sandbox, each instance is one call of a small driver appended to the program: it gets a proxy
(`first`, `answer`) whose every method is a remote call answered here, and loops `answer(entry(*args))`.
The program could reach that proxy itself (through the stack), but it gains nothing: the host refuses a
second `first()`, calls after the end or after a refused answer, and learns the next step only from a
valid answer. The instance's time limit covers the whole conversation, measured by the trusted side:
session i answers only while instance i is being timed (its zygote says which instance a call came
from), so a program cannot play sessions at import time or ahead of their turn, untimed.

The strict cascade applies as to every host-scored task: the host judges the first k sessions one by
one, from its own record of each, and a program failing all k is not run on the rest.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from selftaught.failure import Failure, FailureKind
from selftaught.sandbox.executor import calling_instance
from selftaught.sandbox.job import InstanceResult, Job, Proxy
from selftaught.tasks.evaluation import NO_RESULT, CascadeGate, cascade, judged, resolve_seed, setup_failures
from selftaught.tasks.result import Evaluation, InstanceScore
from selftaught.tasks.validation import InvalidOutput

if TYPE_CHECKING:
    from selftaught.sandbox.executor import Executor
    from selftaught.tasks.host_scored import HostScoredTask, Instance

DRIVER_ENTRY = "_selftaught_drive_session"


def driver_source(entry: str) -> str:
    """The loop appended to the program: the only code of ours that runs in the child."""
    return (
        f"\n\n\ndef {DRIVER_ENTRY}(host):\n"
        "    args = host.first()\n"
        "    while args is not None:\n"
        f"        args = host.answer({entry}(*args))\n"
    )


class Conversation:
    """One instance's session as the child may drive it: `first()` once, then `answer(output)` until
    None. Thread-safe (a program may call from threads); every misuse is refused and the first refused
    answer is kept as the instance's failure reason."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.steps = 0
        self.started = False
        self.finished = False
        self.failure: str | None = None
        self._lock = threading.Lock()

    def call(self, method: str, args: list[Any]) -> list[Any] | None:
        with self._lock:
            if self.failure is not None:
                raise RuntimeError(f"the session is over: {self.failure}")
            if self.finished:
                raise RuntimeError("the session is over: every step was answered")
            if method == "first":
                if self.started or args:
                    raise RuntimeError("first() takes no arguments and may be called once")
                self.started = True
                return self._next(self.state.first)
            if not self.started or len(args) != 1:
                raise RuntimeError("answer(output) takes one output, after first()")
            self.steps += 1
            return self._next(lambda: self.state.answer(args[0]))

    def _next(self, step: Any) -> list[Any] | None:
        try:
            upcoming = step()
        except InvalidOutput as exc:
            self.failure = f"invalid output at step {self.steps}: {exc}"
            raise RuntimeError(self.failure) from None
        except Exception as exc:
            self.failure = f"invalid output at step {self.steps} (scorer raised {type(exc).__name__}: {exc})"
            raise RuntimeError(self.failure) from None
        if upcoming is None:
            self.finished = True
            return None
        return list(upcoming)


def evaluate_sessions(
    task: HostScoredTask, source: str, *, split: str = "val", seed: int | None = None, executor: Executor
) -> Evaluation:
    """Run `source` on every instance of `split` as a host-driven session; judge each finished state."""
    started = time.perf_counter()
    seed = resolve_seed(split, seed)
    instances = task.instances(split, seed)
    conversations = [Conversation(task.open_session(instance)) for instance in instances]
    problem = task.check_program(source)
    outcomes: list[InstanceResult] = []
    # The strict cascade, as for instance-by-instance tasks: a session's result arrives after every
    # step of it was answered (the router answers in the job's own thread, in order), so the host can
    # judge instance i, from its own record of the session, before instance i + 1 is sent.
    gate = CascadeGate(
        task,
        instances,
        lambda i, outcome: _judge(task, i, instances[i], conversations[i], outcome),
    )
    if problem is None:
        job = Job(
            source=source + driver_source(task.entry_point),
            entry=DRIVER_ENTRY,
            instances=[
                [Proxy(name=f"session{i}", methods=("first", "answer"))] for i in range(len(instances))
            ],
            instance_timeout=task.instance_timeout,
            label=f"eval {task.name} {split}",
            gate=gate if gate.held > 0 else None,
        )
        result = executor.run(job, _Router(conversations))
        problem = result.setup_error
        outcomes = list(result.instances)
    if problem is not None:
        scores = setup_failures(task, len(instances), problem)
        return Evaluation.of_scores(task.name, split, seed, scores, problem, started)
    scores = [
        gate.judged.get(i)
        or _judge(task, i, instance, conversations[i], outcomes[i] if i < len(outcomes) else None)
        for i, instance in enumerate(instances)
    ]
    scores, stopped = cascade(task, scores)
    return Evaluation.of_scores(task.name, split, seed, scores, problem, started, stopped)


class _Router:
    """The job's remote-call handler: `session<i>.first/answer` goes to conversation i.

    `inline`: every call is one short simulation step, so the pool answers it without a thread per call.
    """

    inline = True

    def __init__(self, conversations: list[Conversation]) -> None:
        self._conversations = conversations

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        index = proxy.removeprefix("session")
        if not index.isdigit() or int(index) >= len(self._conversations) or method not in ("first", "answer"):
            raise RuntimeError(f"no such session method: {proxy}.{method}")
        if kwargs:
            raise RuntimeError("session methods take no keyword arguments")
        calling = calling_instance()
        if calling is not None and calling != int(index):
            when = "module-level code (no instance is timed)" if calling < 0 else f"instance {calling}"
            raise RuntimeError(f"{proxy} answers only while instance {index} is timed, not {when}")
        return self._conversations[int(index)].call(method, args)


def _judge(
    task: HostScoredTask,
    index: int,
    instance: Instance,
    conversation: Conversation,
    outcome: InstanceResult | None,
) -> InstanceScore:
    """The host's verdict: its own record of the session first, then what the sandbox reported."""
    if outcome is None:
        return InstanceScore(index, task.failure_value, 0.0, NO_RESULT)
    if conversation.failure is not None:
        reason = Failure(FailureKind.INVALID_OUTPUT, conversation.failure)
        return InstanceScore(index, task.failure_value, outcome.seconds, reason)
    if outcome.error is not None:
        return InstanceScore(index, task.failure_value, outcome.seconds, Failure.parse(outcome.error))
    if outcome.seconds > task.instance_timeout:
        return InstanceScore(index, task.failure_value, outcome.seconds, Failure.timeout())
    if not conversation.finished:
        stopped = f"invalid output: the program stopped after {conversation.steps} steps, before the end"
        return InstanceScore(
            index, task.failure_value, outcome.seconds, Failure(FailureKind.INVALID_OUTPUT, stopped)
        )
    return judged(task, index, instance, conversation.state, outcome.seconds)
