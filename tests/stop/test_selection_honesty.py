"""No cherry-picking on test, and `improved` means changed (issue 14, section 4).

The listing must report the test value of the iteration that *validation* selects; an iteration whose
adopted improver is its parent, unchanged, is not `improved`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.config import Settings
from selftaught.stop import api
from selftaught.stop.runs import STORE_FILE, list_runs
from selftaught.store import IterationRecord, RunStore

from .conftest import SMALL

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

IDENTITY_IMPROVER = '''
def improve_algorithm(initial_solution, utility, language_model):
    """Returns its input unchanged (so improving itself returns itself)."""
    return initial_solution
'''


def _iteration(t: int, val: float, test: float) -> IterationRecord:
    return IterationRecord(
        t=t,
        improver_sha=f"sha{t}",
        parent_sha=None,
        status="improved",
        meta_utility_val=val,
        meta_utility_test=test,
        stderr_val=0.0,
        stderr_test=0.0,
        note=None,
        lm_calls=0,
        tokens_in=0,
        tokens_out=0,
        cost_usd=0.0,
        wall_seconds=0.0,
    )


def test_runs_lists_the_test_value_of_the_validation_selected_iteration(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "20261127-000000-maxcut-s0-abcd"
    store = RunStore(run_dir / STORE_FILE)
    for row in (
        _iteration(0, 0.40, 0.99),
        _iteration(1, 0.60, 0.50),
        _iteration(2, 0.55, 0.90),
        _iteration(3, 0.60, 0.70),
    ):
        store.add_iteration(row)
    store.close()
    [listing] = list_runs(tmp_path / "runs")
    # Best validation 0.60 first reached at t=1: its test (0.50) is reported, not the best test (0.90).
    row = listing.listing_json()
    assert (row["best_meta_utility_val"], row["best_meta_utility_test"], row["selected_t"]) == (0.60, 0.50, 1)
    assert listing.selected is not None and listing.selected.t == 1
    assert row["iterations"] == 3
    assert list(row) == [
        "run_id",
        "task",
        "model",
        "status",
        "iterations",
        "best_meta_utility_val",
        "best_meta_utility_test",
        "group",
        "started",
        "selected_t",
    ]  # `runs --json` keys


def test_an_improver_that_returns_itself_is_kept_not_improved(tmp_path: Path) -> None:
    improver = tmp_path / "identity.py"
    improver.write_text(IDENTITY_IMPROVER, encoding="utf-8")
    settings = Settings(
        **{**SMALL, "tests": 1}, improver=str(improver), iterations=1, runs_dir=tmp_path / "runs"
    )
    [result] = api.self_improve(settings)
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    assert result.iterations[1].improver_sha == result.iterations[0].improver_sha
    assert "unchanged" in (result.iterations[1].note or "")


def test_paper_selection_rule_zeroes_a_candidate_any_of_whose_runs_raised() -> None:
    """The original rule: one raising test run makes the candidate's meta-utility 0; strict averages.

    `_test` is replaced by canned outcomes (no program runs): this checks the aggregation rule only.
    """
    from types import SimpleNamespace

    from selftaught.failure import Failure, FailureKind
    from selftaught.stop.meta_utility import MetaUtility
    from selftaught.store import Context, ImproverRunRecord

    def outcome(
        index: int, sha: str | None, error: str | None, val: float, test: float, *counts: float
    ) -> ImproverRunRecord:
        return ImproverRunRecord(
            Context.candidates(1), "i" * 64, "parity_noise", index, "s" * 64, sha, error, val, test, 1, 1, 0.1
        )

    canned = [
        outcome(0, "a", None, 0.8, 0.7, 1, 1, 0.1),
        outcome(1, None, Failure(FailureKind.EXCEPTION, "exception: ZeroDivisionError"), 0.0, 0.0, 1, 1, 0.1),
        outcome(2, "b", None, 0.6, 0.5, 1, 1, 0.1),
    ]

    class Canned(MetaUtility):
        def _test(self, improver_source: str, improver_sha: str, index: int) -> ImproverRunRecord:
            return canned[index]

    session = SimpleNamespace(settings=SimpleNamespace(tests=3), store=None)
    scorer = SimpleNamespace(task=SimpleNamespace(name="parity_noise"))
    strict = Canned(session, scorer, "t=1").evaluate("def improve_algorithm(a, b, c):\n    return a\n")  # type: ignore[arg-type]
    paper = Canned(session, scorer, "t=1", any_failure_zeroes=True).evaluate(  # type: ignore[arg-type]
        "def improve_algorithm(a, b, c):\n    return a\n"
    )
    assert abs(strict.meta_utility - (0.8 + 0.0 + 0.6) / 3) < 1e-12
    assert (paper.meta_utility, paper.meta_utility_test) == (0.0, 0.0)
    canned[1] = outcome(1, "c", None, 0.3, 0.2, 1, 1, 0.1)
    clean = Canned(session, scorer, "t=2", any_failure_zeroes=True).evaluate(
        "def improve_algorithm(a, b, c):\n    return b\n"
    )  # type: ignore[arg-type]
    assert abs(clean.meta_utility - (0.8 + 0.3 + 0.6) / 3) < 1e-12
    # Returning nothing usable cost only that test in the original (it skipped empty results).
    canned[1] = outcome(
        1, None, Failure(FailureKind.BAD_RETURN, "returned an empty program"), 0.0, 0.0, 1, 1, 0.1
    )
    empty = Canned(session, scorer, "t=3", any_failure_zeroes=True).evaluate(
        "def improve_algorithm(a, b, c):\n    return c\n"
    )  # type: ignore[arg-type]
    assert abs(empty.meta_utility - (0.8 + 0.0 + 0.6) / 3) < 1e-12
