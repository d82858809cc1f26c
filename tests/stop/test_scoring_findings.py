"""What the downstream scorer reports beside a score: static findings about the program, rejected
outputs, and the scorer's own events, each with the program's sha (fast: ScriptedExecutor).

The sink is the run's event log in a real run; here it is a list. Everything from DownstreamScorer down
to the task's scorer is the real code; only the program's outputs are scripted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
from selftaught.store import sha256
from selftaught.tasks.registry import load_task
from selftaught.testing.fake_executor import ScriptedExecutor

from .test_loop_fake import program

TASK = load_task(str(Path(__file__).parent / "split_echo"))


def scorer(found: list[tuple[str, str, str | None]]) -> DownstreamScorer:
    fake = ScriptedExecutor({"value": lambda i, v: float(v)})
    return DownstreamScorer(
        TASK, fake, SplitSeeds(val=4321, test=777), None, findings=lambda *f: found.append(f)
    )


def test_an_honest_program_reports_nothing() -> None:
    found: list[tuple[str, str, str | None]] = []
    assert scorer(found).utility(program(0.4)) == pytest.approx(0.4)
    assert found == []


def test_a_program_that_turns_off_the_sandbox_flag_is_reported_with_its_sha() -> None:
    found: list[tuple[str, str, str | None]] = []
    source = program(0.4) + "def helper(i):\n    return run(i, use_sandbox=False)\n"
    scorer(found).utility(source)
    assert [(kind, sha) for kind, _, sha in found] == [("static:use-sandbox-false", sha256(source))]
    assert "run(i, use_sandbox=False)" in found[0][1]


def test_rejected_outputs_are_reported_once_per_evaluation() -> None:
    found: list[tuple[str, str, str | None]] = []
    source = program(0.4).replace("v=0.400", "v=2.0")  # every output is refused: not in [0, 1]
    scoring = scorer(found)
    assert scoring.utility(source) == 0.0
    assert scoring.utility(source) == 0.0  # memoised: no second evaluation, no second report
    [(kind, detail, sha)] = found
    assert kind == "output-rejected" and sha == sha256(source)
    assert "3 of 3 outputs rejected" in detail and "not a number in [0, 1]" in detail


def test_a_program_that_never_ran_reports_no_rejections() -> None:
    """A setup failure is not a rejected output (nothing was judged)."""
    found: list[tuple[str, str, str | None]] = []
    assert scorer(found).utility("def algorithm(i):\n    return 0.4\n") == 0.0  # no script: setup error
    assert found == []


def test_the_scorers_own_events_reach_the_sink_on_each_split() -> None:
    found: list[tuple[str, str, str | None]] = []
    source = program(1.0)
    scoring = scorer(found)
    assert (scoring.utility(source, "val"), scoring.utility(source, "test")) == (1.0, 0.5)
    assert [(kind, sha) for kind, _, sha in found] == [("new-best", sha256(source))] * 6  # 3 instances x 2
    assert all(detail == "an echo of 1.0" for _, detail, _ in found)
    assert scoring.evaluation(source, "val").metrics == {"echo": 1.0}
