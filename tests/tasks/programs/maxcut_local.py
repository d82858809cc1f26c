# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import random

import numpy as np


def algorithm(adjacency_matrix):
    """Single-flip local search from a random partition, best improving flip first."""
    A = np.asarray(adjacency_matrix, dtype=float)
    n = len(A)
    rng = random.Random(0)
    s = np.array([1.0 if rng.random() < 0.5 else -1.0 for _ in range(n)])
    field = A @ s
    for _ in range(10 * n):
        gain = s * field  # cut increase if node i switches sides
        i = int(np.argmax(gain))
        if gain[i] <= 0:
            break
        s[i] = -s[i]
        field += 2 * s[i] * A[:, i]
    return ((s + 1) // 2).astype(int).tolist()
