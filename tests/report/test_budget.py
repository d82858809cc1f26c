"""Score vs budget: best-so-far curves from the stored utility calls (report/budget.py)."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import make_run

from selftaught.report import load_run_summary
from selftaught.report.budget import best_so_far, mean_curve
from selftaught.report.html import run_html
from selftaught.report.terminal import budget_line
from selftaught.store import Context, RunReader, RunStore, UtilityCallRecord

calls_of_a_run = st.lists(st.tuples(st.integers(0, 12), st.floats(0.0, 1.0)), min_size=1, max_size=30)


def _monotone(steps: list[tuple[int, float]]) -> bool:
    return all(a[0] < b[0] and a[1] <= b[1] for a, b in itertools.pairwise(steps))


@given(calls_of_a_run)
def test_a_runs_curve_is_monotone_and_ends_at_its_best(calls: list[tuple[int, float]]) -> None:
    steps = best_so_far(calls)
    assert _monotone(steps)
    assert steps[-1][1] == max(value for _, value in calls)
    assert [x for x, _ in steps] == sorted({spent for spent, _ in calls})
    for spent, best in steps:  # each step is the best among the calls made with at most that budget
        assert best == max(value for x, value in calls if x <= spent)


@given(st.lists(calls_of_a_run, min_size=1, max_size=5))
def test_the_mean_curve_is_monotone_and_ends_at_the_mean_of_the_runs_bests(
    runs: list[list[tuple[int, float]]],
) -> None:
    curve = mean_curve([best_so_far(calls) for calls in runs])
    assert _monotone(curve)
    assert curve[0][0] == max(min(x for x, _ in calls) for calls in runs)  # every run has made a call
    assert abs(curve[-1][1] - statistics.fmean(max(v for _, v in calls) for calls in runs)) < 1e-12


def test_calls_count_at_the_budget_they_were_asked_with() -> None:
    # a concurrent improver: the call asked at 1 LM call finished after the one asked at 3
    assert best_so_far([(3, 0.9), (1, 0.5), (3, 0.2)]) == [(1, 0.5), (3, 0.9)]
    assert best_so_far([(0, 0.6), (2, 0.4)]) == [(0, 0.6), (2, 0.6)]  # a worse call keeps the best
    assert mean_curve([[(0, 0.2), (4, 0.8)], [(2, 0.4)]]) == [
        (2, pytest.approx(0.3)),
        (4, pytest.approx(0.6)),
    ]


def _add_calls(run_dir: Path, per_test: dict[int, list[tuple[int | None, float]]], t: int = 1) -> None:
    store = RunStore.open_existing(run_dir / "run.sqlite")
    sha = store.iterations()[t].improver_sha
    store.add_utility_calls(
        [
            UtilityCallRecord(
                Context.iteration(t),
                sha,
                "str_grid_dist",
                test,
                seq,
                "p" * 64,
                value,
                spent,
                None if spent is None else 3 * spent,
            )
            for test, calls in per_test.items()
            for seq, (spent, value) in enumerate(calls)
        ]
    )
    store.add_utility_calls(
        [  # another context of the same improver is not this curve
            UtilityCallRecord(Context.candidates(t), sha, "str_grid_dist", 0, 0, None, 0.99, 1, 3)
        ]
    )
    store.close()


def test_the_report_curve_ends_at_each_stored_runs_best(runs_dir: Path) -> None:
    run_dir = make_run(runs_dir, "budget-run")
    _add_calls(run_dir, {0: [(1, 0.30), (1, 0.45), (2, 0.41), (4, 0.52)], 1: [(2, 0.20), (3, 0.60)]})
    summary = load_run_summary(run_dir)
    [curve] = summary.budget_curves
    with RunReader.open(run_dir / "run.sqlite") as reader:
        stored = [c for c in reader.utility_calls() if c.context == Context.iteration(1)]
    bests = [max(c.value for c in stored if c.test_index == k) for k in (0, 1)]
    assert curve.t == 1 and curve.tests == 2 and curve.run_calls == (4, 2)
    assert curve.run_best == tuple(bests) == (0.52, 0.60)
    assert curve.lm_calls == (2, 3, 4)
    assert curve.best == ((0.45 + 0.20) / 2, (0.45 + 0.60) / 2, (0.52 + 0.60) / 2)
    assert math.isclose(curve.best[-1], statistics.fmean(bests), rel_tol=1e-12)
    assert list(summary.to_dict()["budget_curves"][0]["best"]) == list(curve.best)
    assert budget_line(curve) == "0.325 @2 -> 0.525 @3 -> 0.560 @4 LM calls (mean of 2 tests)"
    page = run_html(summary)
    assert 'id="budget"' in page and 'data-plot="score-vs-budget"' in page and 'id="budget-table"' in page


def test_a_store_without_budget_records_says_so(runs_dir: Path) -> None:
    run_dir = make_run(runs_dir, "old-run")
    _add_calls(run_dir, {0: [(None, 0.3)]})  # as read from a schema-2 store: budget unknown
    summary = load_run_summary(run_dir)
    assert summary.budget_curves == ()
    assert "predates budget records" in run_html(summary)
