"""Each stored utility call carries the LM calls and responses its improver run had spent when it asked.

On the ScriptedExecutor (no generated code executed): the scripted improver asks the real offline model
once (a batch of one message), then scores a candidate and the initial program through the real utility
capability. So every utility call of a downstream test is made after exactly one LM call and one
response; the self-improvement step's own calls (the improver scoring candidate improvers) are stored
too (context `step` t).
"""

from __future__ import annotations

from pathlib import Path

from selftaught.stop.api import run_once
from selftaught.store import Context, RunReader

from .test_loop_fake import executor, improver, settings


def test_downstream_and_self_improvement_calls_record_the_budget_spent(tmp_path: Path) -> None:
    result = run_once(settings(tmp_path, improver(0.1), 1), executor=executor())
    assert [it.status for it in result.iterations] == ["seed", "improved"]
    seed_sha = result.iterations[0].improver_sha
    with RunReader.open(result.path / "run.sqlite") as store:
        calls = store.utility_calls()
        runs = store.improver_runs()
    downstream = [c for c in calls if c.context.kind != "step"]
    assert downstream and all((c.lm_calls, c.lm_responses) == (1, 1) for c in downstream)
    # every downstream run's calls are stored in order, as many as the run says it made
    for run in runs:
        mine = [
            c
            for c in downstream
            if (c.context, c.improver_sha, c.test_index) == (run.context, run.improver_sha, run.test_index)
        ]
        assert [c.seq for c in mine] == list(range(run.utility_calls))
    step = [c for c in calls if c.context.kind == "step"]
    assert [(c.context, c.improver_sha, c.seq) for c in step] == [
        (Context.step(1), seed_sha, 0),
        (Context.step(1), seed_sha, 1),
    ]
    assert all((c.lm_calls, c.lm_responses) == (1, 1) for c in step)
    # the step scored the proposed improver, then itself; values are their meta-utility estimates
    assert step[0].program_sha == result.iterations[1].improver_sha and step[1].program_sha == seed_sha
    assert step[0].value > step[1].value > 0
