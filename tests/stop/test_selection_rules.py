"""The selection rules, as unit tests (fast: no sandbox).

Which iteration's test value a listing reports (the one *validation* selects, never the best test), the
paper's rule for candidate improvers (one raising test run zeroes the candidate), and the loop's rule
for adopting an improver (a changed improver worth more than zero). The end-to-end runs of the same
rules on the real sandbox are in test_selection_honesty.py and test_paper_selection_e2e.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selftaught.config import Settings
from selftaught.stop.api import run_once
from selftaught.stop.runs import STORE_FILE, list_runs
from selftaught.store import IterationRecord, RunReader, RunStore
from selftaught.testing.fake_executor import ScriptedExecutor

from .test_loop_fake import TASK, improve, improver, program


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


def worthless(initial: str, utility: Any, language_model: Any) -> str:
    """An improver whose every program scores 0."""
    return program(0.0)


def proposes_worthless(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Improves programs like `improve`; asked to improve an improver, returns `worthless` unasked."""
    if "def improve_algorithm" in initial:
        return improver(0.0, "worthless")
    return improve(initial, utility, language_model, step)


def test_an_improver_worth_zero_is_not_adopted(tmp_path: Path) -> None:
    """A changed, valid improver whose fresh estimate is exactly 0 is not adopted: the step keeps its
    parent and says why (the rule is `<= 0`, not `< 0`)."""
    seed = tmp_path / "seed.py"
    seed.write_text(improver(0.1, "proposes_worthless"))
    settings = Settings(
        task=str(TASK),
        improver=str(seed),
        iterations=1,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=4,
        test_seed=777,
        runs_dir=tmp_path / "runs",
    )
    fake = ScriptedExecutor(
        {"value": lambda i, v: float(v), "proposes_worthless": proposes_worthless, "worthless": worthless}
    )
    result = run_once(settings, executor=fake)
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    assert result.iterations[1].improver_sha == result.iterations[0].improver_sha
    assert "zero meta-utility" in (result.iterations[1].note or "")
    with RunReader.open(result.path / "run.sqlite") as store:
        kinds = [event.kind for event in store.events()]
        estimates = {row.improver_sha: row.value_val for row in store.meta_utilities()}
    assert "iteration-fallback" in kinds
    assert 0.0 in estimates.values()  # the worthless improver was estimated, at exactly zero


def proposes_broken(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Asked to improve an improver, returns a program that is no improver (no improve_algorithm)."""
    if "def improve_algorithm" in initial:
        return "def something_else(x):\n    return x\n"
    return improve(initial, utility, language_model, step)


def proposes_flagged(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Asked to improve an improver, returns a valid improver that turns the sandbox flag off."""
    if "def improve_algorithm" in initial:
        return improver(0.2, "proposes_flagged") + "def helper(f):\n    return f(use_sandbox=False)\n"
    return improve(initial, utility, language_model, step)


def _run(tmp_path: Path, script: str, iterations: int = 1) -> Any:
    seed = tmp_path / "seed.py"
    seed.write_text(improver(0.1, script))
    settings = Settings(
        task=str(TASK),
        improver=str(seed),
        iterations=iterations,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=4,
        test_seed=777,
        runs_dir=tmp_path / "runs",
    )
    scripts = {"value": lambda i, v: float(v), script: globals()[script]}
    return run_once(settings, executor=ScriptedExecutor(scripts))


def test_a_proposal_that_is_no_improver_is_not_adopted(tmp_path: Path) -> None:
    result = _run(tmp_path, "proposes_broken")
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    assert result.iterations[1].improver_sha == result.iterations[0].improver_sha
    assert "improve_algorithm" in (result.iterations[1].note or "")
    assert result.iterations[1].meta_utility_val == result.iterations[0].meta_utility_val
    with RunReader.open(result.path / "run.sqlite") as store:
        fallbacks = [e for e in store.events() if e.kind == "iteration-fallback"]
    assert len(fallbacks) == 1 and fallbacks[0].detail.startswith("t=1: ")


def test_an_adopted_improver_is_scanned_once_and_copied_to_the_run(tmp_path: Path) -> None:
    """A flagged improver is adopted when it is worth more (the flag is a finding, not a veto); its
    static finding is recorded once with its sha (though it is proposed again at t=2, unchanged), and
    every iteration's improver has a readable copy."""
    result = _run(tmp_path, "proposes_flagged", iterations=2)
    assert [it.status for it in result.iterations] == ["seed", "improved", "kept"]
    assert "unchanged" in (result.iterations[2].note or "")
    flagged = result.iterations[1].improver_sha
    with RunReader.open(result.path / "run.sqlite") as store:
        found = [e for e in store.events() if e.kind == "static:use-sandbox-false"]
    assert [e.program_sha for e in found] == [flagged]
    copies = sorted(p.name for p in (result.path / "improvers").glob("*.py"))
    assert len(copies) == 3 and all(it.improver_sha[:8] in " ".join(copies) for it in result.iterations)


def test_a_gap_between_validation_and_test_is_reported_per_iteration(tmp_path: Path) -> None:
    """split_echo's test is half its validation: 0.4 vs 0.2 is past the 0.15 threshold at t=0."""
    seed = tmp_path / "seed.py"
    seed.write_text(improver(0.1))
    settings = Settings(
        task=str(Path(__file__).parent / "split_echo"),
        improver=str(seed),
        iterations=0,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=4,
        test_seed=777,
        runs_dir=tmp_path / "runs",
    )
    result = run_once(
        settings, executor=ScriptedExecutor({"value": lambda i, v: float(v), "improver": improve})
    )
    with RunReader.open(result.path / "run.sqlite") as store:
        gaps = [e for e in store.events() if e.kind == "val-test-gap"]
    assert len(gaps) == 1 and gaps[0].detail.startswith("t=0: ")
    assert gaps[0].program_sha == result.iterations[0].improver_sha


def probes_invalid(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Asked to improve an improver, asks the utility of a program that is no improver, keeps itself."""
    if "def improve_algorithm" in initial:
        utility("def not_an_improver(x):\n    return x\n")
        return initial
    return improve(initial, utility, language_model, step)


def test_a_candidate_that_is_no_improver_is_worth_zero_without_being_run(tmp_path: Path) -> None:
    result = _run(tmp_path, "probes_invalid")
    with RunReader.open(result.path / "run.sqlite") as store:
        step = [c for c in store.utility_calls() if c.context.kind == "step"]
        estimated = {m.improver_sha for m in store.meta_utilities()}
    assert [c.value for c in step] == [0.0]
    assert step[0].program_sha not in estimated  # never estimated: no improver runs for it
