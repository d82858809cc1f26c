"""Where a run is, from its stored rows (`report.progress`), and the report sections that show it.

The progress of a run is what the live view's counters show while another process writes the store; it
must follow from the rows alone. Hand-built rows pin each phase; hypothesis checks the invariants on row
sets nobody shaped; a store written through `RunStore` checks the loader and the static page.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import make_run

from selftaught.report import load_run_summary
from selftaught.report.html import run_html
from selftaught.report.progress import run_progress
from selftaught.store import Context, ImproverRunRecord, IterationRecord, MetaUtilityRecord

CONFIG = {"iterations": 3, "tests": 2, "utility_budget": 5, "lm_calls": 4, "max_cost": 2.5}


def iteration(t: int) -> IterationRecord:
    return IterationRecord(
        t, f"{t}" * 64, None, "seed" if t == 0 else "improved", 0.5, 0.5, 0.0, 0.0, None, 1, 1, 1, 0.0, 1.0
    )


def estimate(context: Context, sha: str) -> MetaUtilityRecord:
    return MetaUtilityRecord(context, sha, "task", 0.5, 0.5, 0.0, 0.0, 2)


def improver_run(context: Context, sha: str, index: int, error: str | None = None) -> ImproverRunRecord:
    return ImproverRunRecord(context, sha, "task", index, "i" * 64, "o" * 64, error, 0.5, 0.5, 1, 1, 1.0)


def test_seed_estimate_in_progress() -> None:
    runs = [improver_run(Context.iteration(0), "s" * 64, 0)]
    progress = run_progress("running", CONFIG, [], [], runs)
    assert (progress.current_t, progress.phase, progress.tests_done, progress.tests_asked) == (
        0,
        "seed estimate",
        1,
        2,
    )
    assert progress.iterations_asked == 4 and progress.max_cost == 2.5 and progress.lm_call_budget == 4


def test_candidates_of_a_step_and_the_newest_unfinished_one() -> None:
    step = Context.candidates(1)
    runs = [improver_run(step, "a" * 64, 0), improver_run(step, "a" * 64, 1), improver_run(step, "b" * 64, 0)]
    progress = run_progress("running", CONFIG, [iteration(0)], [estimate(step, "a" * 64)], runs)
    assert progress.current_t == 1 and progress.phase == "candidates"
    assert progress.candidates_scored == 1 and progress.candidate_budget == 5
    assert progress.candidate_sha == "b" * 64 and progress.tests_done == 1
    assert progress.test_runs == 3


def test_fresh_estimate_after_the_step() -> None:
    step = Context.candidates(1)
    runs = [improver_run(step, "a" * 64, 0), improver_run(Context.iteration(1), "a" * 64, 0)]
    progress = run_progress("running", CONFIG, [iteration(0)], [estimate(step, "a" * 64)], runs)
    assert progress.phase == "estimate" and progress.candidate_sha is None and progress.tests_done == 1


def test_finished_and_stopped_runs_compute_nothing() -> None:
    done = [iteration(t) for t in range(4)]
    assert run_progress("completed", CONFIG, done, [], []).current_t is None
    stopped = run_progress("stopped", CONFIG, done[:2], [], [])
    assert stopped.current_t is None and stopped.phase == "stopped" and stopped.iterations_done == 2
    # a run still marked running with every iteration stored is finishing, not computing one more
    assert run_progress("running", CONFIG, done, [], []).current_t is None


contexts = st.sampled_from(
    [Context.candidates(1), Context.candidates(2), Context.iteration(1), Context.iteration(2)]
)
shas = st.sampled_from(["a" * 64, "b" * 64, "c" * 64])


@given(
    stored=st.integers(min_value=0, max_value=4),
    runs=st.lists(st.tuples(contexts, shas, st.integers(0, 3)), max_size=12),
    finished=st.lists(st.tuples(contexts, shas), max_size=6),
)
def test_progress_invariants(stored: int, runs: list, finished: list) -> None:
    records = [improver_run(context, sha, index) for context, sha, index in runs]
    estimates = [estimate(context, sha) for context, sha in finished]
    progress = run_progress("running", CONFIG, [iteration(t) for t in range(stored)], estimates, records)
    assert progress.iterations_done == stored and progress.test_runs == len(records)
    assert progress.current_t == (stored if stored < 4 else None)
    if progress.current_t is None:
        assert progress.tests_done == 0 and progress.candidates_scored == 0
        return
    t = progress.current_t
    assert progress.candidates_scored == sum(1 for row in estimates if row.context == Context.candidates(t))
    open_runs = [
        row
        for row in records
        if row.context in (Context.candidates(t), Context.iteration(t))
        and (row.context, row.improver_sha) not in {(e.context, e.improver_sha) for e in estimates}
    ]
    assert progress.tests_done == (
        sum(
            1
            for row in open_runs
            if (row.context, row.improver_sha) == (open_runs[-1].context, open_runs[-1].improver_sha)
        )
        if open_runs
        else 0
    )
    if progress.candidate_sha is not None:
        assert (
            open_runs[-1].context == Context.candidates(t)
            and open_runs[-1].improver_sha == progress.candidate_sha
        )


def test_static_report_shows_progress_and_every_downstream_test(runs_dir: Path) -> None:
    run = load_run_summary(
        make_run(runs_dir, "20261126-000000-str_grid_dist-s0-prog", status="running", iterations=4)
    )
    assert run.progress is not None and run.progress.current_t == 3 and run.progress.iterations_asked == 5
    assert len(run.downstream) == 6  # two tests per stored iteration
    assert [item.error for item in run.downstream[:2]] == [None, "timeout"]
    page = run_html(run)
    assert '<span id="progress-iterations" data-value="3" data-total="5">3 of 5</span>' in page
    assert page.count('data-failed=""') == 3
    assert '<section id="downstream">' in page and "timeout" in page
