"""Hidden scorer of maxcut (weighted Max-Cut), run in the host only.

Instance i comes from seed + i: n nodes with n uniform in 50..200, each pair joined with probability
0.4 by an edge of integer weight 1..10; the program gets the symmetric float adjacency matrix.
Score: the weight of the edges cut by the partition divided by the total edge weight, in [0, 1]
(a random partition scores about 0.5). The original divided by 10 times the number of tests, which is
not in [0, 1]. The partition must be exactly n values, each 0 or 1 (bools accepted).
"""

import numpy as np

from selftaught.tasks import Instance, binary_vector

MIN_NODES = 50
MAX_NODES = 200
P_EDGE = 0.4
MAX_WEIGHT = 10
_DRAW_RANGE = round(MAX_WEIGHT / P_EDGE)  # 25: values below MAX_WEIGHT are edges


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


# Pairs (i, j) with i < j. The top-left n x n block of this mask is np.triu(ones((n, n)), k=1), so one
# mask serves every n and generation does not rebuild a triangle per instance.
_UPPER = np.triu(np.ones((MAX_NODES, MAX_NODES), dtype=bool), k=1)


def _instance(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_NODES, MAX_NODES + 1))
    # One byte per pair: a value v < 10 (probability 10 / 25 = P_EDGE) is an edge of weight v + 1,
    # uniform on 1..MAX_WEIGHT; one draw instead of two keeps generation cheap. The in-place uint8 ops
    # below give exactly the matrices of the first version (np.triu over np.where), at half the CPU.
    draws = rng.integers(0, _DRAW_RANGE, size=(n, n), dtype=np.uint8)
    edge = draws < MAX_WEIGHT
    edge &= _UPPER[:n, :n]
    draws += 1
    upper = draws * edge
    adjacency = np.add(upper, upper.T, dtype=np.float64)
    return Instance(args=[adjacency], hidden=float(upper.sum()))


def score(instance, output):
    (adjacency,) = instance.args
    total = instance.hidden
    side = binary_vector(output, len(adjacency), "partition")
    crossing = side[:, None] != side[None, :]
    cut = adjacency[crossing].sum() / 2.0
    return float(min(1.0, cut / total)) if total else 1.0  # no edges: nothing to cut, a perfect cut
