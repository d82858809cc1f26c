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
