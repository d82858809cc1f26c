# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import random
import time

import numpy as np


def algorithm(F, D, P):
    """Steepest-descent pairwise swaps from random starts until 200 ms of CPU are spent (CPU, not wall: the same work however busy the machine); best found."""
    deadline = time.process_time() + 0.2
    n = len(F)
    rng = random.Random(0)
    I, J = np.triu_indices(n, k=1)
    rows = np.arange(len(I))

    def costs(assignments):
        permuted = D[assignments[:, :, None], assignments[:, None, :]]
        return (permuted * F).sum(axis=(1, 2)) - 0.5 * P[np.arange(n), assignments].sum(axis=1)

    best, best_cost = np.arange(n), np.inf
    while time.process_time() < deadline:
        current = np.array(rng.sample(range(n), n))
        current_cost = costs(current[None, :])[0]
        while True:
            neighbours = np.repeat(current[None, :], len(I), axis=0)
            neighbours[rows, I], neighbours[rows, J] = current[J], current[I]
            c = costs(neighbours)
            k = int(np.argmin(c))
            if c[k] >= current_cost - 1e-12:
                break
            current, current_cost = neighbours[k], c[k]
        if current_cost < best_cost:
            best, best_cost = current, current_cost
    return best.tolist()
