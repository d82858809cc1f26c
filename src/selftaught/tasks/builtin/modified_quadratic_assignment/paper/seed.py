from copy import deepcopy
from random import randint, random

import numpy as np


def algorithm(F, D, P):
    """Simulated annealing over random pairwise swaps: 1000 steps, temperature 1.0 times 0.99 a step.

    Each step copies the current assignment, swaps two distinct random positions, and recomputes
    both objectives in full; a move is taken if it lowers the objective or with the Metropolis
    probability; the lowest objective seen is returned.
    """
    n = len(F)
    weight = 0.5

    def objective(a):
        value = sum(F[i, j] * D[a[i], a[j]] for i in range(n) for j in range(n))
        return value - weight * sum(P[i, a[i]] for i in range(n))

    def swap_two(a):
        i, j = randint(0, n - 1), randint(0, n - 1)
        while i == j:
            j = randint(0, n - 1)
        a[i], a[j] = a[j], a[i]

    current = list(range(n))
    best = deepcopy(current)
    best_value = objective(current)
    temperature = 1.0
    for _ in range(1000):
        temperature *= 0.99
        if temperature == 0:
            break
        candidate = deepcopy(current)
        swap_two(candidate)
        candidate_value = objective(candidate)
        delta = candidate_value - objective(current)
        if delta < 0 or random() < np.exp(-delta / temperature):
            current = candidate
            if candidate_value < best_value:
                best = deepcopy(current)
                best_value = candidate_value
    return best
