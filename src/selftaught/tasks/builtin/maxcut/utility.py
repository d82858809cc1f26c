import random

import numpy as np


def utility(algorithm_str: str) -> float:
    """Weighted Max-Cut. Returns the mean over 100 graphs of cut weight / total edge weight, in [0, 1].

    Your code must define `algorithm(adjacency_matrix)`: a symmetric n x n numpy float array (zero
    diagonal; 0 means no edge). Return the partition: exactly n values, each 0 or 1 (bools accepted),
    as a list or 1-D array. Any other length, value or shape is invalid.
    A random partition scores about 0.5. The algorithm must be fast: each call may take at most
    100 milliseconds (wall clock, measured outside your process; your code runs in an isolated
    sandbox). An instance whose call raises, times out or returns an invalid partition scores 0.01;
    the other instances still count.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n_tests = 100
    total = 0.0
    for _ in range(n_tests):
        n_nodes = random.randint(50, 200)
        adjacency_matrix = np.zeros((n_nodes, n_nodes))
        for i in range(n_nodes):
            for j in range(i + 1, n_nodes):
                if random.random() < 0.4:  # edge probability
                    adjacency_matrix[i, j] = adjacency_matrix[j, i] = random.randint(1, 10)
        partition = algorithm(adjacency_matrix)
        cut_weight = sum(
            adjacency_matrix[i, j]
            for i in range(n_nodes)
            for j in range(i + 1, n_nodes)
            if partition[i] != partition[j]
        )
        total += cut_weight / (adjacency_matrix.sum() / 2)
    return total / n_tests
