"""Hidden scorers of the six built-in tasks, on outputs constructed here (nothing is executed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.tasks import PAPER_NAMES, VAL_SEED_BASE, Instance, builtin_task, list_tasks

PAPER_COUNTS = {
    "parity_noise": (20, 50, 2.0),
    "parity_noiseless": (20, 20, 2.0),
    "three_sat": (30, 30, 0.1),
    "maxcut": (100, 100, 0.1),
    "modified_quadratic_assignment": (10, 10, 0.5),
    "str_grid_dist": (50, 50, 0.1),
}


def _equal(a: object, b: object) -> bool:
    """Deep equality for instance args/hidden made of lists, tuples, dicts, arrays and scalars."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return type(a) is type(b) and a == b


def _same_instances(first: list[Instance], second: list[Instance]) -> bool:
    return len(first) == len(second) and all(
        _equal(x.args, y.args) and _equal(x.hidden, y.hidden) for x, y in zip(first, second, strict=True)
    )


def test_the_six_paper_tasks_with_the_paper_parameters() -> None:
    assert [task.name for task in list_tasks(paper_only=True)] == list(PAPER_NAMES)
    for task in list_tasks(paper_only=True):
        val, test, limit = PAPER_COUNTS[task.name]
        assert task.n_instances == {"val": val, "test": test}
        assert task.instance_timeout == limit
        assert task.entry_point == "algorithm"
        assert task.check_program(task.seed_algorithm) is None
        assert 0.0 <= task.failure_value < 0.05
        text = task.utility_text(25)
        assert text.startswith("# Budget: this utility may be called at most 25 times")
        assert "def utility(" in text and "second" in text  # the time limit is stated


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_generation_is_deterministic_per_seed_and_instance_i_uses_seed_plus_i(name: str) -> None:
    task = builtin_task(name)
    scorer = task._scorer  # fresh generation, bypassing the cache
    count = task.n_instances["val"]
    first = [task._generate("val", VAL_SEED_BASE)[i] for i in (0, 1)]
    again = task._generate("val", VAL_SEED_BASE)[:2]
    assert _same_instances(first, again)
    shifted = [task._generate("test", VAL_SEED_BASE + 1)[0]]
    assert _same_instances(shifted, first[1:2])  # instance 1 of seed s is instance 0 of seed s + 1
    other = task._generate("val", VAL_SEED_BASE + 10_000)[:2]
    assert not _same_instances(first, other)
    assert scorer.wants_count and len(task.instances("val", VAL_SEED_BASE)) == count


def test_instances_are_cached_per_split_and_seed() -> None:
    task = builtin_task("maxcut")
    assert task.instances("val", VAL_SEED_BASE) is task.instances("val", VAL_SEED_BASE)
    assert task.instances("test", 77) is not task.instances("val", 77)


# ---- parity ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["parity_noise", "parity_noiseless"])
def test_parity_scores_accuracy_and_refuses_every_broadcastable_shape(name: str) -> None:
    task = builtin_task(name)
    instance = task.instances("val", VAL_SEED_BASE)[0]
    labels = instance.hidden
    assert labels.shape == (20,)
    assert task.score(instance, labels) == 1.0
    assert task.score(instance, labels.tolist()) == 1.0
    assert task.score(instance, [bool(v) for v in labels]) == 1.0
    assert task.score(instance, labels.astype(float)) == 1.0
    flipped = 1 - labels
    assert task.score(instance, flipped) == task.failure_value  # 0% accuracy, floored at the failure value
    half = labels.copy()
    half[:5] = 1 - half[:5]
    assert task.score(instance, half) == 0.75
    malformed = [
        labels.reshape(20, 1),
        labels.reshape(1, 20),
        np.append(labels, 0),
        labels[:19],
        np.zeros((20, 20), dtype=int),
        np.full(20, np.nan),
        ["1"] * 20,
        "01" * 10,
        None,
        labels * 2,
        {"predictions": labels.tolist()},
    ]
    for output in malformed:
        score, reason = task.judge(instance, output)
        assert score == task.failure_value and reason and reason.startswith("invalid output"), output


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.int64,
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=22),
        elements=st.integers(0, 1),
    )
)
def test_parity_never_scores_above_one_and_only_the_exact_shape_can_pass(output: np.ndarray) -> None:
    task = builtin_task("parity_noise")
    instance = task.instances("val", VAL_SEED_BASE)[3]
    score, reason = task.judge(instance, output)
    assert task.failure_value <= score <= 1.0
    if output.shape != (20,):
        assert (score, reason is not None) == (task.failure_value, True)


def test_noiseless_training_labels_are_exact_and_noisy_ones_are_not() -> None:
    for name, exact in (("parity_noiseless", True), ("parity_noise", False)):
        mismatches = 0
        for instance in builtin_task(name).instances("val", VAL_SEED_BASE):
            train, labels, _test = instance.args
            masks = (np.arange(1024)[:, None] >> np.arange(10)) & 1
            consistent = (((train @ masks.T) % 2) == labels[:, None]).all(axis=0)
            mismatches += int(not consistent.any())
        assert (mismatches == 0) == exact


# ---- three_sat ------------------------------------------------------------------------------------


def test_three_sat_formulas_are_planted_satisfiable_with_paper_sizes() -> None:
    task = builtin_task("three_sat")
    sizes = []
    for instance in task.instances("val", VAL_SEED_BASE):
        (formula,) = instance.args
        literals, planted = instance.hidden["literals"], instance.hidden["planted"]
        n = len(planted) - 1
        sizes.append(n)
        assert len(formula) == 4 * n and all(len(clause) == 3 for clause in formula)
        assert all(len({abs(lit) for lit in clause}) == 3 for clause in formula)
        assert all(isinstance(lit, int) and 1 <= abs(lit) <= n for clause in formula for lit in clause)
        visible = int(np.abs(literals).max())
        assignment = planted[: visible + 1].tolist()
        assert task.score(instance, assignment) == 1.0
        assert task.score(instance, [int(v) for v in assignment]) == 1.0
        # Falsify every literal of clause 0: a valid assignment that cannot satisfy the formula.
        broken = list(assignment)
        for lit in formula[0]:
            broken[abs(lit)] = lit < 0
        assert task.score(instance, broken) == task.failure_value
        for output in (
            None,
            assignment[1:],
            [*assignment, True],
            [2] * (visible + 1),
            np.array([assignment]),
        ):
            assert task.judge(instance, output)[1] is not None
    assert min(sizes) >= 5 and max(sizes) <= 50 and len(set(sizes)) > 10


# ---- maxcut ---------------------------------------------------------------------------------------


def test_maxcut_graphs_and_normalised_cut() -> None:
    task = builtin_task("maxcut")
    instances = task.instances("val", VAL_SEED_BASE)
    sizes = [len(instance.args[0]) for instance in instances]
    assert min(sizes) >= 50 and max(sizes) <= 200
    instance = instances[0]
    adjacency = instance.args[0]
    n = len(adjacency)
    assert np.array_equal(adjacency, adjacency.T) and not adjacency.diagonal().any()
    weights = adjacency[np.triu_indices(n, 1)]
    assert set(np.unique(weights)) <= set(range(11)) and 0.35 < (weights > 0).mean() < 0.45
    side = np.random.default_rng(0).integers(0, 2, n)
    cut = sum(adjacency[i, j] for i, j in itertools.combinations(range(n), 2) if side[i] != side[j])
    assert task.score(instance, side.tolist()) == pytest.approx(cut / weights.sum())
    assert task.score(instance, side.astype(bool)) == pytest.approx(cut / weights.sum())
    assert task.score(instance, [0] * n) == task.failure_value  # nothing cut
    for output in (side[:-1], side.reshape(1, -1), side * 2, side - 1, [0.5] * n, None):
        assert task.judge(instance, output)[1] is not None


# ---- modified quadratic assignment ----------------------------------------------------------------


def _mqap_cost(F: np.ndarray, D: np.ndarray, P: np.ndarray, a: list[int]) -> float:
    n = len(a)
    return sum(F[i, j] * D[a[i], a[j]] for i in range(n) for j in range(n)) - 0.5 * sum(
        P[i, a[i]] for i in range(n)
    )


def test_mqap_random_baseline_is_exact_and_scores_are_gap_closed() -> None:
    task = builtin_task("modified_quadratic_assignment")
    instance = task.instances("val", VAL_SEED_BASE)[0]
    F, D, P = instance.args
    assert F.shape == D.shape == P.shape == (15, 15)
    baseline, reference = instance.hidden
    rng = np.random.default_rng(5)
    sampled = np.mean([_mqap_cost(F, D, P, rng.permutation(15).tolist()) for _ in range(3000)])
    assert sampled == pytest.approx(baseline, rel=0.01)
    assert reference < baseline
    identity = list(range(15))
    expected = min(
        1.0, max(task.failure_value, (baseline - _mqap_cost(F, D, P, identity)) / (baseline - reference))
    )
    assert task.score(instance, identity) == pytest.approx(expected)
    for output in (
        [0] * 15,
        identity[:-1],
        [float(v) for v in identity],
        [True, *identity[1:]],
        np.eye(15),
        None,
    ):
        assert task.judge(instance, output)[1] is not None


# ---- str_grid_dist --------------------------------------------------------------------------------


def _grid_dist(s: str, t: str) -> int:
    return sum(a != b for a, b in zip(s, t, strict=True)) + sum(
        a != b for row in (s, t) for a, b in itertools.pairwise(row)
    )


def test_grid_distance_instances_and_score_formula() -> None:
    task = builtin_task("str_grid_dist")
    for instance in task.instances("val", VAL_SEED_BASE):
        t, dist = instance.args
        assert 1 <= len(t) <= 30 and set(t) <= {"A", "B"}
        assert _grid_dist(instance.hidden, t) == dist
        assert task.score(instance, instance.hidden) == 1.0
        found = _grid_dist(t, t)
        expected = 1.0 if found == dist else 0.5 - abs(found - dist) / (6 * len(t))
        assert task.score(instance, t) == pytest.approx(expected)
        for output in (t + "A", t[:-1], t.replace("A", "C") if "A" in t else "C" * len(t), list(t), None, 3):
            assert task.judge(instance, output)[1] is not None


@settings(max_examples=100)
@given(st.text(alphabet="AB", min_size=1, max_size=30), st.data())
def test_grid_distance_scores_stay_in_zero_half_unless_exact(t: str, data: st.DataObject) -> None:
    task = builtin_task("str_grid_dist")
    s = data.draw(st.text(alphabet="AB", min_size=len(t), max_size=len(t)))
    dist = data.draw(st.integers(0, 3 * len(t) - 2))  # every reachable grid distance
    score = task.score(Instance(args=[t, dist], hidden=None), s)
    assert score == 1.0 if _grid_dist(s, t) == dist else 0.0 < score <= 0.5


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text("AB01", max_size=40),
    lambda children: (
        st.lists(children, max_size=40) | st.dictionaries(st.text("ab", max_size=2), children, max_size=3)
    ),
    max_leaves=60,
)
arrays = hnp.arrays(
    st.sampled_from([np.int64, np.float64, np.bool_, np.uint8]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=30),
)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(PAPER_NAMES), st.one_of(json_like, arrays), st.integers(0, 9))
def test_no_output_crashes_the_host_or_escapes_the_score_range(name: str, output: object, index: int) -> None:
    task = builtin_task(name)
    instance = task.instances("val", VAL_SEED_BASE)[index]
    score, reason = task.judge(instance, output)
    assert task.failure_value <= score <= 1.0
    assert reason is None or (reason.startswith("invalid output") and "\n" not in reason)


def test_concurrent_first_use_generates_consistent_instances() -> None:
    from concurrent.futures import ThreadPoolExecutor

    task = builtin_task("three_sat")
    seed = 987_654_321
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: task.instances("test", seed), range(16)))
    assert all(_same_instances(results[0], other) for other in results[1:])
