"""Resuming a run that was killed inside an iteration redoes none of the improver runs it had finished
(fast: ScriptedExecutor). The kill is simulated on the real store: the run's last iteration row is
deleted, as if the process died after that iteration's meta-utility tests were stored but before the
iteration itself was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from selftaught.stop.api import run_once
from selftaught.store import RunReader

from .test_loop_fake import executor, improver, settings


class Counted:
    """A Progress that counts each stage's advances."""

    def __init__(self) -> None:
        self.advanced: dict[str, int] = {}

    def stage(self, name: str, total: int | None) -> None:
        return None

    def advance(self, name: str, amount: int = 1) -> None:
        self.advanced[name] = self.advanced.get(name, 0) + amount

    def summary(self, text: str) -> None:
        return None


def test_a_resumed_iteration_reuses_its_stored_improver_runs(tmp_path: Path) -> None:
    first = run_once(settings(tmp_path, improver(0.1), 1), executor=executor())
    assert [it.status for it in first.iterations] == ["seed", "improved"]
    with sqlite3.connect(first.path / "run.sqlite") as db:
        db.execute("DELETE FROM iterations WHERE t = 1")
    again = executor()
    progress = Counted()
    resumed = run_once(
        settings(tmp_path, improver(0.1), 1),
        resume=first.run_id,
        extend_to=1,
        executor=again,
        progress=progress,
    )
    assert resumed.iterations == first.iterations[:1] + resumed.iterations[1:]
    assert resumed.iterations[1].improver_sha == first.iterations[1].improver_sha
    assert resumed.iterations[1].meta_utility_val == first.iterations[1].meta_utility_val
    # Read back, each stored test still moves the progress bar: the candidate improver and its parent
    # under "t=1" (2 tests each), then the fresh estimate under "iteration t=1" (2 tests).
    assert progress.advanced.get("test") == 6
    rerun = [job.label for job in again.jobs if " improver " in job.label and " test " in job.label]
    assert rerun == [], rerun  # every meta-utility test (candidates' and the fresh estimate's) was stored
    with RunReader.open(first.path / "run.sqlite") as store:
        assert len(store.improver_runs()) == len(
            {(r.context, r.improver_sha, r.test_index) for r in store.improver_runs()}
        )


def test_progress_counts_self_improvement_steps_and_step_calls_are_one_run(tmp_path: Path) -> None:
    """Two iterations are two steps on the progress bar (t=0 is the seed's estimate, not a step), and
    a step's own utility calls are stored as its single run (test index 0)."""
    progress = Counted()
    result = run_once(settings(tmp_path, improver(0.1), 2), executor=executor(), progress=progress)
    assert progress.advanced.get("iteration") == 2
    with RunReader.open(result.path / "run.sqlite") as store:
        steps = [c for c in store.utility_calls() if c.context.kind == "step"]
    assert steps and {c.test_index for c in steps} == {0}
