"""bin_packing: the host's online simulation (driven here by reference heuristics) and, end to end in the
sandbox, the host-driven session protocol: one item at a time, every answer checked, misuse refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.tasks import InvalidOutput, builtin_task, evaluate

TASK = builtin_task("bin_packing")


def drive(instance, priority):  # type: ignore[no-untyped-def]
    """Run the host's session with a host-side priority function (trusted code of this test)."""
    state = TASK.open_session(instance)
    args = state.first()
    while args is not None:
        args = state.answer(priority(*args))
    return state


def reference_bins(items: np.ndarray, capacity: int, rule: str) -> int:
    """Online best fit / first fit written independently: a list of remaining capacities."""
    remaining: list[int] = []
    for item in items.tolist():
        fits = [i for i, room in enumerate(remaining) if room >= item]
        if not fits:
            remaining.append(capacity - item)
            continue
        chosen = min(fits, key=lambda i: remaining[i] - item) if rule == "best" else fits[0]
        remaining[chosen] -= item
    return len(remaining)


def test_instances_follow_the_spec() -> None:
    val = TASK.instances("val", 4321)
    assert len(val) == 5 and all(i.args == [150, 500] for i in val)
    assert all(i.hidden.min() >= 20 and i.hidden.max() <= 100 and i.hidden.dtype.kind == "i" for i in val)
    test = TASK.instances("test", 1_000_000)
    assert len(test) == 5 and all(i.args == [100, 5000] for i in test)
    items = np.concatenate([i.hidden for i in test])
    assert items.min() >= 1 and items.max() <= 100
    assert 38 < items.mean() < 43  # Weibull(3) x 45 has mean 45 * Gamma(4/3) = 40.2
    assert not np.array_equal(TASK.instances("val", 1)[0].hidden, val[0].hidden)


@pytest.mark.parametrize("split", ["val", "test"])
def test_best_fit_and_first_fit_give_the_reference_bin_counts(split: str) -> None:
    instance = TASK.instances(split, 77)[0]
    capacity = instance.args[0]
    best = drive(instance, lambda item, bins: -(bins - item))
    first = drive(instance, lambda item, bins: -np.arange(len(bins)))  # the oldest open bin that fits
    assert best.open == reference_bins(instance.hidden, capacity, "best")
    assert first.open == reference_bins(instance.hidden, capacity, "first")
    score, reason, detail = TASK.assess(instance, best)
    bound = math.ceil(int(instance.hidden.sum()) / capacity)
    assert reason is None and detail is not None
    assert score == pytest.approx(bound / best.open)
    assert detail.metrics["excess_pct"] == pytest.approx(100 * (best.open - bound) / bound)
    assert 0 < detail.metrics["excess_pct"] < 10


def test_the_program_is_asked_only_about_bins_that_fit_and_one_item_at_a_time() -> None:
    instance = TASK.instances("val", 5)[0]
    seen: list[tuple[int, np.ndarray]] = []

    def spy(item: int, bins: np.ndarray) -> np.ndarray:
        seen.append((item, bins.copy()))
        assert (bins >= item).all() and len(bins) >= 1
        return -(bins - item)

    state = drive(instance, spy)
    asked = [item for item, _ in seen]
    assert len(asked) == 500 - state.open  # each item except those that opened a bin
    remaining = iter(instance.hidden.tolist())
    assert all(any(item == x for x in remaining) for item in asked)  # in arrival order, none twice


@pytest.mark.parametrize(
    "answer",
    [
        lambda bins: np.zeros(len(bins) + 1),
        lambda bins: np.zeros((len(bins), 1)),
        lambda bins: np.full(len(bins), np.nan),
        lambda bins: ["a"] * len(bins),
        lambda bins: None,
        lambda bins: 3.0,
    ],
)
def test_malformed_priorities_are_refused(answer: object) -> None:
    state = TASK.open_session(TASK.instances("val", 9)[0])
    _, bins = state.first()
    while len(bins) < 2:  # a question with at least two open bins
        _, bins = state.answer(np.zeros(len(bins)))
    with pytest.raises(InvalidOutput):
        state.answer(answer(bins))  # type: ignore[operator]


def test_only_a_finished_packing_of_this_instance_scores() -> None:
    instance, other = TASK.instances("val", 3)[:2]
    half = TASK.open_session(instance)
    half.first()
    assert TASK.judge(instance, half)[0] == 0.0
    done = drive(other, lambda item, bins: -(bins - item))
    assert "expected the host's packing" in (TASK.judge(instance, done)[1] or "")
    assert TASK.judge(instance, [1, 2, 3])[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_random_answers_either_are_refused_or_place_the_item_in_a_bin_that_fits(data: st.DataObject) -> None:
    state = TASK.open_session(TASK.instances("val", 11)[0])
    args = state.first()
    for _ in range(60):
        if args is None:
            break
        item, bins = args
        before = state.remaining[: state.open].copy()
        shape = data.draw(
            st.sampled_from([(len(bins),), (len(bins) + 1,), (max(0, len(bins) - 1),), (len(bins), 1)])
        )
        answer = data.draw(
            hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=True, allow_infinity=True))
        )
        try:
            args = state.answer(answer)
        except InvalidOutput:
            assert shape != (len(bins),) or not np.isfinite(answer).all()
            return
        changed = np.flatnonzero(state.remaining[: len(before)] != before)
        assert len(changed) == 1 and before[changed[0]] - state.remaining[changed[0]] == item
        assert before[changed[0]] == bins[int(np.argmax(answer))]


# --- end to end in the sandbox: the session protocol -----------------------------------------------------

WORST_FIT = "import numpy as np\n\ndef priority(item, bins):\n    return bins - item\n"
WRONG_LENGTH = "import numpy as np\n\ndef priority(item, bins):\n    return np.zeros(len(bins) + 1)\n"
PEEK = """
import gc
import numpy as np

def priority(item, bins):
    # Look for the item list anywhere in this process: it must not be here.
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.size >= 500:
            raise RuntimeError("found the item list")
        if isinstance(obj, list) and len(obj) >= 500 and all(isinstance(x, int) for x in obj[:5]):
            raise RuntimeError("found the item list")
    return -(bins - item)
"""
REPLAY = """
import sys

def priority(item, bins):
    host = sys._getframe(1).f_locals["host"]
    return host.first()  # ask for the start again, hoping to see items twice
"""
SKIP = """
import sys

def priority(item, bins):
    host = sys._getframe(1).f_locals["host"]
    host.answer([0.0] * len(bins))  # place the item itself (and see the next one), then stop the driver
    raise SystemExit(0)
"""


def test_the_seed_and_worst_fit_through_the_sandbox(pool: object) -> None:
    seed = evaluate(TASK, TASK.seed_algorithm, split="val", executor=pool)  # type: ignore[arg-type]
    assert seed.failures == 0, seed.per_instance
    expected = [reference_bins(i.hidden, 150, "best") for i in TASK.instances("val", 4321)]
    assert [item.metrics["bins"] for item in seed.per_instance] == expected  # type: ignore[index]
    worst = evaluate(TASK, WORST_FIT, split="val", executor=pool)  # type: ignore[arg-type]
    assert worst.failures == 0 and worst.utility < seed.utility
    assert seed.to_dict()["metrics"]["excess_pct"] == pytest.approx(seed.metrics["excess_pct"])


def test_the_program_never_holds_the_item_list(pool: object) -> None:
    result = evaluate(TASK, PEEK, split="val", executor=pool)  # type: ignore[arg-type]
    assert result.failures == 0, result.per_instance[0].error


@pytest.mark.parametrize(
    ("program", "why"),
    [(WRONG_LENGTH, "invalid output at step 1"), (REPLAY, "called once"), (SKIP, "SystemExit")],
)
def test_misuse_fails_the_instance_with_the_hosts_reason(pool: object, program: str, why: str) -> None:
    result = evaluate(TASK, program, split="val", executor=pool)  # type: ignore[arg-type]
    assert result.utility == 0.0 and result.failures == 5
    reason = result.per_instance[0].error or ""
    assert why in reason, reason


RAISES = "def priority(item, bins):\n    raise ValueError('no')\n"
# Fails its first two sessions (the child, and so this counter, lives across instances), then packs
# best fit: the third session passes, so the cascade releases the rest.
FAILS_TWO = """
import numpy as np

calls = 0

def priority(item, bins):
    global calls
    calls += 1
    if calls <= 2:
        raise ValueError(calls)
    return -(bins - item)
"""


class Recording:
    """The real pool, keeping each job's raw result (how many instances the sandbox actually ran)."""

    def __init__(self, pool: object) -> None:
        self.pool = pool
        self.results: list[object] = []

    def run(self, job, rpc=None, stop=None):  # type: ignore[no-untyped-def]
        result = self.pool.run(job, rpc, stop)  # type: ignore[attr-defined]
        self.results.append(result)
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self.pool, name)


def _without_cascade():  # type: ignore[no-untyped-def]
    import copy

    task = copy.copy(TASK)
    task.cascade = 0
    return task


def test_sessions_failing_the_first_k_stop_the_job_there(pool: object) -> None:
    """The strict cascade, host-driven: the sandbox never starts a session after the k-th failure."""
    from selftaught.failure import FailureKind

    recorded = Recording(pool)
    result = evaluate(TASK, RAISES, split="test", executor=recorded)  # type: ignore[arg-type]
    k = TASK.cascade
    assert 0 < k < result.instances
    assert result.instances_run == k and result.failures == result.instances
    assert result.stopped is not None and f"first {k}" in result.stopped
    assert all(row.error is not None and "ValueError" in str(row.error) for row in result.per_instance[:k])
    assert all(
        row.error is not None and row.error.kind is FailureKind.NOT_RUN for row in result.per_instance[k:]
    )
    [job] = recorded.results
    assert job.stopped == result.stopped  # type: ignore[attr-defined]
    assert all(item.error.startswith("not run") for item in job.instances[k:])  # type: ignore[attr-defined]


def test_sessions_passing_one_of_the_first_k_score_exactly_as_without_the_cascade(pool: object) -> None:
    for source in (FAILS_TWO, TASK.seed_algorithm, WORST_FIT):
        on = evaluate(TASK, source, split="val", executor=pool)  # type: ignore[arg-type]
        off = evaluate(_without_cascade(), source, split="val", executor=pool)  # type: ignore[arg-type]
        assert on.stopped is None and on.instances_run == on.instances
        assert [(r.score, r.error, r.metrics) for r in on.per_instance] == [
            (r.score, r.error, r.metrics) for r in off.per_instance
        ]
        assert on.utility == off.utility
    assert [row.error is None for row in on.per_instance] == [True] * on.instances
    mixed = evaluate(TASK, FAILS_TWO, split="val", executor=pool)  # type: ignore[arg-type]
    assert [row.error is None for row in mixed.per_instance] == [False, False, True, True, True]


def test_a_task_directory_with_a_bad_session_is_a_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from selftaught.errors import UsageError
    from selftaught.tasks import load_task_directory

    copy = tmp_path / "bin_packing"
    shutil.copytree(TASK.directory, copy, ignore=shutil.ignore_patterns("__pycache__"))  # type: ignore[arg-type]
    assert load_task_directory(copy).interactive
    scorer = copy / "scorer.py"
    scorer.write_text(scorer.read_text().replace("def session(instance):", "def session(instance, extra):"))
    with pytest.raises(UsageError, match="session\\(\\) must take \\(instance\\)"):
        load_task_directory(copy)
    scorer.write_text(
        scorer.read_text().replace("def session(instance, extra):", "session = 3\ndef _s(instance):")
    )
    with pytest.raises(UsageError, match="session must be a function"):
        load_task_directory(copy)
