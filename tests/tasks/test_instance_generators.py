"""The built-in generators draw the instances their scorers' docstrings promise.

A generator that drifts (a narrower size range, no edges between neighbouring nodes, a hidden string that
never varies) still produces instances every scorer accepts, so only tests of the distribution notice. The
seeds are fixed, so every figure below is exact for this code; the bounds are the documented ranges and
frequencies with slack a correct generator never comes near over these sample sizes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pytest

from selftaught.tasks import builtin_task
from selftaught.tasks.evaluation import SCORING_VERSION

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


def _canonical(value: Any) -> Any:
    """A JSON-able form that keeps dtypes and shapes (two instances with equal numbers but different
    types are different instances)."""
    if isinstance(value, np.ndarray):
        return ["ndarray", str(value.dtype), list(value.shape), value.tolist()]
    if isinstance(value, np.generic):
        return [type(value).__name__, value.item()]
    if isinstance(value, dict):
        return {"dict": [[key, _canonical(item)] for key, item in sorted(value.items())]}
    if isinstance(value, list | tuple):
        return [type(value).__name__, [_canonical(item) for item in value]]
    if isinstance(value, float):
        return ["float", repr(value)]
    return value


# sha256 of the first three validation instances at SEED (args and hidden part), under SCORING_VERSION 4
SEED_INSTANCES = {
    ("parity_noise", "strict"): "30b30fc81f7d3becbd50817b73f1c494ca51a9ddbe2a410099bdc6a2daedbfd1",
    ("parity_noise", "paper"): "961b43bf9fee8efa3b9cc1ff1b66729f1ff3d7f814bbc73495a9f7f7c5b0d370",
    ("parity_noiseless", "strict"): "bc41d2affcbc9f94a9019f486ddc4a91d9e8648216b6e39afc470b557d9ed0ce",
    ("parity_noiseless", "paper"): "99a69a6c30249276d61cf9f3a7c59e8a4f8bafe9ec1b07c0098e0493d701c79e",
    ("three_sat", "strict"): "4eb17ae1de99a1092a3b2c1bd8d7f7a501885eed13981c133158cb00788a974c",
    ("three_sat", "paper"): "20a03d535f844fc41855b645e38d613501b247e813ec3fa43e1ce237380e1316",
    ("maxcut", "strict"): "43733a39969e7412c74d75a8ab84c9b1e25e8c71585a7531468926aa08493304",
    ("maxcut", "paper"): "e7be3a307c4897ae5c27645bfccea053c0641964d0e669b8b2c02ad132738d57",
    (
        "modified_quadratic_assignment",
        "strict",
    ): "8e678cb5126a4cf2cd48d233c64252a1012ea1ab52ef8f7e519e550166216510",
    (
        "modified_quadratic_assignment",
        "paper",
    ): "0ec1201e48eddebc1245d2aa5a3b243817b2588ef6cab29ecbf83fe49e29fc1c",
    ("str_grid_dist", "strict"): "9df938dbae2293e47cb604da213301328f0dc86a413f17b15cda7cc6f8970b42",
    ("str_grid_dist", "paper"): "71105ee277c54fad92e41f23ef7ae4d220e280db98e53c3ffa46ea8ad1f78dc7",
    ("circle_packing", "strict"): "d0714b28b9e99d2cb1b8bcdb8ff8b27a432f098a505c49908dcd888c3af0ef9a",
    ("bin_packing", "strict"): "2f3193262c1820de4b2d28d786031a33ee46caac15df48f18d7f403f074ef139",
}


@pytest.mark.parametrize(("name", "protocol"), sorted(SEED_INSTANCES))
def test_a_seed_gives_the_instances_of_this_scoring_version(name: str, protocol: str) -> None:
    """Stored runs are resumed only under the same SCORING_VERSION, so a seed's instances are part of
    it: a generator that draws differently (another oversampling, signs drawn the other way round, a
    numpy release that changes a stream) changes every validation score, and must come with a new
    SCORING_VERSION and new digests here. Distribution tests (above) cannot see such a change."""
    assert (
        hashlib.sha256(_seed_instances(name, protocol).encode()).hexdigest() == SEED_INSTANCES[name, protocol]
    )
    assert SCORING_VERSION == 4


def _seed_instances(name: str, protocol: str) -> str:
    """The first three validation instances at SEED, (args, hidden) each, as canonical JSON."""
    drawn = builtin_task(name, protocol).scorer.instances("val", SEED, 3)
    pairs = [(item.args, item.hidden) if hasattr(item, "args") else tuple(item) for item in drawn]
    return json.dumps([[_canonical(args), _canonical(hidden)] for args, hidden in pairs], sort_keys=True)
