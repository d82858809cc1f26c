"""The STOP loop's bookkeeping on the ScriptedExecutor: fast, no sandbox, no generated code executed.

Programs of the `score_echo` task "return their own score" (`# fake: value v=0.4`); improvers are scripts
(`# fake: improver step=0.1`) that ask the real offline model once, propose a better program (or, given an
improver, an improver with twice the step) and keep it only if the real utility capability says so.
Everything above the executor is the real code: capabilities and budgets, the meta-utility, the loop,
the store, events. The end-to-end versions of these tests (real sandbox) are in test_self_improvement.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selftaught.config import Settings
from selftaught.events import category
from selftaught.stop.api import run_once
from selftaught.store import Context, RunReader
from selftaught.testing.fake_executor import FakeTimeout, ScriptedExecutor, script_of

TASK = Path(__file__).parent / "score_echo"


def program(value: float) -> str:
    return f"# fake: value v={value:.3f}\ndef algorithm(i):\n    return {value:.3f}\n"


def improver(step: float, name: str = "improver") -> str:
    return (
        f"# fake: {name} step={step}\n"
        "def improve_algorithm(initial_solution, utility, language_model):\n    return initial_solution\n"
    )


def improve(initial: str, utility: Any, language_model: Any, step: str, name: str = "improver") -> str:
    language_model.batch_prompt("You are an expert.", ["Improve this."], temperature=0.7)
    named = script_of(initial)
    if named is not None and named[0] in ("improver", "stubborn"):
        candidate = improver(float(step) * 2, named[0])
    else:
        current = float(named[1]["v"]) if named is not None else 0.0
        candidate = program(min(1.0, current + float(step)))
    return candidate if utility(candidate) >= utility(initial) else initial


def stubborn(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Improves programs like `improve`, but hangs when asked to improve an improver."""
    if "def improve_algorithm" in initial:
        raise FakeTimeout
    return improve(initial, utility, language_model, step, "stubborn")


def greedy(initial: str, utility: Any, language_model: Any, step: str) -> str:
    """Calls the utility past its budget (the capability answers 0 and records an event)."""
    for _ in range(10):
        utility(initial)
    return initial


def executor() -> ScriptedExecutor:
    return ScriptedExecutor(
        {"value": lambda i, v: float(v), "improver": improve, "stubborn": stubborn, "greedy": greedy}
    )


def settings(tmp_path: Path, seed_improver: str, iterations: int) -> Settings:
    path = tmp_path / "seed_improver.py"
    path.write_text(seed_improver)
    return Settings(
        task=str(TASK),
        improver=str(path),
        iterations=iterations,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=4,
        test_seed=777,
        runs_dir=tmp_path / "runs",
    )


def test_improvers_that_improve_themselves_are_kept_with_their_lineage(tmp_path: Path) -> None:
    fake = executor()
    result = run_once(settings(tmp_path, improver(0.1), 2), executor=fake)
    assert result.status == "completed"
    assert [it.status for it in result.iterations] == ["seed", "improved", "improved"]
    # step 0.1 -> 0.2 -> 0.4 on the seed program's 0.3: the meta-utility is the improved program's score
    assert [round(it.meta_utility_val, 3) for it in result.iterations] == [0.4, 0.5, 0.7]
    assert [it.parent_sha for it in result.iterations[1:]] == [
        it.improver_sha for it in result.iterations[:-1]
    ]
    with RunReader.open(result.path / "run.sqlite") as store:
        calls = [c for c in store.utility_calls() if c.context == Context.iteration(0) and c.test_index == 0]
        assert [(c.seq, round(c.value, 3)) for c in calls] == [(0, 0.4), (1, 0.3)]  # candidate, then initial
        # the step's own utility is the meta-utility: the candidate improver (step 0.2), then itself (0.1)
        step = [c for c in store.utility_calls() if c.context == Context.step(1)]
        assert [(c.seq, round(c.value, 3)) for c in step] == [(0, 0.5), (1, 0.4)]
        assert {c.improver_sha for c in step} == {result.iterations[0].improver_sha}
        assert store.meta().status == "completed" and len(store.lm_calls()) > 0
    assert all(job.label for job in fake.jobs)


def test_a_step_that_times_out_keeps_the_previous_improver(tmp_path: Path) -> None:
    result = run_once(settings(tmp_path, improver(0.1, "stubborn"), 1), executor=executor())
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    assert result.iterations[1].improver_sha == result.iterations[0].improver_sha
    with RunReader.open(result.path / "run.sqlite") as store:
        kinds = [event.kind for event in store.events()]
    assert "improver-timeout" in kinds and "iteration-fallback" in kinds
    assert category("improver-timeout") == "failure"


def test_resume_redoes_no_finished_work(tmp_path: Path) -> None:
    first = run_once(settings(tmp_path, improver(0.1), 1), executor=executor())
    again = executor()
    resumed = run_once(settings(tmp_path, improver(0.1), 1), resume=first.run_id, extend_to=2, executor=again)
    assert [it.t for it in resumed.iterations] == [0, 1, 2]
    assert resumed.iterations[:2] == first.iterations
    labels = [job.label for job in again.jobs]
    assert labels and not any("t=0" in label or "t=1" in label for label in labels), labels


def test_budget_overruns_are_recorded_as_budget_events(tmp_path: Path) -> None:
    result = run_once(settings(tmp_path, improver(0.1, "greedy"), 0), executor=executor())
    assert result.iterations[0].meta_utility_val == pytest.approx(0.3)  # it returns the seed program
    with RunReader.open(result.path / "run.sqlite") as store:
        overruns = [event for event in store.events() if event.kind == "utility-budget-exceeded"]
    assert len(overruns) == 2 * 6  # two tests, ten calls against a budget of four
    assert {category(event.kind) for event in overruns} == {"budget"}
