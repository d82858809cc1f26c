"""The host's evaluation rules one at a time, against a stand-in for the sandbox that reports chosen
outcomes (nothing runs): the job the host builds, the strict cascade as the sandbox's gate and as a
scoring rule, setup failures, seeds, and the scoring-version guard on stored runs."""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.failure import FailureKind
from selftaught.sandbox import seeding
from selftaught.sandbox.job import InstanceResult, Job, JobResult, Verdict
from selftaught.tasks import builtin_task, evaluate
from selftaught.tasks.evaluation import (
    SCORING_VERSION,
    CascadeGate,
    cascade,
    cascade_reason,
    instance_job,
    refuse_other_scoring,
    resolve_seed,
)
from selftaught.tasks.registry import load_task
from selftaught.tasks.result import InstanceScore

STOP = Path(__file__).parent.parent / "stop"
ECHO = load_task(str(STOP / "score_echo"))  # the output is the score; 3 instances per split, limit 0.5 s
SPLIT_ECHO = load_task(str(STOP / "split_echo"))  # the same, with a figure and a "new-best" event at 1.0
PROGRAM = "def algorithm(i):\n    return 0.5\n"
OK, BAD = InstanceResult(0.5, None, 0.01), InstanceResult(None, "exception: ValueError: no", 0.01)


@dataclass
class Reports:
    """An executor whose every job gets these instance results (and nothing runs)."""

    results: list[InstanceResult]
    setup_error: str | None = None
    jobs: list[Job] = field(default_factory=list)

    def run(self, job: Job, rpc: object = None) -> JobResult:
        self.jobs.append(job)
        return JobResult(list(self.results), self.setup_error)

    def close(self) -> None:
        return None


def _echo(instances: int, k: int):  # type: ignore[no-untyped-def]
    """score_echo with `instances` validation instances and a cascade of `k`."""
    task = copy.copy(ECHO)
    task.cascade = k
    task.n_instances = {**task.n_instances, "val": instances}
    task._cache = type(ECHO._cache)()  # its own instances, not the original's cached three
    return task


def test_the_job_carries_the_programs_call_the_limit_and_the_seeds_of_its_split() -> None:
    reports = Reports([OK, OK, OK])
    evaluate(ECHO, PROGRAM, split="val", seed=1234, executor=reports)
    job = reports.jobs[0]
    assert (job.source, job.entry, job.instances) == (PROGRAM, "algorithm", [[1234], [1235], [1236]])
    assert (job.instance_timeout, job.clock, job.label) == (0.5, "cpu", "eval score_echo val")
    assert job.seeds == seeding.instance_seeds(1234, 3) and len(set(job.seeds)) == 3
    assert job.setup_seed == seeding.setup_seed(1234)
    assert job.gate is None  # a cascade of 3 over 3 instances holds nothing back


def test_a_paper_protocol_job_says_so_in_its_label() -> None:
    task = builtin_task("three_sat", protocol="paper")
    job = instance_job(task, PROGRAM, task.instances("val", 7), "val", 7)
    assert job.label == "eval three_sat val (paper protocol)"
    assert builtin_task("three_sat").protocol == "strict"


@pytest.mark.parametrize(
    ("k", "instances", "held"), [(3, 5, 3), (1, 5, 1), (4, 5, 4), (5, 5, 0), (6, 5, 0), (0, 5, 0)]
)
def test_the_gate_holds_back_the_first_k_only_when_k_is_below_the_instance_count(
    k: int, instances: int, held: int
) -> None:
    task = _echo(instances, k)
    gate = CascadeGate(task, task.instances("val", 1))
    assert gate.held == held
    job = instance_job(task, PROGRAM, gate.instances, "val", 1, gate)
    assert job.gate is (gate if held else None)


def test_the_gate_releases_at_the_first_pass_and_stops_after_k_failures() -> None:
    task = _echo(5, 3)
    instances = task.instances("val", 1)
    gate = CascadeGate(task, instances)
    assert gate.verdict(0, BAD) == Verdict()  # one failure of three: go on, one at a time
    assert gate.verdict(1, BAD) == Verdict()
    assert gate.verdict(2, BAD) == Verdict(stop="the first 3 instances all failed (cascade)")
    # asked past its held instances (the pool never does), a gate whose k all failed still says stop
    assert gate.verdict(3, BAD) == Verdict(stop="the first 3 instances all failed (cascade)")
    assert gate.judged[0].error is not None and gate.judged[0].error.kind is FailureKind.EXCEPTION
    passing = CascadeGate(task, instances)
    assert passing.verdict(0, BAD) == Verdict()
    assert passing.verdict(1, OK) == Verdict(release=True)
    assert passing.judged[1].score == 0.5 and passing.judged[1].error is None
    # the host's CPU-time re-check is part of the gate's judgement too
    late = CascadeGate(task, instances)
    assert late.verdict(0, InstanceResult(0.5, None, 0.5 + 1e-6)) == Verdict()
    assert late.judged[0].error is not None and late.judged[0].error.kind is FailureKind.TIMEOUT


def test_an_evaluation_keeps_the_gates_judgements_and_scores_the_rest_by_the_cascade() -> None:
    task = _echo(5, 2)
    reports = Reports([BAD, BAD, OK, OK, OK])  # an executor that ran everything despite the gate
    result = evaluate(task, PROGRAM, split="val", seed=1, executor=reports)
    assert reports.jobs[0].gate is not None and reports.jobs[0].gate.held == 2
    kinds = [item.error.kind if item.error else None for item in result.per_instance]
    assert kinds == [FailureKind.EXCEPTION] * 2 + [FailureKind.NOT_RUN] * 3
    assert (
        result.utility == 0.0
        and result.stopped == cascade_reason(2) == "the first 2 instances all failed (cascade)"
    )
    passed = evaluate(task, PROGRAM, split="val", seed=1, executor=Reports([BAD, OK, BAD, OK, OK]))
    assert [item.score for item in passed.per_instance] == [0.0, 0.5, 0.0, 0.5, 0.5]
    assert passed.stopped is None


def _scores(*passed: bool) -> list[InstanceScore]:
    return [
        InstanceScore(i, 1.0 if ok else 0.0, 0.1, None if ok else ECHO_FAILURE) for i, ok in enumerate(passed)
    ]


ECHO_FAILURE = evaluate(ECHO, PROGRAM, split="val", seed=1, executor=Reports([BAD])).per_instance[0].error


@pytest.mark.parametrize(
    ("k", "passed", "cut"),
    [
        (2, (False, False, True, True), True),
        (2, (False, True, False, False), False),
        (2, (True, False, False, False), False),
        (3, (False, False, True, False), False),
        (4, (False, False, False, False), False),  # k equal to the count: never cut
        (0, (False, False, False), False),
        (1, (False, True), True),
    ],
)
def test_the_cascade_as_a_scoring_rule(k: int, passed: tuple[bool, ...], cut: bool) -> None:
    task = _echo(len(passed), k)
    scores = _scores(*passed)
    after, why = cascade(task, scores)
    if not cut:
        assert after == scores and why is None
        return
    assert why == cascade_reason(k)
    assert after[:k] == scores[:k]
    for item in after[k:]:
        assert item.score == task.failure_value and item.seconds == 0.0 and item.error is not None
        assert item.error.kind is FailureKind.NOT_RUN and item.error.detail == f"not run: {why}"
    assert [item.index for item in after] == list(range(len(passed)))


def test_a_program_that_cannot_be_set_up_fails_every_instance_without_judging_any() -> None:
    reports = Reports([OK, OK, OK], setup_error="SyntaxError: invalid syntax (line 1)")
    result = evaluate(ECHO, PROGRAM, split="val", seed=1, executor=reports)
    assert result.setup_error == "SyntaxError: invalid syntax (line 1)" and result.utility == 0.0
    assert [(item.index, item.score, item.seconds) for item in result.per_instance] == [
        (0, 0.0, 0.0),
        (1, 0.0, 0.0),
        (2, 0.0, 0.0),
    ]
    for item in result.per_instance:
        assert item.error is not None and item.error.kind is FailureKind.SETUP
        assert item.error.detail == "setup: SyntaxError: invalid syntax (line 1)"


def test_a_program_the_task_refuses_is_never_sent_to_the_sandbox() -> None:
    reports = Reports([OK, OK, OK])
    result = evaluate(ECHO, "def something_else(i):\n    return 1.0\n", split="val", seed=1, executor=reports)
    assert reports.jobs == [] and result.utility == 0.0 and result.failures == 3
    assert result.setup_error is not None and "algorithm" in result.setup_error


def test_the_scorers_figures_and_events_reach_the_instance_score() -> None:
    reports = Reports([InstanceResult(1.0, None, 0.01), InstanceResult(0.25, None, 0.01), BAD])
    result = evaluate(SPLIT_ECHO, PROGRAM, split="val", seed=1, executor=reports)
    first, second, failed = result.per_instance
    assert (first.score, first.metrics, first.events) == (
        1.0,
        {"echo": 1.0},
        [("new-best", "an echo of 1.0")],
    )
    assert (second.score, second.metrics, second.events) == (0.25, {"echo": 0.25}, [])
    assert failed.metrics is None and failed.events == []
    rejected = evaluate(
        SPLIT_ECHO, PROGRAM, split="val", seed=1, executor=Reports([InstanceResult(2.0, None, 0.01)])
    )
    item = rejected.per_instance[0]
    assert item.error is not None and item.error.kind is FailureKind.INVALID_OUTPUT
    assert item.error.detail == "invalid output: not a number in [0, 1]: 2.0"


def test_seeds_resolve_by_split_and_unknown_splits_are_usage_errors() -> None:
    assert resolve_seed("val", None) == 4321 and resolve_seed("val", 9) == 9
    assert resolve_seed("test", 77) == 77 and type(resolve_seed("test", True)) is int  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown split 'train': use 'val' or 'test'"):
        resolve_seed("train", 1)


def test_a_split_and_a_protocol_read_at_run_time_are_compared_by_value() -> None:
    """The command line and the run store give the split and the protocol as strings built at run
    time, not the interned literals of the source: a validation split so read keeps the paper's seed,
    and a paper-protocol job so built still says so."""
    val, paper = b"val".decode(), b"paper".decode()
    assert val == "val" and val is not sys.intern("val") and paper is not sys.intern("paper")
    assert resolve_seed(val, None) == 4321
    task = copy.copy(builtin_task("three_sat", protocol=paper))  # the registry hands back its literal
    task.protocol = paper  # as a task built through the API with a protocol read at run time
    job = instance_job(task, PROGRAM, task.instances(val, 7), val, 7)
    assert job.label == "eval three_sat val (paper protocol)"


def test_only_runs_scored_under_this_version_may_be_resumed() -> None:
    # 3: CPU-time limits, seeded instances, the strict cascade; 4: bin_packing cut short by it too
    assert SCORING_VERSION == 4
    cleaned: list[str] = []
    refuse_other_scoring("r1", 4, lambda: cleaned.append("r1"))
    assert cleaned == []
    with pytest.raises(UsageError, match=r"run 'r2' was scored under scoring version 3; .* version 4 "):
        refuse_other_scoring("r2", 3, lambda: cleaned.append("r2"))
    with pytest.raises(UsageError, match=r"scoring version 1 \(wall-clock limits, unseeded\)"):
        refuse_other_scoring("r3", None, lambda: cleaned.append("r3"))
    with pytest.raises(UsageError, match="scoring version 5"):
        refuse_other_scoring("r4", 5)
    assert cleaned == ["r2", "r3"]


@dataclass
class Gated:
    """An executor that consults the job's gate on each held instance, as the pool does, showing the gate
    `seen` while reporting `reported` in the job's result (so whose judgement counts is visible)."""

    seen: list[InstanceResult]
    reported: list[InstanceResult]
    verdicts: list[Verdict] = field(default_factory=list)

    def run(self, job: Job, rpc: object = None) -> JobResult:
        assert job.gate is not None
        for index in range(job.gate.held):
            self.verdicts.append(job.gate.verdict(index, self.seen[index]))
            if self.verdicts[-1].stop or self.verdicts[-1].release:
                break
        return JobResult(list(self.reported))

    def close(self) -> None:
        return None


def test_the_gates_judgements_are_the_evaluations_and_are_not_made_twice() -> None:
    task = _echo(5, 3)
    executor = Gated(seen=[BAD, InstanceResult(0.75, None, 0.01)], reported=[OK] * 5)
    result = evaluate(task, PROGRAM, split="val", seed=1, executor=executor)
    assert executor.verdicts == [Verdict(), Verdict(release=True)]
    # instances 0 and 1 keep the gate's judgement; 2 to 4 are judged from the job's result
    assert [item.score for item in result.per_instance] == [0.0, 0.75, 0.5, 0.5, 0.5]
    assert result.per_instance[0].error is not None and result.stopped is None
