# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import random


def algorithm(adjacency_matrix):
    """A fixed pseudo-random partition: the chance baseline (about half the weight is cut)."""
    rng = random.Random(1)
    return [rng.randint(0, 1) for _ in range(len(adjacency_matrix))]
