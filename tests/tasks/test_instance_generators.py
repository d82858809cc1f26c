"""The built-in generators draw the instances their scorers' docstrings promise.

A generator that drifts (a narrower size range, no edges between neighbouring nodes, a hidden string that
never varies) still produces instances every scorer accepts, so only tests of the distribution notice. The
seeds are fixed, so every figure below is exact for this code; the bounds are the documented ranges and
frequencies with slack a correct generator never comes near over these sample sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from selftaught.tasks import builtin_task

SEED = 4321


def _instances(name: str, count: int) -> list[Any]:
    return list(builtin_task(name).scorer.instances("val", SEED, count))


def test_maxcut_graphs_span_their_sizes_with_edges_of_every_weight_anywhere() -> None:
    instances = _instances("maxcut", 400)
    sizes = [len(instance.args[0]) for instance in instances]
    assert min(sizes) == 50 and max(sizes) == 200  # n uniform in 50..200, both ends drawn at this seed
    edge_share, neighbour_edges, weights = [], 0, set()
    for instance in instances:
        adjacency = instance.args[0]
        n = len(adjacency)
        assert np.array_equal(adjacency, adjacency.T) and not adjacency.diagonal().any()
        upper = adjacency[np.triu_indices(n, k=1)]
        edge_share.append(float((upper > 0).mean()))
        neighbour_edges += int((np.diagonal(adjacency, offset=1) > 0).sum())
        weights |= set(np.unique(upper[upper > 0]).tolist())
        assert instance.hidden == pytest.approx(upper.sum())  # the total edge weight, each edge once
    assert 0.38 < float(np.mean(edge_share)) < 0.42  # each pair joined with probability 0.4
    assert neighbour_edges > 0.3 * sum(n - 1 for n in sizes)  # pairs (i, i+1) are pairs like any other
    assert weights == {float(w) for w in range(1, 11)}  # integer weights 1..10


def test_str_grid_dist_strings_span_their_lengths_and_both_letters() -> None:
    instances = _instances("str_grid_dist", 600)
    grid_dist = builtin_task("str_grid_dist").scorer.score.__globals__["grid_dist"]
    lengths = {len(instance.args[0]) for instance in instances}
    assert lengths == set(range(1, 31))  # L uniform in 1..30
    hidden = [instance.hidden for instance in instances]
    targets = [instance.args[0] for instance in instances]
    for (t, dist), s in zip((instance.args for instance in instances), hidden, strict=True):
        assert len(s) == len(t) and set(s) | set(t) <= {"A", "B"}
        assert dist == grid_dist(s, t)  # the distance of the hidden string, not of some other
    for strings in (hidden, targets):
        letters = "".join(strings)
        assert 0.45 < letters.count("A") / len(letters) < 0.55  # each letter uniform over "AB"
    assert sum(s != t for s, t in zip(hidden, targets, strict=True)) > 0.9 * len(instances)


def test_three_sat_formulas_span_their_sizes_and_the_planted_assignment_satisfies_them() -> None:
    """n uniform in 5..50 (both ends drawn at this seed), 4n clauses of three distinct variables of
    1..n with random signs, every clause satisfied by the hidden planted assignment."""
    instances = _instances("three_sat", 200)
    sizes, positive = [], 0
    for instance in instances:
        literals = np.asarray(instance.args[0])
        n = len(literals) // 4
        sizes.append(n)
        assert literals.shape == (4 * n, 3) and np.array_equal(literals, instance.hidden["literals"])
        variables = np.abs(literals)
        assert variables.min() >= 1 and variables.max() <= n
        assert (np.sort(variables, axis=1)[:, 1:] != np.sort(variables, axis=1)[:, :-1]).all()
        planted = instance.hidden["planted"]
        assert (planted[variables] == (literals > 0)).any(axis=1).all()
        positive += int((literals > 0).sum())
    assert min(sizes) == 5 and max(sizes) == 50
    assert 0.45 < positive / (12 * sum(sizes)) < 0.55


_SUBSETS = ((np.arange(1024)[:, None] >> np.arange(10)) & 1).T  # every subset of the 10 bits, a column each


def _parity_draws(name: str, protocol: str, count: int) -> tuple[np.ndarray, float, int]:
    """Over `count` instances: each bit's share of being relevant, the share of training labels that
    differ from the true parity (the flips), and how many instances had no single subset of bits
    explaining their test labels. The test labels (kept in the host) are never flipped, so the relevant
    bits are the one subset whose parities give all 20 of them (20 random samples almost always pin
    the 10 bits down)."""
    task = builtin_task(name, protocol)
    relevant, flipped, unexplained, counted = np.zeros(10), 0, 0, 0
    for instance in task.scorer.instances("val", SEED, count):
        train, train_labels, test = (np.asarray(part) for part in instance.args)
        hidden = np.asarray(instance.hidden).reshape(-1)
        [explaining] = np.nonzero(((test @ _SUBSETS) % 2 == hidden[:, None]).all(axis=0))
        if len(explaining) != 1:
            unexplained += 1
            continue
        bits = _SUBSETS[:, explaining[0]]
        relevant += bits
        flipped += int(((train @ bits) % 2 != np.asarray(train_labels)).sum())
        counted += 1
    return relevant / counted, flipped / (100 * counted), unexplained


@pytest.mark.parametrize("protocol", ["strict", "paper"])
@pytest.mark.parametrize(("name", "noise"), [("parity_noiseless", 0.0), ("parity_noise", 0.05)])
def test_parity_labels_come_from_a_random_subset_of_bits_flipped_at_the_noise_rate(
    name: str, noise: float, protocol: str
) -> None:
    """Each bit is relevant with probability 0.3, training labels are flipped with the task's noise
    rate, and the test labels are the true parities: over 200 instances (2000 bits, 20 000 labels) a
    correct generator stays within a few standard deviations of these rates."""
    share, flipped, unexplained = _parity_draws(name, protocol, 200)
    assert unexplained <= 4  # a subset always explains them; rarely more than one does
    assert 0.25 < float(share.mean()) < 0.35 and (share > 0.15).all()  # no bit left out
    assert abs(flipped - noise) < 0.01
