"""The strict protocol's cascade: a program whose first k instances all fail is not run on the rest.

The promise has two halves. A failing program stops early (the record says how many ran and why), and
a program that passes any of its first k instances is scored exactly as without the cascade: the
sandbox tests compare every built-in seed and offline-model candidates with the cascade off and on.
"""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught.failure import Failure, FailureKind
from selftaught.lm.offline.blocks import find_blocks
from selftaught.lm.offline.engine import mutate, mutation_rng
from selftaught.tasks import builtin_task, evaluate
from selftaught.tasks.evaluation import cascade
from selftaught.tasks.result import InstanceScore
from selftaught.tasks.taskfile import DEFAULT_CASCADE

from .conftest import program

STRICT_HOST_SCORED = [
    "maxcut",
    "modified_quadratic_assignment",
    "parity_noise",
    "parity_noiseless",
    "str_grid_dist",
    "three_sat",
    "circle_packing",
]
LOOP = "def algorithm(*args):\n    while True:\n        pass\n"
RAISE = "def algorithm(*args):\n    raise ValueError('no')\n"


def _without_cascade(name: str):  # type: ignore[no-untyped-def]
    """The built-in task as it scored before the cascade (every instance run and judged)."""
    task = copy.copy(builtin_task(name))
    task.cascade = 0
    return task


@given(st.lists(st.booleans(), min_size=0, max_size=12), st.integers(0, 6))
def test_the_rule_changes_nothing_unless_the_first_k_all_failed(passed: list[bool], k: int) -> None:
    task = copy.copy(builtin_task("three_sat"))
    task.cascade = k
    failed = Failure(FailureKind.EXCEPTION, "exception: ValueError")
    scores = [
        InstanceScore(i, 0.5 if ok else 0.0, 0.01, None if ok else failed) for i, ok in enumerate(passed)
    ]
    ruled, stopped = cascade(task, list(scores))
    if 0 < k < len(passed) and not any(passed[:k]):
        assert stopped is not None and ruled[:k] == scores[:k]
        assert all(row.error is not None and row.error.kind is FailureKind.NOT_RUN for row in ruled[k:])
        assert all(row.score == task.failure_value and row.index == i + k for i, row in enumerate(ruled[k:]))
    else:
        assert (ruled, stopped) == (scores, None)


def test_every_built_in_task_cascades_after_three_by_default() -> None:
    assert DEFAULT_CASCADE == 3
    assert all(builtin_task(name).cascade == DEFAULT_CASCADE for name in STRICT_HOST_SCORED)


@pytest.mark.parametrize(("name", "source"), [("parity_noise", LOOP), ("three_sat", RAISE), ("maxcut", LOOP)])
def test_a_program_failing_its_first_k_instances_runs_no_more(pool, name: str, source: str) -> None:
    task = builtin_task(name)
    result = evaluate(task, source, split="test", executor=pool)
    assert result.instances_run == task.cascade and result.failures == result.instances
    assert result.utility == pytest.approx(task.failure_value, abs=1e-12)
    assert result.stopped is not None and str(task.cascade) in result.stopped
    data = result.to_dict(verbose=True)
    assert data["instances_run"] == task.cascade and data["stopped"] == result.stopped
    first, rest = result.per_instance[: task.cascade], result.per_instance[task.cascade :]
    assert all(row.error is not None and row.error.kind is not FailureKind.NOT_RUN for row in first)
    assert all(row.error is not None and row.error.kind is FailureKind.NOT_RUN for row in rest)
    assert all(row.seconds == 0.0 for row in rest)  # never called: no time measured


def test_a_program_that_passes_one_of_its_first_k_runs_every_instance(pool) -> None:
    """Failing the first two instances and passing the third: judged on all of them, as before."""
    task = builtin_task("str_grid_dist")
    first_two = [instance.args[0] for instance in task.instances("val", 4321)[:2]]
    source = f"def algorithm(t, dist):\n    if t in {first_two!r}:\n        raise KeyError(t)\n    return t\n"
    on = evaluate(task, source, executor=pool)
    off = evaluate(_without_cascade("str_grid_dist"), source, executor=pool)
    assert on.stopped is None and on.instances_run == on.instances
    assert [row.error is None for row in on.per_instance[:3]] == [False, False, True]
    assert (on.utility, on.failures) == (off.utility, off.failures)
    assert [(r.score, r.error) for r in on.per_instance] == [(r.score, r.error) for r in off.per_instance]


def _same_outside_the_limit(on, off) -> None:  # type: ignore[no-untyped-def]
    """Both evaluations judged every instance alike, except calls at the CPU limit.

    A call that needs about the limit (three_sat's seed gives up after 1000 flips in about 0.1 s) may
    pass in one run and time out in the next: CPU time varies a little between runs, with or without
    the cascade. Every other instance must score exactly alike, and with no such call, the utility.
    """
    timed_out = {
        row.index
        for row in [*on.per_instance, *off.per_instance]
        if row.error is not None and row.error.kind is FailureKind.TIMEOUT
    }
    for mine, before in zip(on.per_instance, off.per_instance, strict=True):
        if mine.index not in timed_out:
            assert (mine.score, mine.error) == (before.score, before.error)
    if not timed_out:
        assert on.utility == off.utility


@pytest.mark.long  # whole splits scored twice
@pytest.mark.parametrize("name", STRICT_HOST_SCORED)
def test_built_in_seeds_score_exactly_as_without_the_cascade(pool, name: str) -> None:
    task = builtin_task(name)
    on = evaluate(task, task.seed_algorithm, executor=pool)
    off = evaluate(_without_cascade(name), task.seed_algorithm, executor=pool)
    assert on.stopped is None and on.instances_run == on.instances
    _same_outside_the_limit(on, off)


def _offline_candidates(name: str, count: int) -> list[str]:
    """Rewrites of the task's seed by the offline model's mutation engine (its own seeds 0..count-1)."""
    task = builtin_task(name)
    [block] = find_blocks(f"```python\n{task.seed_algorithm}\n```")
    found = []
    for i in range(count):
        rng = mutation_rng(i, "cascade-test", name, 0, 0)
        found.append(mutate(block, [], rng, 1.0).source)
    return found


@pytest.mark.long  # whole splits scored twice
@pytest.mark.parametrize("name", ["three_sat", "parity_noise", "str_grid_dist"])
def test_offline_model_candidates_score_as_without_the_cascade_unless_they_fail_k(pool, name: str) -> None:
    """Whatever the offline model writes: a candidate passing any of its first k is scored exactly as
    before; one failing all k scores no more than before (the rest count as failures)."""
    task, plain = builtin_task(name), _without_cascade(name)
    k = task.cascade
    candidates = _offline_candidates(name, 6) + [program("grid_exact")] * (name == "str_grid_dist")
    random.Random(0).shuffle(candidates)
    for source in candidates:
        if task.check_program(source) is not None:
            continue
        on = evaluate(task, source, executor=pool)
        off = evaluate(plain, source, executor=pool)
        if any(row.error is None for row in off.per_instance[:k]):
            assert on.stopped is None, source
            _same_outside_the_limit(on, off)
        else:
            assert on.utility <= off.utility and on.stopped is not None, source


def test_the_run_record_says_which_evaluations_stopped_early(pool) -> None:
    """STOP's downstream scoring (improvers' utility calls, the meta-utility, the test split) uses the
    cascade too, and records each early stop as an event the report counts."""
    from selftaught.events import EVALUATION_STOPPED, category
    from selftaught.stop.scoring import DownstreamScorer, SplitSeeds

    found: list[tuple[str, str, str | None]] = []
    scorer = DownstreamScorer(
        builtin_task("three_sat"), pool, SplitSeeds(4321, 1_000_000), None, lambda *f: found.append(f)
    )
    assert scorer.utility(RAISE, "test") == pytest.approx(builtin_task("three_sat").failure_value)
    assert scorer.utility(builtin_task("three_sat").seed_algorithm, "val") > 0.5
    stopped = [detail for kind, detail, _ in found if kind == EVALUATION_STOPPED]
    assert stopped == ["test: 3 of 30 instances run: the first 3 instances all failed (cascade)"]
    assert category(EVALUATION_STOPPED) == "expected"  # a normal run has them
