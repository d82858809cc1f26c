"""The built-in scorers' rules on instances built by hand, where every expected score is worked out in the
comment beside it (no generator involved): Max-Cut's cut share, MQAP's cost, closed-form random baseline
and gap share, the grid distance and its partial credit, 3-SAT's clause check, parity's accuracy."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from selftaught.tasks import Instance, builtin_task


def _scorer(name: str) -> dict[str, Any]:
    """The scorer module's namespace (its helpers and constants), as the task loaded it."""
    return builtin_task(name).scorer.score.__globals__


# ---- maxcut ---------------------------------------------------------------------------------------

TRIANGLE = np.array([[0.0, 3.0, 1.0], [3.0, 0.0, 2.0], [1.0, 2.0, 0.0]])  # edges 0-1: 3, 0-2: 1, 1-2: 2


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ([0, 1, 1], 4 / 6),  # cuts 0-1 (3) and 0-2 (1) of 6
        ([1, 0, 0], 4 / 6),  # the same cut, sides swapped
        ([0, 0, 1], 3 / 6),  # cuts 0-2 (1) and 1-2 (2)
        ([0, 1, 0], 5 / 6),  # cuts 0-1 (3) and 1-2 (2)
        ([1, 1, 1], 0.0),  # nothing cut
        ([True, False, True], 5 / 6),
    ],
)
def test_maxcut_scores_the_cut_weight_over_the_total(side: list[int], expected: float) -> None:
    task = builtin_task("maxcut")
    instance = Instance(args=[TRIANGLE], hidden=6.0)
    assert task.scorer.score(instance, side) == pytest.approx(expected, abs=1e-15)


def test_maxcut_with_no_edges_scores_one_and_an_instance_records_its_total() -> None:
    task = builtin_task("maxcut")
    assert task.scorer.score(Instance(args=[np.zeros((3, 3))], hidden=0.0), [0, 1, 0]) == 1.0
    for instance in task.instances("val", 4321)[:3]:
        adjacency = instance.args[0]
        assert instance.hidden == adjacency[np.triu_indices(len(adjacency), 1)].sum()
        assert 50 <= len(adjacency) <= 200
        weights = adjacency[adjacency > 0]
        assert weights.min() == 1.0 and weights.max() == 10.0  # integer weights 1..10, both ends drawn


def test_maxcut_constants_are_the_papers() -> None:
    ns = _scorer("maxcut")
    assert (ns["MIN_NODES"], ns["MAX_NODES"], ns["P_EDGE"], ns["MAX_WEIGHT"]) == (50, 200, 0.4, 10)
    assert ns["_DRAW_RANGE"] == 25  # 10 / 0.4: a draw below 10 of 0..24 is an edge, probability 0.4


# ---- modified quadratic assignment ------------------------------------------------------------------


def _brute_cost(F: np.ndarray, D: np.ndarray, P: np.ndarray, a: tuple[int, ...]) -> float:
    n = len(a)
    return sum(F[i, j] * D[a[i], a[j]] for i in range(n) for j in range(n)) - 0.5 * sum(
        P[i, a[i]] for i in range(n)
    )


def test_mqap_cost_is_the_written_formula() -> None:
    ns = _scorer("modified_quadratic_assignment")
    rng = np.random.default_rng(11)
    F, D, P = rng.random((3, 5, 5))
    for a in [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (1, 0, 3, 4, 2)]:
        assert ns["cost"](F, D, P, list(a)) == pytest.approx(_brute_cost(F, D, P, a), rel=1e-12)
        batch = ns["_costs"](F, D, P, np.array([a]))
        assert batch[0] == pytest.approx(_brute_cost(F, D, P, a), rel=1e-12)


def test_mqap_random_baseline_is_the_mean_over_every_permutation() -> None:
    """The closed form against the mean over all 5! = 120 assignments of a 5 x 5 instance."""
    ns = _scorer("modified_quadratic_assignment")
    rng = np.random.default_rng(12)
    F, D, P = rng.random((3, 5, 5))
    every = [_brute_cost(F, D, P, a) for a in itertools.permutations(range(5))]
    assert ns["_random_mean_cost"](F, D, P) == pytest.approx(float(np.mean(every)), rel=1e-12)


def test_mqap_instances_carry_their_baseline_and_reference() -> None:
    ns = _scorer("modified_quadratic_assignment")
    assert (ns["N"], ns["LAMBDA"], ns["REFERENCE_STARTS"]) == (15, 0.5, 16)
    instance = builtin_task("modified_quadratic_assignment").instances("val", 4321)[0]
    F, D, P = instance.args
    baseline, reference = instance.hidden
    assert baseline == pytest.approx(ns["_random_mean_cost"](F, D, P), rel=1e-12)
    # the reference is the best of 16 descents from starts drawn after F, D, P by the instance's own
    # generator: replaying those draws gives the same number
    rng = np.random.default_rng(4321)
    rng.random((3, 15, 15))
    assert reference == ns["_reference_cost"](F, D, P, rng)
    assert reference < baseline - 1.0  # far better than chance on this instance


@pytest.mark.parametrize(
    ("cost_of_identity", "expected"),
    [
        (10.0, 0.0),  # no better than chance (baseline 10): 0
        (12.0, 0.0),  # worse than chance: clipped to 0
        (6.0, 0.5),  # closes half the gap from 10 to 2
        (2.0, 1.0),  # matches the reference
        (1.0, 1.0),  # beats it: clipped to 1
    ],
)
def test_mqap_scores_the_share_of_the_gap_it_closes(cost_of_identity: float, expected: float) -> None:
    """With F = D = 0 the cost of an assignment is -0.5 * sum_i P[i, a[i]]: P's diagonal sets the
    identity's cost, and the hidden (baseline, reference) = (10, 2)."""
    n = 15
    P = np.zeros((n, n))
    np.fill_diagonal(P, -2.0 * cost_of_identity / n)
    instance = Instance(args=[np.zeros((n, n)), np.zeros((n, n)), P], hidden=(10.0, 2.0))
    task = builtin_task("modified_quadratic_assignment")
    assert task.scorer.score(instance, list(range(n))) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("scale", [1.0, 0.1, 1e-3])
def test_mqap_scores_a_share_of_the_gap_in_any_units(scale: float) -> None:
    """The same instance in other units (every cost times `scale`, so a gap of 8, 0.8 or 0.008): an
    assignment closing half the gap scores 0.5 whatever the gap's size."""
    n = 15
    P = np.zeros((n, n))
    np.fill_diagonal(P, -2.0 * 6.0 * scale / n)  # the identity costs 6 * scale
    instance = Instance(args=[np.zeros((n, n)), np.zeros((n, n)), P], hidden=(10.0 * scale, 2.0 * scale))
    task = builtin_task("modified_quadratic_assignment")
    assert task.scorer.score(instance, list(range(n))) == pytest.approx(0.5, abs=1e-9)


def test_mqap_without_a_gap_scores_one() -> None:
    n = 15
    zeros = np.zeros((n, n))
    task = builtin_task("modified_quadratic_assignment")
    for hidden in ((2.0, 2.0), (1.0, 2.0)):
        assert task.scorer.score(Instance(args=[zeros, zeros, zeros], hidden=hidden), list(range(n))) == 1.0


# ---- str_grid_dist --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "t", "dist"),
    [
        ("A", "A", 0),
        ("A", "B", 1),  # one vertical pair
        ("AB", "AA", 2),  # vertical B/A, and A-B in the top row
        ("AB", "BA", 4),  # two vertical, one in each row
        ("AAAA", "AAAA", 0),
        ("ABAB", "BABA", 10),  # 4 vertical + 3 + 3 horizontal
        ("AABB", "AABB", 2),  # one change in each row
    ],
)
def test_grid_distance_counts_every_differing_neighbour_pair(s: str, t: str, dist: int) -> None:
    assert _scorer("str_grid_dist")["grid_dist"](s, t) == dist


def test_grid_distance_scores_one_when_exact_and_partial_credit_otherwise() -> None:
    task = builtin_task("str_grid_dist")
    instance = Instance(args=["AABB", 2], hidden="AABB")  # target grid distance 2 from t = AABB
    assert task.scorer.score(instance, "AABB") == 1.0  # distance 2: exact
    assert task.scorer.score(instance, "BBBB") == pytest.approx(0.5 - 1 / 24)  # 2 vertical + 0 + 1 = 3 vs 2
    assert task.scorer.score(instance, "BBAA") == pytest.approx(0.5 - 4 / 24)  # 4 + 1 + 1 = 6 vs 2
    ns = _scorer("str_grid_dist")
    assert (ns["MIN_LENGTH"], ns["MAX_LENGTH"]) == (1, 30)


# ---- three_sat ------------------------------------------------------------------------------------


def _sat(literals: list[list[int]]) -> Instance:
    return Instance(args=[literals], hidden={"literals": np.array(literals), "planted": None})


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ([0, 1, 0, 0], 1.0),  # x1 true satisfies (1 or 2 or -3); x3 false satisfies (-1 or 2 or -3)
        ([0, 0, 0, 1], 0.0),  # x1, x2 false and x3 true: the first clause fails
        ([1, 0, 1, 0], 1.0),  # index 0 is ignored; x2 true satisfies both
        ([False, True, False, False], 1.0),
    ],
)
def test_three_sat_scores_one_only_when_every_clause_holds(assignment: list[int], expected: float) -> None:
    task = builtin_task("three_sat")
    assert task.scorer.score(_sat([[1, 2, -3], [-1, 2, -3]]), assignment) == expected


def test_three_sat_wants_one_value_per_variable_plus_index_zero() -> None:
    task = builtin_task("three_sat")
    instance = _sat([[1, 2, -3]])
    for wrong in ([1, 0, 0], [0, 1, 0, 0, 0], None):
        assert task.judge(instance, wrong)[0] == task.failure_value
    assert task.judge(instance, None)[1] == "invalid output: no assignment (None)"
    ns = _scorer("three_sat")
    assert (ns["MIN_N"], ns["MAX_N"], ns["CLAUSES_PER_VARIABLE"]) == (5, 50, 4)
    for generated in task.instances("val", 4321)[:5]:
        literals = generated.hidden["literals"]
        n = int(np.abs(literals).max())
        assert literals.shape == (4 * len(generated.hidden["planted"][1:]), 3) and n <= 50
        planted = generated.hidden["planted"]
        assert (planted[np.abs(literals)] == (literals > 0)).any(axis=1).all()  # the planted one satisfies


# ---- parity ---------------------------------------------------------------------------------------


def test_parity_scores_the_share_of_correct_predictions() -> None:
    labels = np.array([0, 1] * 10)
    instance = Instance(args=[None, None, None], hidden=labels)
    for name in ("parity_noise", "parity_noiseless"):
        task = builtin_task(name)
        assert task.scorer.score(instance, labels.tolist()) == 1.0
        assert task.scorer.score(instance, [0] * 20) == 0.5
        assert task.scorer.score(instance, (1 - labels).tolist()) == 0.0
        assert task.scorer.score(instance, [0, 1] * 5 + [1, 0] * 5) == 0.5


def test_parity_noise_flips_training_labels_and_never_test_labels() -> None:
    from selftaught.tasks import parity

    assert (parity.N_BITS, parity.P_TRUE, parity.N_TRAIN, parity.N_TEST) == (10, 0.3, 100, 20)
    clean = parity.parity_instance(7, 0.0)
    noisy = parity.parity_instance(7, 0.05)
    assert np.array_equal(clean.args[0], noisy.args[0]) and np.array_equal(clean.hidden, noisy.hidden)
    flipped = int((clean.args[1] != noisy.args[1]).sum())
    assert 0 < flipped < 20  # about 5 of 100 flipped; never none, never most (this seed flips a few)
    assert _scorer("parity_noise")["NOISE"] == 0.05 and _scorer("parity_noiseless")["NOISE"] == 0.0


def test_mqap_reference_is_the_best_of_16_steepest_swap_descents() -> None:
    """An independent steepest-descent over pairwise swaps from the same 16 seeded starts (drawn after
    F, D, P by the instance's generator) reaches the instance's reference cost."""
    instance = builtin_task("modified_quadratic_assignment").instances("val", 4321)[1]
    F, D, P = instance.args
    rng = np.random.default_rng(4322)  # instance 1 of the split comes from seed + 1
    rng.random((3, 15, 15))
    best = np.inf
    for _ in range(16):
        current = rng.permutation(15)
        cost = _brute_cost(F, D, P, tuple(current))
        while True:
            moves = []
            for i, j in itertools.combinations(range(15), 2):
                swapped = current.copy()
                swapped[i], swapped[j] = current[j], current[i]
                moves.append((_brute_cost(F, D, P, tuple(swapped)), i, j))
            step_cost, i, j = min(moves)
            if step_cost >= cost - 1e-12:
                break
            current[i], current[j] = current[j], current[i]
            cost = step_cost
        best = min(best, cost)
    assert instance.hidden[1] == pytest.approx(best, rel=1e-9)


def test_generated_parity_samples_and_labels_are_bits_and_labels_are_the_parity() -> None:
    from selftaught.tasks import parity

    for make in (parity.parity_instance, parity.paper_parity_instance):
        for seed in (1, 2, 3):
            clean = make(seed, 0.0)
            train, labels, test = clean.args
            assert set(np.unique(np.concatenate([train.ravel(), test.ravel()]))) == {0, 1}
            assert set(np.unique(labels)) <= {0, 1} and set(np.unique(clean.hidden)) <= {0, 1}
            noisy = make(seed, 0.5)
            assert set(np.unique(noisy.args[1])) <= {0, 1}
            # a noiseless label is the parity of the relevant bits: the same bits explain train and test
            both = np.concatenate([train, test])
            parities = np.concatenate([labels, clean.hidden])
            assert any(
                np.array_equal(both @ np.array(bits) % 2, parities)
                for bits in itertools.product((0, 1), repeat=10)
            )


def test_three_sat_formulas_mix_signs_and_the_planted_assignment_mixes_values() -> None:
    for instance in builtin_task("three_sat").instances("val", 4321)[:5]:
        literals, planted = instance.hidden["literals"], instance.hidden["planted"][1:]
        assert (literals > 0).any() and (literals < 0).any()
        assert planted.any() and not planted.all()
