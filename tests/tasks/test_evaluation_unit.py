"""The host's side of an evaluation, against a stand-in for the sandbox that reports chosen outcomes.

The host never trusts the sandbox's verdict alone: a call the sandbox reports as answered is still a
timeout when its trusted-side time is past the task's limit, a missing result is a failure, and the
utility is the mean over every instance. The stand-in returns fixed `InstanceResult`s (what the zygote
would have sent); everything from `evaluate` down to the task's scorer is the real code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from selftaught.failure import FailureKind
from selftaught.sandbox.job import InstanceResult, Job, JobResult
from selftaught.tasks import evaluate
from selftaught.tasks.registry import load_task

TASK = load_task(str(Path(__file__).parent.parent / "stop" / "score_echo"))  # instance_timeout 0.5


@dataclass
class Reports:
    """An executor whose every job gets these instance results (and nothing runs)."""

    results: list[InstanceResult]
    jobs: list[Job] = field(default_factory=list)

    def run(self, job: Job, rpc: object = None) -> JobResult:
        self.jobs.append(job)
        return JobResult(list(self.results))

    def close(self) -> None:
        return None


def test_the_host_fails_an_instance_the_sandbox_timed_past_its_limit() -> None:
    """Answered at exactly the limit: scored. A microsecond past it: a timeout, whatever it answered."""
    limit = TASK.instance_timeout
    assert limit == 0.5
    reports = Reports(
        [
            InstanceResult(0.9, None, limit),
            InstanceResult(0.9, None, limit + 1e-6),
            InstanceResult(0.6, None, 0.01),
        ]
    )
    result = evaluate(TASK, "def algorithm(i):\n    return 0.9\n", split="val", executor=reports)
    scores = [(item.score, item.error.kind if item.error else None) for item in result.per_instance]
    assert scores == [(0.9, None), (0.0, FailureKind.TIMEOUT), (0.6, None)]
    assert result.utility == pytest.approx(0.5) and result.failures == 1
    assert reports.jobs[0].instance_timeout == limit and reports.jobs[0].clock == "cpu"


def test_missing_and_failed_results_score_the_failure_value() -> None:
    reports = Reports(
        [InstanceResult(None, "exception: ValueError: no", 0.1), InstanceResult(1.0, None, 0.1)]
    )
    result = evaluate(TASK, "def algorithm(i):\n    return 1.0\n", split="val", executor=reports)
    kinds = [item.error.kind if item.error else None for item in result.per_instance]
    assert kinds == [FailureKind.EXCEPTION, None, FailureKind.NO_RESULT]
    assert result.per_instance[2].seconds == 0.0  # it never ran
    assert result.utility == pytest.approx(1.0 / 3) and result.failures == 2 and result.instances == 3


def test_a_drawn_test_seed_stays_in_its_range(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test seeds are drawn from [TEST_SEED_MIN, TEST_SEED_MAX): never the paper's fixed seeds, never
    past the top of the range, whatever the draw (the two extreme draws are forced here)."""
    from selftaught.tasks import scoring_protocol as evaluation

    monkeypatch.setattr(evaluation.secrets, "randbelow", lambda n: n - 1)
    assert evaluation.draw_test_seed() == evaluation.TEST_SEED_MAX - 1
    monkeypatch.setattr(evaluation.secrets, "randbelow", lambda n: 0)
    assert evaluation.draw_test_seed() == evaluation.TEST_SEED_MIN


def test_a_split_without_a_seed_gets_the_papers_or_a_fresh_secret_one() -> None:
    from selftaught.tasks import evaluation, scoring_protocol

    assert evaluation.resolve_seed("val", None) == 4321  # the paper's validation base
    assert evaluation.resolve_seed("test", None) >= scoring_protocol.TEST_SEED_MIN
    assert evaluation.resolve_seed("test", 77) == 77


def test_the_scorers_figures_are_averaged_over_the_instances_that_report_them() -> None:
    """split_echo reports its output as the figure "echo": the evaluation's metrics are their mean."""
    task = load_task(str(Path(__file__).parent.parent / "stop" / "split_echo"))
    reports = Reports(
        [
            InstanceResult(0.2, None, 0.01),
            InstanceResult(0.4, None, 0.01),
            InstanceResult(None, "timeout", 0.5),
        ]
    )
    result = evaluate(task, "def algorithm(i):\n    return 0.2\n", split="val", executor=reports)
    assert result.metrics == {"echo": pytest.approx(0.3)}  # the timed-out instance reports none
